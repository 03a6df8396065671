//! Progress photos and AI results. (both backends)

macro_rules! impl_media_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::MediaStore for $store {}
    };
}
