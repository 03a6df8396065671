//! The mail outbox: messages enqueued with the change that causes them, sent by a job. (both backends)

macro_rules! impl_mail_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::MailStore for $store {}
    };
}
