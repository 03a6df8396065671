//! The `mitai` server. A request goes one way through the house:
//!
//! - [`app`] assembles the router and what every request passes through;
//! - [`api`] (the JSON API) and [`ui`] (the web pages) are the two edges: they parse a
//!   request, call a service function and answer its result; [`http`] holds what both share
//!   (who is signed in, the client's address, the cross-site guard, uploads, downloads);
//! - [`service`] is the only door to the store: operations, their inputs and results, and the
//!   domain errors the edges map;
//! - [`mail`], [`ai`] and [`imaging`] are the adapters the services use;
//! - [`serve`], [`config`], [`cli`] and [`metrics`] run the process.
//!
//! See `docs/architecture.md` for the map and the decisions.

pub mod ai;
pub mod api;
pub mod app;
pub mod cli;
pub mod config;
pub mod http;
pub mod imaging;
pub mod mail;
pub mod metrics;
pub mod serve;
pub mod service;
pub mod stripe;
pub mod ui;

pub use app::app;
pub use service::AppState;
