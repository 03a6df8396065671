//! Service functions: what a request does, between the handler and the store.
//! Decisions come from `mitai_access`; atomic enforcement from `mitai_store`.

pub mod access;
pub mod accounts;
pub mod activity_log;
pub mod admin;
pub mod ai;
pub mod ai_data;
pub mod coupons;
pub mod entries;
pub mod export;
pub mod grants;
pub mod health;
pub mod invitations;
pub mod jobs;
pub mod mail;
pub mod paging;
pub mod passwords;
pub mod patch;
pub mod photos;
pub mod profiles;
pub mod rate_limit;
pub mod reminders;
pub mod verification;

pub mod credentials;
mod error;
pub mod sessions;
mod state;

pub use error::{Error, ErrorBody, ErrorCode, ErrorDetail, Result, field};
pub use state::{AppState, Clock, Inner, RegistryCache, load_registry};
