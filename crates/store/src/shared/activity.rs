//! The activity log and per-profile statistics. (both backends)

macro_rules! impl_activity_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::ActivityStore for $store {}
    };
}
