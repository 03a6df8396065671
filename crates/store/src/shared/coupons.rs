//! Coupons, redemptions and access grants. (both backends)

macro_rules! impl_coupons_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::CouponStore for $store {}
    };
}
