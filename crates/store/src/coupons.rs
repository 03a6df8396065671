//! Coupons, redemptions and access grants.

use async_trait::async_trait;

/// Coupons, redemptions and access grants.
#[async_trait]
pub trait CouponStore: Send + Sync {}
