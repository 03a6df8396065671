//! The conformance suite of the store traits: every case is written once, against
//! `&TestDb`, and runs on both backends (`sqlite::<case>` and `postgres::<case>` in each
//! module), each on a fresh, migrated database.
//!
//! PostgreSQL tests need the server named by `MITAI_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and fail when it cannot be reached.

/// Expands every case into `sqlite::<case>` and `postgres::<case>`; `concurrent` cases run
/// on a multi-threaded runtime so that their tasks really race.
macro_rules! conformance {
    (plain: [$($plain:ident),* $(,)?], concurrent: [$($concurrent:ident),* $(,)?] $(,)?) => {
        conformance!(@backend sqlite, Backend::Sqlite, [$($plain),*], [$($concurrent),*]);
        conformance!(@backend postgres, Backend::Postgres, [$($plain),*], [$($concurrent),*]);
    };
    (@backend $module:ident, $backend:expr, [$($plain:ident),*], [$($concurrent:ident),*]) => {
        mod $module {
            use super::*;
            $(
                #[tokio::test]
                async fn $plain() {
                    let db = TestDb::new($backend).await;
                    super::$plain(&db).await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $concurrent() {
                    let db = TestDb::new($backend).await;
                    super::$concurrent(&db).await;
                }
            )*
        }
    };
}

mod accounts;
mod activity;
mod billing;
mod copy;
mod coupons;
mod data;
mod hot_path;
mod jobs;
mod mail;
mod media;
mod notifications;
mod profiles;
mod registry;
mod support;
mod usage;
