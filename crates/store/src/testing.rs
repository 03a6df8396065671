//! Fresh databases for tests: every test gets its own, on either backend.
//!
//! PostgreSQL tests connect to `MITAI_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`), create a database named
//! `mitai_test_<uuid>`, and drop it again when the [`TestDb`] is dropped. The database is a
//! clone of a migrated template, `mitai_test_template_<hash of the migrations>`, made once
//! by the first test that needs it (of any process: an advisory lock on the server keeps
//! others waiting) and never connected to afterwards, so a test database costs a
//! `CREATE DATABASE … TEMPLATE` instead of running every migration; [`crate::connect`]
//! still migrates the clone, which finds nothing to do. Every such database starts with
//! `mitai_test_`, the prefix `.ci/run` drops leftovers by. When PostgreSQL cannot be reached
//! the test fails; it is never skipped.
//!
//! SQLite tests get a new folder in the temp folder with a copy of a migrated template file
//! in it, and the folder is removed when the [`TestDb`] is dropped.

use std::path::PathBuf;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use sqlx::Connection;
use uuid::Uuid;

use crate::{Backend, Store};

/// The server that PostgreSQL tests create their databases on.
pub fn postgres_admin_url() -> String {
    std::env::var("MITAI_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh, migrated database that is removed when dropped.
pub struct TestDb {
    pub store: Arc<dyn Store>,
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    File(PathBuf),
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => TestDb::sqlite().await,
            Backend::Postgres => TestDb::postgres().await,
        }
    }

    /// A new SQLite file in the temp folder: a copy of the migrated template file.
    pub async fn sqlite() -> TestDb {
        let dir = std::env::temp_dir().join(format!("mitai-test-{}", Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).expect("create the test database's folder");
        std::fs::copy(sqlite_template().await, dir.join("mitai.db"))
            .expect("copy the template SQLite database");
        let url = format!("sqlite://{}", dir.join("mitai.db").display());
        let store = crate::connect(&url)
            .await
            .expect("open test SQLite database");
        TestDb {
            store,
            url,
            cleanup: Cleanup::File(dir),
        }
    }

    /// A new database on the test PostgreSQL server, cloned from the migrated template.
    pub async fn postgres() -> TestDb {
        let admin_url = postgres_admin_url();
        let name = format!("mitai_test_{}", Uuid::now_v7().simple());
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL is required for this test and could not be reached at {}: {e}",
                    crate::redact_url(&admin_url)
                )
            });
        let template = template_name();
        ensure_template(&mut admin, &admin_url, &template).await;
        let create = format!("CREATE DATABASE {name} TEMPLATE {template}");
        if let Err(e) = sqlx::query(&create).execute(&mut admin).await {
            // Dropped meanwhile (by a cleanup of `mitai_test_%` databases): made again.
            eprintln!("note: cloning {template} failed ({e}); making it again");
            ensure_template(&mut admin, &admin_url, &template).await;
            sqlx::query(&create)
                .execute(&mut admin)
                .await
                .expect("create test database");
        }
        admin.close().await.ok();
        let url = database_url(&admin_url, &name);
        let store = crate::connect(&url)
            .await
            .expect("open test PostgreSQL database");
        TestDb {
            store,
            url,
            cleanup: Cleanup::Postgres { admin_url, name },
        }
    }
}

/// A hash of a migrator's versions and checksums: a changed or added migration changes it.
fn migrations_hash(migrator: &sqlx::migrate::Migrator) -> String {
    let mut hash = Sha256::new();
    for m in migrator.iter() {
        hash.update(m.version.to_le_bytes());
        hash.update(&*m.checksum);
    }
    hash.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The template of this build's PostgreSQL schema.
fn template_name() -> String {
    format!(
        "mitai_test_template_{}",
        migrations_hash(&crate::postgres::MIGRATOR)
    )
}

/// A migrated SQLite file in the temp folder that test databases are copies of (a copy
/// takes a quarter of the time that migrating a new file does), made by the first test
/// that needs it. It is migrated under a name of its own and renamed into place when its
/// connection is closed (which checkpoints the WAL into the file), so the file found under
/// the template's name is complete; two processes making it at once both rename a complete
/// file.
async fn sqlite_template() -> PathBuf {
    let hash = migrations_hash(&crate::sqlite::MIGRATOR);
    let path = std::env::temp_dir().join(format!("mitai-test-template-{hash}.db"));
    if path.exists() {
        return path;
    }
    let building = std::env::temp_dir().join(format!(
        "mitai-test-template-{hash}-{}.db",
        Uuid::now_v7().simple()
    ));
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&building)
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .foreign_keys(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&options)
        .await
        .expect("create the template SQLite database");
    crate::sqlite::MIGRATOR
        .run(&mut conn)
        .await
        .expect("migrate the template SQLite database");
    conn.close()
        .await
        .expect("close the template SQLite database");
    std::fs::rename(&building, &path).expect("name the template SQLite database");
    path
}

async fn template_exists(admin: &mut sqlx::PgConnection, template: &str) -> bool {
    sqlx::query_scalar::<_, i64>("SELECT count(*) FROM pg_database WHERE datname = $1")
        .bind(template)
        .fetch_one(admin)
        .await
        .expect("look for the template database")
        > 0
}

/// Makes the template unless it exists. Built under a name of its own, migrated, its
/// connection closed, and only then renamed: a template that exists is complete, and
/// nothing is connected to it (`CREATE DATABASE … TEMPLATE` refuses a source in use). The
/// advisory lock (on the admin database) keeps concurrent tests, of this process or
/// another, from building it twice.
async fn ensure_template(admin: &mut sqlx::PgConnection, admin_url: &str, template: &str) {
    const LOCK: i64 = 0x6d69_7461_6974_706c; // "mitaitpl"
    if template_exists(admin, template).await {
        return;
    }
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(LOCK)
        .execute(&mut *admin)
        .await
        .expect("lock the template");
    if !template_exists(admin, template).await {
        let building = format!("mitai_test_building_{}", Uuid::now_v7().simple());
        sqlx::query(&format!("CREATE DATABASE {building}"))
            .execute(&mut *admin)
            .await
            .expect("create the template database");
        let mut conn = sqlx::PgConnection::connect(&database_url(admin_url, &building))
            .await
            .expect("connect to the template database");
        crate::postgres::MIGRATOR
            .run(&mut conn)
            .await
            .expect("migrate the template database");
        conn.close().await.expect("close the template's connection");
        sqlx::query(&format!("ALTER DATABASE {building} RENAME TO {template}"))
            .execute(&mut *admin)
            .await
            .expect("name the template database");
    }
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(LOCK)
        .execute(&mut *admin)
        .await
        .expect("unlock the template");
}

/// `admin_url` with its database name replaced by `name`.
fn database_url(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin_url, None),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let base = match base[after_scheme..].find('/') {
        Some(slash) => &base[..after_scheme + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(dir) => {
                std::fs::remove_dir_all(dir).ok();
            }
            Cleanup::Postgres { admin_url, name } => {
                let (admin_url, name) = (admin_url.clone(), name.clone());
                // Drop runs outside async; use a short-lived runtime on its own thread.
                let dropped = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    rt.block_on(async move {
                        let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
                        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut admin)
                            .await?;
                        admin.close().await
                    })
                    .map_err(std::io::Error::other)
                })
                .join();
                if !matches!(dropped, Ok(Ok(()))) {
                    eprintln!("note: could not drop test database {}", self.url);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_url_replaces_the_name() {
        assert_eq!(
            super::database_url("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            super::database_url("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(super::database_url("postgres://h", "x"), "postgres://h/x");
    }
}
