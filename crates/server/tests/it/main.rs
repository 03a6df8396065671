//! The integration tests of the server, in one binary (one link instead of one per file):
//! the HTTP API and the pages through `Router::oneshot`, and the real `mitai` binary where a
//! test needs a process (signals, crashes, several instances). The browser tests are their
//! own binary (`tests/browser.rs`).

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod account_flows;
mod accounts;
mod activity_mail;
mod admin_api;
mod admin_guard;
mod admin_ui;
mod audit;
mod billing;
mod binary;
mod consume_http;
mod coupons;
mod crash;
mod csrf;
mod db_copy;
mod deletion;
mod entries;
mod export;
mod hardening;
mod hostile_forms;
mod jobs;
mod malformed_input;
mod multi_instance;
mod notifications;
mod outage;
mod photos_ai;
mod rate_limits;
mod resets;
mod ui;
