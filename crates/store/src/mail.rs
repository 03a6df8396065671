//! The mail outbox: messages enqueued with the change that causes them, sent by a job.

use async_trait::async_trait;

/// The mail outbox: messages enqueued with the change that causes them, sent by a job.
#[async_trait]
pub trait MailStore: Send + Sync {}
