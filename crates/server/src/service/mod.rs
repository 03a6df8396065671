//! Service functions: what a request does, between the handler and the store.
//! Decisions come from `mitai_access`; atomic enforcement from `mitai_store`.

pub mod access;
pub mod accounts;
pub mod activity;
pub mod coupons;
pub mod grants;
pub mod jobs;
pub mod mail;
pub mod reminders;
