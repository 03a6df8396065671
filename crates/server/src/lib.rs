//! The `mitai` server: HTTP API, jobs, CLI. See DESIGN.md in the project's docs.

pub mod ai;
pub mod api;
pub mod auth;
pub mod cli;
pub mod client_ip;
pub mod config;
pub mod csrf;
pub mod error;
pub mod imaging;
pub mod mail;
pub mod metrics;
pub mod routes;
pub mod serve;
pub mod service;

pub mod ui;

pub use routes::app;
pub use service::AppState;
