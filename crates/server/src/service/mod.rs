//! Service functions: what a request does, between the edges (the API, the pages, the CLI,
//! the jobs) and the store — the only door to it. Decisions come from `mitai_access`; atomic
//! enforcement from `mitai_store`. Inputs are domain types (typed text, parsed entries), so
//! a rule checked for one edge is checked for all; failures are [`Error`]s with an
//! [`ErrorCode`], which each edge answers in its own way.

pub mod access;
pub mod accounts;
pub mod activity_log;
pub mod admin;
pub mod ai;
pub mod ai_data;
pub mod billing;
pub mod coupons;
pub mod credentials;
pub mod entries;
mod error;
pub mod export;
pub mod grants;
pub mod health;
pub mod invitations;
pub mod jobs;
pub mod mail;
pub mod notifications;
pub mod paging;
pub mod passwords;
pub mod patch;
pub mod photos;
pub mod profiles;
pub mod rate_limit;
pub mod records;
pub mod reminders;
pub mod sessions;
mod state;
pub mod verification;

pub use error::{Error, ErrorBody, ErrorCode, ErrorDetail, Result, field};
pub use state::{AppState, Clock, Inner, RegistryCache, load_registry};

#[cfg(test)]
mod tests {
    /// The pages, the API and what they share name neither the store crate nor the
    /// store itself: every way to the database goes through a service function (the
    /// state's store is private to `service`, so a call would not compile either).
    #[test]
    fn the_edges_do_not_name_the_store() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut dirs = vec![root.join("ui"), root.join("api"), root.join("http")];
        let mut files = vec![root.join("app.rs")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    files.push(path);
                }
            }
        }
        assert!(files.len() > 40, "the sources were not found");
        for path in files {
            let source = std::fs::read_to_string(&path).unwrap();
            for name in ["mitai_store", ".store."] {
                assert!(
                    !source.contains(name),
                    "{} names `{name}`: go through a service function",
                    path.display()
                );
            }
        }
    }
}
