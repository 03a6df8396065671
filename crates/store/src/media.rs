//! Progress photos and AI results.

use async_trait::async_trait;

/// Progress photos and AI results.
#[async_trait]
pub trait MediaStore: Send + Sync {}
