//! The activity log and per-profile statistics.

use async_trait::async_trait;

/// The activity log and per-profile statistics.
#[async_trait]
pub trait ActivityStore: Send + Sync {}
