//! What the two HTTP edges — the JSON API (`crate::api`) and the web pages (`crate::ui`) —
//! share: who is signed in ([`auth`]), the client's address ([`client_ip`]), the cross-site
//! guard ([`csrf`]), photo uploads ([`upload`]) and downloads ([`download`]).

pub mod auth;
pub mod client_ip;
pub mod csrf;
pub mod download;
pub mod upload;
