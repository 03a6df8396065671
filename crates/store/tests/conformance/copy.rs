//! `mitai db copy`'s store side: the table list is the schema, and a copy into the other
//! backend keeps every row and refuses a target that holds data.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use mitai_store::copy::{self, BOOKKEEPING_TABLES, CopyError, CopyOptions, Progress, TABLES, Ty};
use mitai_store::testing::TestDb;
use mitai_store::{Backend, NewProfile, Role};
use uuid::Uuid;

conformance! {
    plain: [
        copy_tables_are_the_migrated_schema,
        a_new_database_has_no_unfinished_copy,
        copy_into_the_other_backend_keeps_every_row_and_refuses_a_second_time,
    ],
    concurrent: [],
}

/// Records what the copy reported.
#[derive(Default)]
struct Recorded {
    started: Vec<(String, u64)>,
    finished: Vec<u64>,
}

impl Progress for Recorded {
    fn start(&mut self, table: &str, total: u64) {
        self.started.push((table.to_owned(), total));
    }
    fn advance(&mut self, _done: u64) {}
    fn finish(&mut self, rows: u64, _elapsed: Duration) {
        self.finished.push(rows);
    }
    fn note(&mut self, _what: &str) {}
}

fn compatible(backend: Backend, declared: &str, ty: Ty) -> bool {
    match backend {
        Backend::Sqlite => match declared {
            "TEXT" => matches!(ty, Ty::Text | Ty::Uuid | Ty::Ts | Ty::Date | Ty::Json),
            "INTEGER" => matches!(ty, Ty::Int | Ty::Bool),
            "REAL" => ty == Ty::Float,
            _ => false,
        },
        Backend::Postgres => match declared {
            "text" => ty == Ty::Text,
            "uuid" => ty == Ty::Uuid,
            "timestamp with time zone" => ty == Ty::Ts,
            "date" => ty == Ty::Date,
            "jsonb" => ty == Ty::Json,
            "boolean" => ty == Ty::Bool,
            "bigint" | "integer" => ty == Ty::Int,
            "double precision" => ty == Ty::Float,
            _ => false,
        },
    }
}

/// The foreign keys of the database's schema, by table and definition.
async fn foreign_keys(db: &TestDb) -> Vec<String> {
    use sqlx::Connection;
    match db.store.backend() {
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::query_scalar(
                "SELECT conrelid::regclass::text || ' ' || pg_get_constraintdef(oid) \
                 FROM pg_constraint WHERE contype = 'f' ORDER BY 1",
            )
            .fetch_all(&mut c)
            .await
            .unwrap()
        }
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            sqlx::query_scalar(
                "SELECT m.name || ' ' || f.\"from\" || ' ' || f.\"table\" FROM sqlite_master m, \
                 pragma_foreign_key_list(m.name) f WHERE m.type = 'table' ORDER BY 1",
            )
            .fetch_all(&mut c)
            .await
            .unwrap()
        }
    }
}

async fn copy_tables_are_the_migrated_schema(db: &TestDb) {
    let backend = db.store.backend();
    let mut schema: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (table, column, declared) in copy::schema_columns(&db.url).await.unwrap() {
        if !BOOKKEEPING_TABLES.contains(&table.as_str()) {
            schema.entry(table).or_default().push((column, declared));
        }
    }
    let listed: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
    let mut sorted = listed.clone();
    sorted.sort_unstable();
    assert_eq!(
        schema.keys().map(String::as_str).collect::<Vec<_>>(),
        sorted,
        "copy::TABLES must list every table of the schema"
    );
    for table in TABLES {
        let columns = &schema[table.name];
        let mut in_schema: Vec<&str> = columns.iter().map(|(c, _)| c.as_str()).collect();
        let mut in_list: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
        in_schema.sort_unstable();
        in_list.sort_unstable();
        assert_eq!(in_list, in_schema, "columns of {}", table.name);
        for (column, declared) in columns {
            let ty = table.columns.iter().find(|(c, _)| c == column).unwrap().1;
            assert!(
                compatible(backend, declared, ty),
                "{}.{column} is {declared} in the schema, {ty:?} in copy::TABLES",
                table.name
            );
        }
    }
}

async fn a_new_database_has_no_unfinished_copy(db: &TestDb) {
    assert_eq!(db.store.unfinished_copy().await.unwrap(), None);
    let status = copy::check(&db.url).await.unwrap();
    assert_eq!(status.schema_version, status.build_version);
    assert_eq!(status.unfinished_copy, None);
    let tiers = status.counts.iter().find(|(t, _)| *t == "tiers").unwrap().1;
    assert_eq!(tiers, Some(4));
}

async fn copy_into_the_other_backend_keeps_every_row_and_refuses_a_second_time(db: &TestDb) {
    let now = Utc::now();
    let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
    // The first profile is invited by the last: in key order it references a later row.
    for i in [2, 0, 1] {
        db.store
            .create_profile(&NewProfile {
                id: ids[i],
                email: format!("copy-{i}@example.org"),
                password_hash: "hash".into(),
                name: format!("Copy {i} \t \"quoted\" \\ back"),
                role: if i == 0 { Role::Admin } else { Role::User },
                tier: "free".into(),
                trial_ends_at: Some(now),
                email_verified: i % 2 == 0,
                invited_by: (i == 0).then(|| ids[2]),
                language: "en".into(),
                created_at: now,
            })
            .await
            .unwrap();
    }
    let other = match db.store.backend() {
        Backend::Sqlite => TestDb::new(Backend::Postgres).await,
        Backend::Postgres => TestDb::new(Backend::Sqlite).await,
    };
    let mut progress = Recorded::default();
    let summary = copy::copy(&db.url, &other.url, &CopyOptions::default(), &mut progress)
        .await
        .unwrap();
    assert_eq!(summary.tables.len(), TABLES.len());
    for t in &summary.tables {
        assert_eq!(t.source_rows, t.target_rows, "{}", t.table);
    }
    let profiles = summary
        .tables
        .iter()
        .find(|t| t.table == "profiles")
        .unwrap();
    assert_eq!(profiles.target_rows, 3);
    assert_eq!(progress.started.len(), TABLES.len());
    assert_eq!(progress.finished.iter().sum::<u64>(), summary.rows());

    assert_eq!(
        foreign_keys(&other).await,
        foreign_keys(&TestDb::new(other.store.backend()).await).await,
        "the foreign keys dropped for the load are all back"
    );
    let source = copy::check(&db.url).await.unwrap();
    let target = copy::check(&other.url).await.unwrap();
    assert_eq!(source.counts, target.counts);
    assert_eq!(target.unfinished_copy, None);
    assert_eq!(other.store.unfinished_copy().await.unwrap(), None);
    let copied = other.store.credentials("COPY-1@example.org").await.unwrap();
    assert_eq!(copied.unwrap().0.name, "Copy 1 \t \"quoted\" \\ back");
    let invited = other.store.credentials("copy-0@example.org").await.unwrap();
    assert_eq!(invited.unwrap().0.invited_by, Some(ids[2]));

    // Again into the same target: refused, nothing changed.
    let err = copy::copy(
        &db.url,
        &other.url,
        &CopyOptions::default(),
        &mut Recorded::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, CopyError::TargetNotEmpty(_)), "{err}");
    assert!(err.to_string().contains("profiles: 3"), "{err}");
    assert_eq!(copy::check(&other.url).await.unwrap().counts, target.counts);

    // Forced: emptied and copied again, the same rows.
    let forced = CopyOptions {
        force_empty_target: true,
        ..CopyOptions::default()
    };
    copy::copy(&db.url, &other.url, &forced, &mut Recorded::default())
        .await
        .unwrap();
    assert_eq!(copy::check(&other.url).await.unwrap().counts, target.counts);

    // Into itself: refused.
    let err = copy::copy(&db.url, &db.url, &forced, &mut Recorded::default())
        .await
        .unwrap_err();
    assert!(matches!(err, CopyError::SameDatabase), "{err}");
}
