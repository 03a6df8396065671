//! Tracked data behind the feature gate: weight, circumference, caliper, nutrition and activity entries. (both backends)

macro_rules! impl_data_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::DataStore for $store {}
    };
}
