//! Tracked data behind the feature gate: weight, circumference, caliper, nutrition and activity entries.

use async_trait::async_trait;

/// Tracked data behind the feature gate: weight, circumference, caliper, nutrition and activity entries.
#[async_trait]
pub trait DataStore: Send + Sync {}
