//! A whole database copied into another of either backend (`mitai db copy`), and what
//! `mitai db check` and `mitai db backup` read.
//!
//! The copy reads the source in one read transaction, so it sees one consistent snapshot
//! and a running instance may keep serving. The target is migrated to this build's schema,
//! refused when it already holds data, and marked as incomplete ([`crate::CopyMarker`])
//! before the first row is written. Every table is then copied in dependency order, in
//! batches (PostgreSQL: `COPY … FROM STDIN`; SQLite: multi-row `INSERT`s in one
//! transaction per batch), each value going through [`Value`] and written as the store
//! writes it. At the end the row count and a checksum of every table's content, read in
//! key order, are compared on both sides; only when all agree is the mark removed.

use std::fmt::Write as _;
use std::str::FromStr;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use futures::TryStreamExt;
use futures::stream::{BoxStream, StreamExt};
use sha2::{Digest, Sha256};
use sqlx::Connection;
use sqlx::postgres::PgConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use uuid::Uuid;

use crate::sql::{Executor, Row, Target, execute_raw, query};
use crate::{Backend, CopyMarker, StoreError};

/// The type of a column, as both backends store it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Text,
    Int,
    Bool,
    Float,
    /// PostgreSQL `UUID`; SQLite hyphenated lower-case text.
    Uuid,
    /// PostgreSQL `TIMESTAMPTZ`; SQLite RFC 3339 UTC text with microseconds.
    Ts,
    /// PostgreSQL `DATE`; SQLite `YYYY-MM-DD`.
    Date,
    /// PostgreSQL `JSONB`; SQLite JSON text.
    Json,
}

/// A table as the copy sees it.
#[derive(Debug)]
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [(&'static str, Ty)],
    /// The primary key: the order in which rows are read and checksummed.
    pub key: &'static [&'static str],
    /// Rows the migrations seed (tiers, features, the matrix, settings): on the target
    /// they are replaced by the source's, and they do not make a target "hold data".
    pub seeded: bool,
    /// A column referencing this table's own key: written once all rows are in.
    pub self_ref: Option<&'static str>,
}

pub const TABLES: &[Table] = {
    use Ty::*;
    &[
        Table {
            name: "tiers",
            columns: &[
                ("id", Text),
                ("name", Text),
                ("description", Text),
                ("rank", Int),
                ("active", Bool),
                ("sort_order", Int),
                ("created_at", Ts),
                ("updated_at", Ts),
            ],
            key: &["id"],
            seeded: true,
            self_ref: None,
        },
        Table {
            name: "features",
            columns: &[
                ("id", Text),
                ("name", Text),
                ("description", Text),
                ("category", Text),
                ("kind", Text),
                ("unit", Text),
                ("reset_period", Text),
                ("default_limit", Int),
                ("active", Bool),
                ("sort_order", Int),
                ("created_at", Ts),
                ("updated_at", Ts),
            ],
            key: &["id"],
            seeded: true,
            self_ref: None,
        },
        Table {
            name: "tier_limits",
            columns: &[
                ("tier_id", Text),
                ("feature_id", Text),
                ("usage_limit", Int),
                ("updated_at", Ts),
            ],
            key: &["tier_id", "feature_id"],
            seeded: true,
            self_ref: None,
        },
        Table {
            name: "app_settings",
            columns: &[
                ("key", Text),
                ("value", Json),
                ("updated_at", Ts),
                ("updated_by", Uuid),
            ],
            key: &["key"],
            seeded: true,
            self_ref: None,
        },
        Table {
            name: "profiles",
            columns: &[
                ("id", Uuid),
                ("email", Text),
                ("email_norm", Text),
                ("password_hash", Text),
                ("name", Text),
                ("role", Text),
                ("tier", Text),
                ("trial_ends_at", Ts),
                ("email_verified", Bool),
                ("email_verify_token", Text),
                ("invited_by", Uuid),
                ("invitation_token", Text),
                ("language", Text),
                ("disabled", Bool),
                ("created_at", Ts),
                ("updated_at", Ts),
                ("name_norm", Text),
                ("height_cm", Float),
                ("birth_date", Date),
                ("sex", Text),
                ("timezone", Text),
                ("units", Text),
                ("goal_weight_kg", Float),
                ("show_rewards", Bool),
                ("kcal_target", Float),
                ("protein_target_g", Float),
                ("carbs_target_g", Float),
                ("fat_target_g", Float),
                ("reminder_days", Int),
                ("reminder_time", Text),
            ],
            key: &["id"],
            seeded: false,
            self_ref: Some("invited_by"),
        },
        // Kept by triggers as the profiles arrive, then replaced by the source's (the same).
        Table {
            name: "profile_totals",
            columns: &[("id", Int), ("total", Int), ("disabled", Int)],
            key: &["id"],
            seeded: true,
            self_ref: None,
        },
        Table {
            name: "sessions",
            columns: &[
                ("token_hash", Text),
                ("profile_id", Uuid),
                ("created_at", Ts),
                ("expires_at", Ts),
                ("last_seen_at", Ts),
                ("user_agent", Text),
            ],
            key: &["token_hash"],
            seeded: false,
            self_ref: None,
        },
        Table {
            name: "user_feature_restrictions",
            columns: &[
                ("profile_id", Uuid),
                ("feature_id", Text),
                ("usage_limit", Int),
                ("reason", Text),
                ("valid_until", Ts),
                ("created_by", Uuid),
                ("created_at", Ts),
            ],
            key: &["profile_id", "feature_id"],
            seeded: false,
            self_ref: None,
        },
        Table {
            name: "user_feature_usage",
            columns: &[
                ("profile_id", Uuid),
                ("feature_id", Text),
                ("period_start", Ts),
                ("used", Int),
                ("updated_at", Ts),
            ],
            key: &["profile_id", "feature_id", "period_start"],
            seeded: false,
            self_ref: None,
        },
        Table {
            name: "idempotency_keys",
            columns: &[
                ("profile_id", Uuid),
                ("key", Text),
                ("request_hash", Text),
                ("response_status", Int),
                ("response_body", Json),
                ("created_at", Ts),
            ],
            key: &["profile_id", "key"],
            seeded: false,
            self_ref: None,
        },
        Table {
            name: "coupons",
            columns: &[
                ("id", Uuid),
                ("code", Text),
                ("kind", Text),
                ("tier_id", Text),
                ("duration_days", Int),
                ("valid_from", Ts),
                ("valid_until", Ts),
                ("period_ends_at", Ts),
                ("max_redemptions", Int),
                ("redeemed_count", Int),
                ("active", Bool),
                ("campaign", Text),
                ("note", Text),
                ("created_by", Uuid),
                ("created_at", Ts),
                ("display_code", Text),
            ],
            key: &["id"],
            seeded: false,
            self_ref: None,
        },
        Table {
            name: "access_grants",
            columns: &[
                ("id", Uuid),
                ("profile_id", Uuid),
                ("tier_id", Text),
                ("source", Text),
                ("coupon_id", Uuid),
                ("kind", Text),
                ("starts_at", Ts),
                ("ends_at", Ts),
                ("duration_seconds", Int),
                ("created_by", Uuid),
                ("created_at", Ts),
                ("revoked_at", Ts),
                ("revoked_by", Uuid),
                ("status", Text),
                ("status_at", Ts),
            ],
            key: &["id"],
            seeded: false,
            self_ref: None,
        },
        Table {
            name: "grant_pauses",
            columns: &[
                ("id", Uuid),
                ("grant_id", Uuid),
                ("paused_at", Ts),
                ("paused_by", Uuid),
                ("reason", Text),
                ("resumed_at", Ts),
                ("resumed_by", Uuid),
            ],
            key: &["id"],
            seeded: false,
            self_ref: None,
        },
        Table {
            name: "coupon_redemptions",
            columns: &[
                ("id", Uuid),
                ("coupon_id", Uuid),
                ("profile_id", Uuid),
                ("access_grant_id", Uuid),
                ("redeemed_at", Ts),
                ("period_key", Text),
            ],
            key: &["id"],
            seeded: false,
            self_ref: None,
        },
        Table {
            name: "user_activity_log",
            columns: &[
                ("id", Uuid),
                ("profile_id", Uuid),
                ("actor_id", Uuid),
                ("action", Text),
                ("details", Json),
                ("ip", Text),
                ("created_at", Ts),
            ],
            key: &["id"],
            seeded: false,
            self_ref: None,
        },
        Table {
            name: "user_stats",
            columns: &[
                ("profile_id", Uuid),
                ("logins", Int),
                ("last_login_at", Ts),
                ("last_active_at", Ts),
                ("feature_totals", Json),
                ("redemptions", Int),
                ("updated_at", Ts),
            ],
            key: &["profile_id"],
            seeded: false,
            self_ref: None,
        },
        Table {
            name: "mail_outbox",
            columns: &[
                ("id", Uuid),
                ("recipient", Text),
                ("template", Text),
                ("language", Text),
                ("data", Json),
                ("status", Text),
                ("attempts", Int),
                ("next_attempt_at", Ts),
                ("last_error", Text),
                ("created_at", Ts),
                ("sent_at", Ts),
            ],
            key: &["id"],
            seeded: false,
            self_ref: None,
        },
        Table {
            name: "rate_limits",
            columns: &[("bucket", Text), ("window_start", Ts), ("hits", Int)],
            key: &["bucket", "window_start"],
            seeded: false,
            self_ref: None,
        },
        Table {
            name: "job_marks",
            columns: &[
                ("kind", Text),
                ("subject_id", Uuid),
                ("due_key", Text),
                ("done_at", Ts),
            ],
            key: &["kind", "subject_id", "due_key"],
            seeded: false,
            self_ref: None,
        },
        Table {
            name: "account_tokens",
            columns: &[
                ("token_hash", Text),
                ("kind", Text),
                ("profile_id", Uuid),
                ("created_at", Ts),
                ("expires_at", Ts),
                ("used_at", Ts),
            ],
            key: &["token_hash"],
            seeded: false,
            self_ref: None,
        },
        Table {
            name: "invitations",
            columns: &[
                ("id", Uuid),
                ("token_hash", Text),
                ("email", Text),
                ("email_norm", Text),
                ("invited_by", Uuid),
                ("created_at", Ts),
                ("expires_at", Ts),
                ("used_at", Ts),
                ("used_by", Uuid),
            ],
            key: &["id"],
            seeded: false,
            self_ref: None,
        },
        Table {
            name: "weight_entries",
            columns: &[
                ("id", Uuid),
                ("profile_id", Uuid),
                ("entry_date", Date),
                ("note", Text),
                ("revision", Int),
                ("created_at", Ts),
                ("updated_at", Ts),
                ("weight_kg", Float),
            ],
            key: &["id"],
            seeded: false,
            self_ref: None,
        },
        Table {
            name: "circumference_entries",
            columns: &[
                ("id", Uuid),
                ("profile_id", Uuid),
                ("entry_date", Date),
                ("note", Text),
                ("revision", Int),
                ("created_at", Ts),
                ("updated_at", Ts),
                ("neck_cm", Float),
                ("chest_cm", Float),
                ("waist_cm", Float),
                ("hip_cm", Float),
                ("thigh_cm", Float),
                ("arm_cm", Float),
                ("calf_cm", Float),
            ],
            key: &["id"],
            seeded: false,
            self_ref: None,
        },
        Table {
            name: "caliper_entries",
            columns: &[
                ("id", Uuid),
                ("profile_id", Uuid),
                ("entry_date", Date),
                ("note", Text),
                ("revision", Int),
                ("created_at", Ts),
                ("updated_at", Ts),
                ("method", Text),
                ("sex", Text),
                ("age", Int),
                ("chest_mm", Float),
                ("midaxillary_mm", Float),
                ("triceps_mm", Float),
                ("subscapular_mm", Float),
                ("abdomen_mm", Float),
                ("suprailiac_mm", Float),
                ("thigh_mm", Float),
                ("body_density", Float),
                ("body_fat_pct", Float),
            ],
            key: &["id"],
            seeded: false,
            self_ref: None,
        },
        Table {
            name: "nutrition_entries",
            columns: &[
                ("id", Uuid),
                ("profile_id", Uuid),
                ("entry_date", Date),
                ("note", Text),
                ("revision", Int),
                ("created_at", Ts),
                ("updated_at", Ts),
                ("kcal", Float),
                ("protein_g", Float),
                ("carbs_g", Float),
                ("fat_g", Float),
            ],
            key: &["id"],
            seeded: false,
            self_ref: None,
        },
        Table {
            name: "activity_entries",
            columns: &[
                ("id", Uuid),
                ("profile_id", Uuid),
                ("entry_date", Date),
                ("note", Text),
                ("revision", Int),
                ("created_at", Ts),
                ("updated_at", Ts),
                ("kind", Text),
                ("minutes", Int),
                ("kcal", Float),
            ],
            key: &["id"],
            seeded: false,
            self_ref: None,
        },
        Table {
            name: "photos",
            columns: &[
                ("id", Uuid),
                ("profile_id", Uuid),
                ("content_type", Text),
                ("width", Int),
                ("height", Int),
                ("bytes", Int),
                ("sha256", Text),
                ("taken_on", Date),
                ("note", Text),
                ("created_at", Ts),
            ],
            key: &["id"],
            seeded: false,
            self_ref: None,
        },
        Table {
            name: "ai_results",
            columns: &[
                ("id", Uuid),
                ("profile_id", Uuid),
                ("kind", Text),
                ("question", Text),
                ("answer", Text),
                ("model", Text),
                ("steps", Json),
                ("created_at", Ts),
            ],
            key: &["id"],
            seeded: false,
            self_ref: None,
        },
        Table {
            name: "notifications",
            columns: &[
                ("id", Uuid),
                ("event", Text),
                ("subject", Text),
                ("data", Json),
                ("link", Text),
                ("count", Int),
                ("first_at", Ts),
                ("last_at", Ts),
                ("open", Bool),
            ],
            key: &["id"],
            seeded: false,
            self_ref: None,
        },
        Table {
            name: "notification_reads",
            columns: &[
                ("notification_id", Uuid),
                ("admin_id", Uuid),
                ("read_at", Ts),
            ],
            key: &["notification_id", "admin_id"],
            seeded: false,
            self_ref: None,
        },
        Table {
            name: "notification_preferences",
            columns: &[("admin_id", Uuid), ("event", Text), ("mode", Text)],
            key: &["admin_id", "event"],
            seeded: false,
            self_ref: None,
        },
        Table {
            name: "activity_daily",
            columns: &[
                ("profile_id", Uuid),
                ("day", Text),
                ("feature_id", Text),
                ("uses", Int),
                ("amount", Int),
            ],
            key: &["profile_id", "day", "feature_id"],
            seeded: false,
            self_ref: None,
        },
        Table {
            name: "usage_days",
            columns: &[
                ("day", Text),
                ("feature_id", Text),
                ("uses", Int),
                ("amount", Int),
                ("limit_reached", Int),
            ],
            key: &["day", "feature_id"],
            seeded: false,
            self_ref: None,
        },
        Table {
            name: "rollup_marks",
            columns: &[("name", Text), ("through_id", Uuid), ("updated_at", Ts)],
            key: &["name"],
            seeded: false,
            self_ref: None,
        },
        Table {
            name: "active_counts",
            columns: &[
                ("id", Int),
                ("counted_at", Ts),
                ("last_1_day", Int),
                ("last_7_days", Int),
                ("last_30_days", Int),
            ],
            key: &["id"],
            seeded: false,
            self_ref: None,
        },
        Table {
            name: "notification_webhooks",
            columns: &[
                ("id", Uuid),
                ("url", Text),
                ("events", Json),
                ("format", Text),
                ("secret", Text),
                ("language", Text),
                ("created_by", Uuid),
                ("created_at", Ts),
            ],
            key: &["id"],
            seeded: false,
            self_ref: None,
        },
        Table {
            name: "notification_deliveries",
            columns: &[
                ("id", Uuid),
                ("notification_id", Uuid),
                ("webhook_id", Uuid),
                ("status", Text),
                ("attempts", Int),
                ("next_attempt_at", Ts),
                ("last_error", Text),
                ("created_at", Ts),
                ("sent_at", Ts),
            ],
            key: &["id"],
            seeded: false,
            self_ref: None,
        },
        Table {
            name: "billing_prices",
            columns: &[
                ("id", Uuid),
                ("stripe_price_id", Text),
                ("tier_id", Text),
                ("kind", Text),
                ("interval", Text),
                ("interval_count", Int),
                ("days", Int),
                ("amount", Int),
                ("currency", Text),
                ("label", Text),
                ("active", Bool),
                ("sort_order", Int),
                ("created_at", Ts),
            ],
            key: &["id"],
            seeded: false,
            self_ref: None,
        },
        Table {
            name: "billing_customers",
            columns: &[
                ("profile_id", Uuid),
                ("stripe_customer_id", Text),
                ("created_at", Ts),
            ],
            key: &["profile_id"],
            seeded: false,
            self_ref: None,
        },
        Table {
            name: "billing_subscriptions",
            columns: &[
                ("id", Text),
                ("profile_id", Uuid),
                ("stripe_price_id", Text),
                ("tier_id", Text),
                ("status", Text),
                ("current_period_end", Ts),
                ("cancel_at_period_end", Bool),
                ("ending_mailed", Bool),
                ("ended_at", Ts),
                ("paid_from", Ts),
                ("paid_until", Ts),
                ("grant_id", Uuid),
                ("state_at", Ts),
                ("created_at", Ts),
                ("updated_at", Ts),
            ],
            key: &["id"],
            seeded: false,
            self_ref: None,
        },
        Table {
            name: "billing_payments",
            columns: &[
                ("id", Text),
                ("profile_id", Uuid),
                ("kind", Text),
                ("subscription_id", Text),
                ("stripe_price_id", Text),
                ("payment_intent", Text),
                ("amount", Int),
                ("currency", Text),
                ("status", Text),
                ("period_start", Ts),
                ("period_end", Ts),
                ("dispute", Text),
                ("grant_id", Uuid),
                ("created_at", Ts),
                ("updated_at", Ts),
            ],
            key: &["id"],
            seeded: false,
            self_ref: None,
        },
        Table {
            name: "billing_events",
            columns: &[
                ("id", Text),
                ("type", Text),
                ("payload", Json),
                ("status", Text),
                ("error", Text),
                ("attempts", Int),
                ("created_at", Ts),
                ("received_at", Ts),
                ("claimed_at", Ts),
                ("processed_at", Ts),
            ],
            key: &["id"],
            seeded: false,
            self_ref: None,
        },
    ]
};

/// Tables of the schema that are not data: the migrations' own, and the copy's mark.
pub const BOOKKEEPING_TABLES: &[&str] = &["_sqlx_migrations", "db_copy_marker"];

/// A foreign key of the PostgreSQL schema: table, constraint name, definition.
type ForeignKey = (String, String, String);

/// One value of a row, whatever the backend.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Text(String),
    Int(i64),
    Bool(bool),
    Float(f64),
    Uuid(Uuid),
    Ts(DateTime<Utc>),
    Date(NaiveDate),
    Json(serde_json::Value),
}

/// What can stop a copy (or a check, or a backup).
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("the target already holds data ({0}); add --force-empty-target to empty it and copy")]
    TargetNotEmpty(String),
    #[error(
        "the target holds an unfinished copy (from {}, started {}); add --force-empty-target \
         to empty it and copy again",
        .0.source,
        .0.started_at.format("%Y-%m-%d %H:%M:%S UTC")
    )]
    TargetUnfinished(CopyMarker),
    #[error(
        "the source is itself an unfinished copy (from {}, started {}); finish that copy first",
        .0.source,
        .0.started_at.format("%Y-%m-%d %H:%M:%S UTC")
    )]
    SourceUnfinished(CopyMarker),
    #[error(
        "the source's schema is version {found}, this mitai's is {expected}: run this \
         version's `mitai serve` on the source once (it migrates), then copy"
    )]
    SourceSchema { found: i64, expected: i64 },
    #[error("the source and the target are the same database")]
    SameDatabase,
    #[error("no SQLite database at {0}")]
    NoSuchFile(String),
    #[error("{0} is not a Mitai database (it has no migrations table)")]
    NotMitai(String),
    #[error("{0} already exists; a backup never overwrites a file")]
    BackupExists(String),
    #[error("the backup at {0} failed its integrity check: {1}")]
    BackupCorrupt(String, String),
    #[error("backups of PostgreSQL are made with pg_dump: {0}")]
    PostgresBackup(String),
    #[error("verification failed, the target differs in: {0} (the target stays marked incomplete)")]
    Mismatch(String),
    #[error("{table}.{column}: {why}")]
    Value {
        table: &'static str,
        column: &'static str,
        why: String,
    },
    #[error("{0}: {1}")]
    Table(&'static str, #[source] StoreError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for CopyError {
    fn from(e: sqlx::Error) -> Self {
        CopyError::Store(e.into())
    }
}

pub type CopyResult<T> = std::result::Result<T, CopyError>;

/// Where a copy reports how far it is (a progress bar, or plain lines).
pub trait Progress: Send {
    /// Copying `table` starts; it has `total` rows.
    fn start(&mut self, table: &str, total: u64);
    /// `done` rows of the current table are written.
    fn advance(&mut self, done: u64);
    /// The current table is copied.
    fn finish(&mut self, rows: u64, elapsed: Duration);
    /// Something else happens (migrating, verifying …).
    fn note(&mut self, what: &str);
}

/// Options of [`copy`].
#[derive(Debug, Clone)]
pub struct CopyOptions {
    /// Empty a target that holds data or an unfinished copy.
    pub force_empty_target: bool,
    /// Rows per batch.
    pub batch_rows: usize,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            force_empty_target: false,
            batch_rows: 10_000,
        }
    }
}

/// One table of a finished copy.
#[derive(Debug, Clone)]
pub struct TableCopy {
    pub table: &'static str,
    pub source_rows: u64,
    pub target_rows: u64,
    pub checksum: String,
    pub elapsed: Duration,
}

/// A finished, verified copy.
#[derive(Debug, Clone)]
pub struct CopySummary {
    pub tables: Vec<TableCopy>,
    pub elapsed: Duration,
}

impl CopySummary {
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.target_rows).sum()
    }
}

/// What `mitai db check` prints.
#[derive(Debug, Clone)]
pub struct Status {
    pub backend: Backend,
    /// The last applied migration (0: none).
    pub schema_version: i64,
    /// The version this build migrates to.
    pub build_version: i64,
    pub unfinished_copy: Option<CopyMarker>,
    /// Rows per table; `None` when the table does not exist (an older schema).
    pub counts: Vec<(&'static str, Option<u64>)>,
}

/// The schema version this build migrates `backend` to.
pub fn build_version(backend: Backend) -> i64 {
    match backend {
        Backend::Sqlite => crate::sqlite::schema_version(),
        Backend::Postgres => crate::postgres::schema_version(),
    }
}

fn backend_of(url: &str) -> CopyResult<Backend> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else {
        Err(StoreError::Corrupt(format!(
            "unsupported database URL (use sqlite://PATH or postgres://…): {}",
            crate::redact_url(url)
        ))
        .into())
    }
}

/// A raw connection to either backend. A statement that is the same on both runs through
/// the SQL layer (`&mut Conn` is an [`Executor`]); what only one backend has (PostgreSQL's
/// `COPY`, SQLite's pragmas) matches on it.
enum Conn {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

impl<'e> Executor<'e> for &'e mut Conn {
    fn target(self) -> Target<'e> {
        match self {
            Conn::Sqlite(c) => Target::Sqlite(c),
            Conn::Pg(c) => Target::Pg(c),
        }
    }
}

impl Conn {
    fn backend(&self) -> Backend {
        match self {
            Conn::Sqlite(_) => Backend::Sqlite,
            Conn::Pg(_) => Backend::Postgres,
        }
    }

    /// An existing database, opened without migrating it (SQLite: read-only).
    async fn open_existing(url: &str) -> CopyResult<Conn> {
        match backend_of(url)? {
            Backend::Postgres => Ok(Conn::Pg(PgConnection::connect(url).await?)),
            Backend::Sqlite => {
                let options = SqliteConnectOptions::from_str(url)?;
                let path = options.get_filename().to_owned();
                if !path.exists() {
                    return Err(CopyError::NoSuchFile(path.display().to_string()));
                }
                // Not read-only: a read-only connection cannot open a WAL database whose
                // -shm file is gone (after the server stopped). Only reads are run.
                let options = options
                    .create_if_missing(false)
                    .busy_timeout(Duration::from_secs(10));
                Ok(Conn::Sqlite(
                    SqliteConnection::connect_with(&options).await?,
                ))
            }
        }
    }

    /// A database migrated to this build's schema, opened for writing.
    async fn open_migrated(url: &str) -> CopyResult<Conn> {
        crate::connect(url).await?;
        match backend_of(url)? {
            Backend::Postgres => Ok(Conn::Pg(PgConnection::connect(url).await?)),
            Backend::Sqlite => {
                let options = SqliteConnectOptions::from_str(url)?
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(10));
                Ok(Conn::Sqlite(
                    SqliteConnection::connect_with(&options).await?,
                ))
            }
        }
    }

    async fn execute(&mut self, sql: &str) -> CopyResult<()> {
        execute_raw(sql, self).await?;
        Ok(())
    }

    async fn scalar_i64(&mut self, sql: &str) -> CopyResult<i64> {
        Ok(query(sql).fetch_one(self).await?.get(0)?)
    }

    async fn table_exists(&mut self, table: &str) -> CopyResult<bool> {
        let sql = match self {
            Conn::Sqlite(_) => {
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $1"
            }
            Conn::Pg(_) => {
                "SELECT count(*) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = $1"
            }
        };
        let n: i64 = query(sql).bind(table).fetch_one(self).await?.get(0)?;
        Ok(n > 0)
    }

    /// The last applied migration; `None` when there is no migrations table.
    async fn schema_version(&mut self) -> CopyResult<Option<i64>> {
        if !self.table_exists("_sqlx_migrations").await? {
            return Ok(None);
        }
        let sql = match self {
            Conn::Sqlite(_) => {
                "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success = 1"
            }
            Conn::Pg(_) => "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success",
        };
        Ok(Some(self.scalar_i64(sql).await?))
    }

    async fn marker(&mut self) -> CopyResult<Option<CopyMarker>> {
        if !self.table_exists("db_copy_marker").await? {
            return Ok(None);
        }
        let row = query("SELECT source, started_at FROM db_copy_marker")
            .fetch_optional(self)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(CopyMarker {
            source: row.get("source")?,
            started_at: row
                .get("started_at")
                .map_err(|e| value_error("db_copy_marker", "started_at", e))?,
        }))
    }

    async fn set_marker(&mut self, source: &str, now: DateTime<Utc>) -> CopyResult<()> {
        query(
            "INSERT INTO db_copy_marker (id, source, started_at) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO UPDATE SET source = excluded.source, \
             started_at = excluded.started_at",
        )
        .bind(source)
        .bind(now)
        .execute(self)
        .await?;
        Ok(())
    }

    /// PostgreSQL: the foreign keys of the schema, as `(table, name, definition)`.
    async fn foreign_keys(&mut self) -> CopyResult<Vec<ForeignKey>> {
        let Conn::Pg(c) = self else {
            return Ok(Vec::new());
        };
        Ok(sqlx::query_as(
            "SELECT c.conrelid::regclass::text, c.conname::text, pg_get_constraintdef(c.oid) \
             FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace \
             WHERE c.contype = 'f' AND n.nspname = current_schema() \
             ORDER BY 1, 2",
        )
        .fetch_all(c)
        .await?)
    }

    /// The foreign keys an earlier, interrupted copy dropped and did not restore.
    async fn pending_foreign_keys(&mut self) -> CopyResult<Vec<ForeignKey>> {
        let row = query("SELECT constraints FROM db_copy_marker")
            .fetch_optional(self)
            .await?;
        let json: Option<String> = row.map(|row| row.get(0)).transpose()?;
        match json {
            None => Ok(Vec::new()),
            Some(json) => serde_json::from_str(&json).map_err(|e| CopyError::Value {
                table: "db_copy_marker",
                column: "constraints",
                why: e.to_string(),
            }),
        }
    }

    async fn save_pending_foreign_keys(&mut self, keys: &[ForeignKey]) -> CopyResult<()> {
        let json = serde_json::to_string(keys).unwrap_or_else(|_| "[]".into());
        query("UPDATE db_copy_marker SET constraints = $1")
            .bind(&json)
            .execute(self)
            .await?;
        Ok(())
    }

    /// Switches foreign-key enforcement off for the load: PostgreSQL drops the constraints
    /// (their definitions are kept in the marker first), SQLite turns the check off for
    /// this connection. Returns what [`Conn::restore_foreign_keys`] puts back.
    async fn suspend_foreign_keys(&mut self) -> CopyResult<Vec<ForeignKey>> {
        match self {
            Conn::Sqlite(_) => {
                self.execute("PRAGMA foreign_keys = OFF").await?;
                Ok(Vec::new())
            }
            Conn::Pg(_) => {
                let mut keys = self.pending_foreign_keys().await?;
                for key in self.foreign_keys().await? {
                    if !keys.contains(&key) {
                        keys.push(key);
                    }
                }
                self.save_pending_foreign_keys(&keys).await?;
                for (table, name, _) in &keys {
                    self.execute(&format!(
                        "ALTER TABLE {table} DROP CONSTRAINT IF EXISTS \"{name}\""
                    ))
                    .await?;
                }
                Ok(keys)
            }
        }
    }

    /// Enforces the foreign keys again, checking every row: PostgreSQL adds the dropped
    /// constraints back (each validated in one pass), SQLite runs `foreign_key_check`.
    async fn restore_foreign_keys(&mut self, keys: &[ForeignKey]) -> CopyResult<()> {
        match self {
            Conn::Sqlite(c) => {
                let broken: Vec<(String,)> =
                    sqlx::query_as("SELECT DISTINCT \"table\" FROM pragma_foreign_key_check")
                        .fetch_all(&mut *c)
                        .await?;
                if !broken.is_empty() {
                    let tables: Vec<String> = broken.into_iter().map(|(t,)| t).collect();
                    return Err(CopyError::Mismatch(format!(
                        "rows without the row they reference in {}",
                        tables.join(", ")
                    )));
                }
                self.execute("PRAGMA foreign_keys = ON").await
            }
            Conn::Pg(_) => {
                let existing = self.foreign_keys().await?;
                let mut by_table: Vec<(&str, Vec<String>)> = Vec::new();
                for (table, name, definition) in keys {
                    if existing.iter().any(|(t, n, _)| t == table && n == name) {
                        continue;
                    }
                    let add = format!("ADD CONSTRAINT \"{name}\" {definition}");
                    match by_table.iter_mut().find(|(t, _)| t == table) {
                        Some((_, adds)) => adds.push(add),
                        None => by_table.push((table, vec![add])),
                    }
                }
                for (table, adds) in by_table {
                    self.execute(&format!("ALTER TABLE {table} {}", adds.join(", ")))
                        .await?;
                }
                self.save_pending_foreign_keys(&[]).await
            }
        }
    }

    async fn count(&mut self, table: &Table) -> CopyResult<u64> {
        let n = self
            .scalar_i64(&format!("SELECT count(*) FROM {}", table.name))
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn has_rows(&mut self, table: &Table) -> CopyResult<bool> {
        let n = self
            .scalar_i64(&format!(
                "SELECT count(*) FROM (SELECT 1 FROM {} LIMIT 1) AS t",
                table.name
            ))
            .await?;
        Ok(n > 0)
    }

    /// Removes every row of every table, children first.
    async fn empty_all(&mut self, tables: &[&Table]) -> CopyResult<()> {
        match self {
            Conn::Pg(_) => {
                let names: Vec<&str> = tables.iter().map(|t| t.name).collect();
                self.execute(&format!("TRUNCATE {}", names.join(", ")))
                    .await
            }
            Conn::Sqlite(_) => {
                let mut sql = String::from("BEGIN IMMEDIATE;");
                for t in tables.iter().rev() {
                    let _ = write!(sql, "DELETE FROM {};", t.name);
                }
                sql.push_str("COMMIT;");
                self.execute(&sql).await
            }
        }
    }

    /// The rows of `table` in key order, decoded.
    fn rows<'a>(
        &'a mut self,
        table: &'static Table,
        sql: &'a str,
    ) -> BoxStream<'a, CopyResult<Vec<Value>>> {
        query(sql)
            .fetch(self)
            .map(move |row| decode(table, &row?))
            .boxed()
    }

    /// Writes `rows` of `table`; the self-referencing column is left NULL.
    async fn write(&mut self, table: &Table, rows: &[Vec<Value>]) -> CopyResult<()> {
        let skip = table
            .self_ref
            .and_then(|c| table.columns.iter().position(|(n, _)| *n == c));
        let columns = column_list(table);
        match self {
            Conn::Pg(c) => {
                let mut buf = String::with_capacity(rows.len() * 16 * table.columns.len());
                for row in rows {
                    for (i, v) in row.iter().enumerate() {
                        if i > 0 {
                            buf.push('\t');
                        }
                        if Some(i) == skip {
                            buf.push_str("\\N");
                        } else {
                            copy_text(v, &mut buf);
                        }
                    }
                    buf.push('\n');
                }
                let mut copy = c
                    .copy_in_raw(&format!("COPY {} ({columns}) FROM STDIN", table.name))
                    .await?;
                if let Err(e) = copy.send(buf.into_bytes()).await {
                    let _ = copy.abort(e.to_string()).await;
                    return Err(e.into());
                }
                copy.finish().await?;
            }
            Conn::Sqlite(c) => {
                let per_statement = (30_000 / table.columns.len()).clamp(1, 500);
                let mut tx = c.begin().await?;
                for chunk in rows.chunks(per_statement) {
                    let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(format!(
                        "INSERT INTO {} ({columns}) ",
                        table.name
                    ));
                    q.push_values(chunk, |mut b, row| {
                        for (i, v) in row.iter().enumerate() {
                            if Some(i) == skip {
                                b.push_bind(None::<String>);
                                continue;
                            }
                            match v {
                                Value::Null => b.push_bind(None::<String>),
                                Value::Text(s) => b.push_bind(s.as_str()),
                                Value::Int(n) => b.push_bind(*n),
                                Value::Bool(x) => b.push_bind(*x),
                                Value::Float(x) => b.push_bind(*x),
                                Value::Uuid(u) => b.push_bind(u.hyphenated().to_string()),
                                Value::Ts(t) => b.push_bind(crate::sql::ts(*t)),
                                Value::Date(d) => b.push_bind(*d),
                                Value::Json(j) => b.push_bind(sqlx::types::Json(j)),
                            };
                        }
                    });
                    q.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// Sets the self-referencing column of the rows keyed by the first of each pair.
    async fn write_self_refs(&mut self, table: &Table, refs: &[(Uuid, Uuid)]) -> CopyResult<()> {
        let (Some(column), [key]) = (table.self_ref, table.key) else {
            return Ok(());
        };
        match self {
            Conn::Pg(c) => {
                for chunk in refs.chunks(10_000) {
                    let (ids, targets): (Vec<Uuid>, Vec<Uuid>) = chunk.iter().copied().unzip();
                    sqlx::query(&format!(
                        "UPDATE {t} SET \"{column}\" = v.r \
                         FROM unnest($1::uuid[], $2::uuid[]) AS v(k, r) WHERE {t}.\"{key}\" = v.k",
                        t = table.name
                    ))
                    .bind(ids)
                    .bind(targets)
                    .execute(&mut *c)
                    .await?;
                }
            }
            Conn::Sqlite(c) => {
                let mut tx = c.begin().await?;
                let sql = format!(
                    "UPDATE {} SET \"{column}\" = $1 WHERE \"{key}\" = $2",
                    table.name
                );
                for (id, target) in refs {
                    sqlx::query(&sql)
                        .bind(target.hyphenated().to_string())
                        .bind(id.hyphenated().to_string())
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// Row count and checksum of `table`, read in key order.
    async fn checksum(&mut self, table: &'static Table) -> CopyResult<(u64, String)> {
        let sql = select_sql(self.backend(), table);
        let mut sum = Checksum::default();
        let mut rows = self.rows(table, &sql);
        while let Some(row) = rows.try_next().await? {
            sum.add(&row);
        }
        Ok(sum.finish())
    }
}

fn column_list(table: &Table) -> String {
    table
        .columns
        .iter()
        .map(|(n, _)| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The columns of `table` in key order. PostgreSQL orders text keys byte-wise (`COLLATE
/// "C"`) as SQLite does, and widens integers to `int8`.
fn select_sql(backend: Backend, table: &Table) -> String {
    let columns: Vec<String> = table
        .columns
        .iter()
        .map(|(n, ty)| match (backend, ty) {
            (Backend::Postgres, Ty::Int) => format!("\"{n}\"::int8"),
            _ => format!("\"{n}\""),
        })
        .collect();
    let order: Vec<String> = table
        .key
        .iter()
        .map(|k| {
            let ty = table.columns.iter().find(|(n, _)| n == k).map(|(_, t)| *t);
            match (backend, ty) {
                (Backend::Postgres, Some(Ty::Text)) => format!("\"{k}\" COLLATE \"C\""),
                _ => format!("\"{k}\""),
            }
        })
        .collect();
    format!(
        "SELECT {} FROM {} ORDER BY {}",
        columns.join(", "),
        table.name,
        order.join(", ")
    )
}

/// A value that does not read as its column's type.
fn value_error(table: &'static str, column: &'static str, e: StoreError) -> CopyError {
    let why = match e {
        StoreError::Corrupt(what) => what,
        other => other.to_string(),
    };
    CopyError::Value { table, column, why }
}

/// The values of a row of `table`, in its columns' order, decoded as [`Value`]s (SQLite's
/// ids, instants and JSON are text, parsed by the SQL layer).
fn decode(table: &'static Table, row: &Row) -> CopyResult<Vec<Value>> {
    let mut values = Vec::with_capacity(table.columns.len());
    for (i, (column, ty)) in table.columns.iter().enumerate() {
        let v = match ty {
            Ty::Text => row.get(i).map(|v: Option<_>| v.map(Value::Text)),
            Ty::Int => row.get(i).map(|v: Option<_>| v.map(Value::Int)),
            Ty::Bool => row.get(i).map(|v: Option<_>| v.map(Value::Bool)),
            Ty::Float => row.get(i).map(|v: Option<_>| v.map(Value::Float)),
            Ty::Date => row.get(i).map(|v: Option<_>| v.map(Value::Date)),
            Ty::Uuid => row.get(i).map(|v: Option<_>| v.map(Value::Uuid)),
            Ty::Ts => row.get(i).map(|v: Option<_>| v.map(Value::Ts)),
            Ty::Json => row.get(i).map(|v: Option<_>| v.map(Value::Json)),
        }
        .map_err(|e| value_error(table.name, column, e))?;
        values.push(v.unwrap_or(Value::Null));
    }
    Ok(values)
}

/// A value in PostgreSQL's `COPY` text format.
fn copy_text(v: &Value, out: &mut String) {
    fn escaped(s: &str, out: &mut String) {
        for ch in s.chars() {
            match ch {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c => out.push(c),
            }
        }
    }
    match v {
        Value::Null => out.push_str("\\N"),
        Value::Text(s) => escaped(s, out),
        Value::Int(n) => {
            let _ = write!(out, "{n}");
        }
        Value::Bool(b) => out.push(if *b { 't' } else { 'f' }),
        Value::Float(x) if x.is_nan() => out.push_str("NaN"),
        Value::Float(x) if x.is_infinite() => {
            out.push_str(if *x > 0.0 { "Infinity" } else { "-Infinity" })
        }
        // `{:?}` is the shortest text that reads back as the same f64.
        Value::Float(x) => {
            let _ = write!(out, "{x:?}");
        }
        Value::Uuid(u) => {
            let _ = write!(out, "{}", u.hyphenated());
        }
        Value::Ts(t) => {
            let _ = write!(out, "{}", t.format("%Y-%m-%dT%H:%M:%S%.6fZ"));
        }
        Value::Date(d) => {
            let _ = write!(out, "{}", d.format("%Y-%m-%d"));
        }
        Value::Json(j) => escaped(&j.to_string(), out),
    }
}

/// SHA-256 over the rows of a table in key order, each value in a canonical binary form
/// (JSON with its object keys sorted), so that both backends' copies of the same content
/// sum to the same digest.
#[derive(Default)]
struct Checksum {
    hasher: Sha256,
    rows: u64,
}

impl Checksum {
    fn add(&mut self, row: &[Value]) {
        for v in row {
            hash_value(&mut self.hasher, v);
        }
        self.rows += 1;
    }

    fn finish(self) -> (u64, String) {
        let digest = self.hasher.finalize();
        let mut hex = String::with_capacity(64);
        for b in digest {
            let _ = write!(hex, "{b:02x}");
        }
        (self.rows, hex)
    }
}

fn hash_value(h: &mut Sha256, v: &Value) {
    fn bytes(h: &mut Sha256, b: &[u8]) {
        h.update((b.len() as u64).to_le_bytes());
        h.update(b);
    }
    match v {
        Value::Null => h.update([0]),
        Value::Text(s) => {
            h.update([1]);
            bytes(h, s.as_bytes());
        }
        Value::Int(n) => {
            h.update([2]);
            h.update(n.to_le_bytes());
        }
        Value::Bool(b) => h.update([3, u8::from(*b)]),
        Value::Float(x) => {
            h.update([4]);
            h.update(x.to_bits().to_le_bytes());
        }
        Value::Uuid(u) => {
            h.update([5]);
            h.update(u.as_bytes());
        }
        Value::Ts(t) => {
            h.update([6]);
            h.update(t.timestamp_micros().to_le_bytes());
        }
        Value::Date(d) => {
            h.update([7]);
            h.update(d.format("%Y-%m-%d").to_string().as_bytes());
        }
        Value::Json(j) => {
            h.update([8]);
            let mut s = String::new();
            canonical_json(j, &mut s);
            bytes(h, s.as_bytes());
        }
    }
}

/// JSON text with object keys sorted at every level and no spaces.
fn canonical_json(v: &serde_json::Value, out: &mut String) {
    match v {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String(k.clone()).to_string());
                out.push(':');
                canonical_json(&map[k], out);
            }
            out.push('}');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Whether two URLs name the same database (the same SQLite file, or the same string).
fn same_database(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let file = |u: &str| {
        SqliteConnectOptions::from_str(u)
            .ok()
            .and_then(|o| std::fs::canonicalize(o.get_filename()).ok())
    };
    match (backend_of(a), backend_of(b)) {
        (Ok(Backend::Sqlite), Ok(Backend::Sqlite)) => {
            matches!((file(a), file(b)), (Some(x), Some(y)) if x == y)
        }
        _ => false,
    }
}

/// Copies the database at `from` into the one at `to` (see the module's documentation).
pub async fn copy(
    from: &str,
    to: &str,
    options: &CopyOptions,
    progress: &mut dyn Progress,
) -> CopyResult<CopySummary> {
    let started = Instant::now();
    if same_database(from, to) {
        return Err(CopyError::SameDatabase);
    }
    let mut source = Conn::open_existing(from).await?;
    let expected = build_version(source.backend());
    match source.schema_version().await? {
        None => return Err(CopyError::NotMitai(crate::redact_url(from))),
        Some(found) if found != expected => {
            return Err(CopyError::SourceSchema { found, expected });
        }
        Some(_) => {}
    }
    if let Some(marker) = source.marker().await? {
        return Err(CopyError::SourceUnfinished(marker));
    }

    progress.note("migrating the target");
    let mut target = Conn::open_migrated(to).await?;
    if !options.force_empty_target {
        if let Some(marker) = target.marker().await? {
            return Err(CopyError::TargetUnfinished(marker));
        }
        let mut holding = Vec::new();
        for table in TABLES.iter().filter(|t| !t.seeded) {
            if target.has_rows(table).await? {
                holding.push(format!("{}: {}", table.name, target.count(table).await?));
            }
        }
        if !holding.is_empty() {
            return Err(CopyError::TargetNotEmpty(holding.join(", ")));
        }
    }
    target
        .set_marker(&crate::redact_url(from), Utc::now())
        .await?;
    // Loading without foreign-key checks, validated once at the end, is several times
    // faster on PostgreSQL (each row would run a look-up of every row it references).
    let suspended = target.suspend_foreign_keys().await?;
    let all: Vec<&Table> = TABLES.iter().collect();
    target.empty_all(&all).await?;

    // One read transaction: every table is read from the same snapshot.
    let begin = match source.backend() {
        Backend::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        Backend::Sqlite => "BEGIN",
    };
    source.execute(begin).await?;

    let mut copied = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        let table_started = Instant::now();
        let total = source.count(table).await?;
        progress.start(table.name, total);
        let (rows, checksum) = copy_table(&mut source, &mut target, table, options, progress)
            .await
            .map_err(|e| match e {
                CopyError::Store(s) => CopyError::Table(table.name, s),
                other => other,
            })?;
        progress.finish(rows, table_started.elapsed());
        copied.push(TableCopy {
            table: table.name,
            source_rows: rows,
            target_rows: 0,
            checksum,
            elapsed: table_started.elapsed(),
        });
    }
    source.execute("COMMIT").await?;

    progress.note("checking the foreign keys");
    target.restore_foreign_keys(&suspended).await?;
    if target.backend() == Backend::Postgres {
        // Loaded tables have no statistics until autovacuum gets to them (never, where it
        // is off): until then the planner guesses a few hundred rows for every table and
        // picks plans that read a year's log to find a thousand of its rows. As after
        // `pg_restore`, gather them now.
        progress.note("gathering the planner's statistics (ANALYZE)");
        target.execute("ANALYZE").await?;
    }
    progress.note("verifying row counts and checksums");
    let mut differ = Vec::new();
    for (table, done) in TABLES.iter().zip(copied.iter_mut()) {
        let (rows, checksum) = target.checksum(table).await?;
        done.target_rows = rows;
        if rows != done.source_rows {
            differ.push(format!(
                "{} ({} rows in the source, {rows} in the target)",
                table.name, done.source_rows
            ));
        } else if checksum != done.checksum {
            differ.push(format!("{} (checksums differ)", table.name));
        }
    }
    if !differ.is_empty() {
        return Err(CopyError::Mismatch(differ.join(", ")));
    }
    target.execute("DELETE FROM db_copy_marker").await?;
    Ok(CopySummary {
        tables: copied,
        elapsed: started.elapsed(),
    })
}

/// Copies one table in batches; returns the rows read and their checksum. Reading the
/// next batch and writing the last one overlap (two futures joined on this task, a queue
/// of two batches between them), so the copy runs at the pace of the slower side.
async fn copy_table(
    source: &mut Conn,
    target: &mut Conn,
    table: &'static Table,
    options: &CopyOptions,
    progress: &mut dyn Progress,
) -> CopyResult<(u64, String)> {
    let sql = select_sql(source.backend(), table);
    let self_ref = table
        .self_ref
        .and_then(|c| table.columns.iter().position(|(n, _)| *n == c));
    let batch_rows = options.batch_rows.max(1);
    let (queue, mut batches) = tokio::sync::mpsc::channel::<Vec<Vec<Value>>>(2);

    let read = async move {
        let mut refs: Vec<(Uuid, Uuid)> = Vec::new();
        let mut sum = Checksum::default();
        let mut batch = Vec::with_capacity(batch_rows);
        let mut rows = source.rows(table, &sql);
        while let Some(row) = rows.try_next().await? {
            sum.add(&row);
            if let (Some(i), Value::Uuid(id)) = (self_ref, &row[0])
                && let Value::Uuid(r) = &row[i]
            {
                refs.push((*id, *r));
            }
            batch.push(row);
            if batch.len() >= batch_rows {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(batch_rows));
                if queue.send(full).await.is_err() {
                    // The writer stopped; its error is the one to report.
                    break;
                }
            }
        }
        if !batch.is_empty() {
            let _ = queue.send(batch).await;
        }
        CopyResult::Ok((refs, sum))
    };
    let write = async {
        let mut done = 0u64;
        while let Some(batch) = batches.recv().await {
            target.write(table, &batch).await?;
            done += batch.len() as u64;
            progress.advance(done);
        }
        CopyResult::Ok(())
    };
    let ((refs, sum), ()) = futures::future::try_join(read, write).await?;
    if !refs.is_empty() {
        target.write_self_refs(table, &refs).await?;
    }
    Ok(sum.finish())
}

/// The schema version, an unfinished copy's mark and the row counts of the database at
/// `url` (which is opened as it is: not created, not migrated).
pub async fn check(url: &str) -> CopyResult<Status> {
    let mut conn = Conn::open_existing(url).await?;
    let backend = conn.backend();
    let Some(schema_version) = conn.schema_version().await? else {
        return Err(CopyError::NotMitai(crate::redact_url(url)));
    };
    let unfinished_copy = conn.marker().await?;
    let mut counts = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        let n = if conn.table_exists(table.name).await? {
            Some(conn.count(table).await?)
        } else {
            None
        };
        counts.push((table.name, n));
    }
    Ok(Status {
        backend,
        schema_version,
        build_version: build_version(backend),
        unfinished_copy,
        counts,
    })
}

/// Writes a consistent copy of the SQLite database at `url` to the new file `path`
/// (`VACUUM INTO`: safe while the server runs), checks its integrity and returns its
/// status.
pub async fn backup(url: &str, path: &std::path::Path) -> CopyResult<Status> {
    if backend_of(url)? == Backend::Postgres {
        return Err(CopyError::PostgresBackup(format!(
            "pg_dump --format=custom --file={} '{}' (see docs/operations.md)",
            path.display(),
            crate::redact_url(url)
        )));
    }
    if path.exists() {
        return Err(CopyError::BackupExists(path.display().to_string()));
    }
    let mut conn = Conn::open_existing(url).await?;
    if conn.schema_version().await?.is_none() {
        return Err(CopyError::NotMitai(crate::redact_url(url)));
    }
    let Conn::Sqlite(c) = &mut conn else {
        unreachable!("the URL is a SQLite URL")
    };
    sqlx::query("VACUUM INTO $1")
        .bind(path.to_string_lossy().into_owned())
        .execute(&mut *c)
        .await?;
    let backup_url = format!("sqlite://{}", path.display());
    let mut copy = Conn::open_existing(&backup_url).await?;
    let Conn::Sqlite(c) = &mut copy else {
        unreachable!("the backup is a SQLite file")
    };
    let verdict: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut *c)
        .await?;
    if verdict != "ok" {
        return Err(CopyError::BackupCorrupt(
            path.display().to_string(),
            verdict,
        ));
    }
    check(&backup_url).await
}

/// The columns of every table of the migrated schema at `url` with their type names as
/// the database declares them, for the test that [`TABLES`] is complete.
pub async fn schema_columns(url: &str) -> CopyResult<Vec<(String, String, String)>> {
    let mut conn = Conn::open_existing(url).await?;
    let sql = match conn {
        Conn::Sqlite(_) => {
            "SELECT m.name, p.name, upper(p.type) FROM sqlite_master m, \
             pragma_table_info(m.name) p WHERE m.type = 'table' \
             AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, p.cid"
        }
        Conn::Pg(_) => {
            "SELECT table_name::text, column_name::text, data_type::text \
             FROM information_schema.columns WHERE table_schema = current_schema() \
             ORDER BY table_name, ordinal_position"
        }
    };
    let rows = query(sql).fetch_all(&mut conn).await?;
    rows.iter()
        .map(|row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let a: serde_json::Value =
            serde_json::from_str(r#"{"b":1,"a":{"d":[1,{"z":0,"y":1}],"c":"x"}}"#).unwrap();
        let mut s = String::new();
        canonical_json(&a, &mut s);
        assert_eq!(s, r#"{"a":{"c":"x","d":[1,{"y":1,"z":0}]},"b":1}"#);
    }

    #[test]
    fn copy_text_escapes_and_reads_back_floats() {
        let mut s = String::new();
        copy_text(&Value::Text("a\tb\\c\nd".into()), &mut s);
        assert_eq!(s, "a\\tb\\\\c\\nd");
        for x in [0.1_f64, 1e300, -2.5e-300, 80.0, f64::MAX] {
            let mut s = String::new();
            copy_text(&Value::Float(x), &mut s);
            assert_eq!(s.parse::<f64>().unwrap(), x, "{s}");
        }
    }

    #[test]
    fn tables_come_after_the_tables_they_reference() {
        let position = |name: &str| TABLES.iter().position(|t| t.name == name).unwrap();
        assert!(position("tiers") < position("profiles"));
        assert!(position("profiles") < position("coupons"));
        assert!(position("coupons") < position("access_grants"));
        assert!(position("access_grants") < position("grant_pauses"));
        assert!(position("access_grants") < position("coupon_redemptions"));
        for t in TABLES {
            for k in t.key {
                assert!(t.columns.iter().any(|(n, _)| n == k), "{}.{k}", t.name);
            }
        }
    }
}
