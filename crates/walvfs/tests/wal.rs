//! The WAL-batching VFS against SQLite's own reading of the files: what a commit returned is
//! in the WAL file, other connections read it, writers on the default VFS interleave, and
//! the database stays intact through rollbacks, large commits and WAL restarts.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use rusqlite::{Connection, OpenFlags, params};

/// A fresh directory with a WAL database holding table `t`, removed on drop.
struct Db(PathBuf);

impl Db {
    fn new() -> Db {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "mitai-walvfs-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let db = Db(dir);
        let conn = Connection::open(db.path()).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT NOT NULL, v BLOB NOT NULL);
             CREATE INDEX t_k ON t (k);",
        )
        .unwrap();
        db
    }

    fn path(&self) -> PathBuf {
        self.0.join("db.sqlite")
    }

    fn batching(&self) -> Connection {
        let conn = mitai_walvfs::open(&self.path(), OpenFlags::SQLITE_OPEN_READ_WRITE).unwrap();
        conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .unwrap();
        conn
    }

    fn plain(&self) -> Connection {
        let conn = Connection::open(self.path()).unwrap();
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .unwrap();
        conn
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Inserts `rows` rows of `size` bytes each in one transaction, keys spread over the index.
fn commit(conn: &mut Connection, first: i64, rows: i64, size: usize) {
    let tx = conn.transaction().unwrap();
    {
        let mut insert = tx
            .prepare_cached("INSERT INTO t (id, k, v) VALUES (?1, ?2, ?3)")
            .unwrap();
        for id in first..first + rows {
            let key = format!("{:08}", (id * 7919) % 100_003);
            insert
                .execute(params![id, key, vec![(id % 251) as u8; size]])
                .unwrap();
        }
    }
    tx.commit().unwrap();
}

fn summary(conn: &Connection) -> (i64, i64) {
    conn.query_row("SELECT COUNT(*), COALESCE(SUM(id), 0) FROM t", [], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
    .unwrap()
}

fn intact(conn: &Connection) {
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

fn expected(rows: i64) -> (i64, i64) {
    (rows, rows * (rows + 1) / 2)
}

/// After each commit, another connection (default VFS) reads exactly what was committed.
#[test]
fn other_connections_read_each_commit_at_once() {
    let db = Db::new();
    let mut writer = db.batching();
    let reader = db.plain();
    let mut next = 1;
    for (i, rows) in [1, 2, 40, 3, 200, 1, 60]
        .into_iter()
        .cycle()
        .take(60)
        .enumerate()
    {
        commit(&mut writer, next, rows, 100 + i * 37);
        next += rows;
        assert_eq!(summary(&reader), expected(next - 1));
    }
    intact(&reader);
}

/// A copy of the files taken right after a commit returned (as a crash would leave them)
/// opens with every commit in it: the frames were in the WAL file, not in memory.
#[test]
fn a_commit_is_in_the_wal_file_when_it_returns() {
    let db = Db::new();
    let mut writer = db.batching();
    writer.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    let mut next = 1;
    for rows in [5, 1, 120, 7] {
        commit(&mut writer, next, rows, 3000);
        next += rows;
        let copy = Db::new();
        for suffix in ["", "-wal"] {
            let from = PathBuf::from(format!("{}{suffix}", db.path().display()));
            std::fs::copy(&from, format!("{}{suffix}", copy.path().display())).unwrap();
        }
        let _ = std::fs::remove_file(format!("{}-shm", copy.path().display()));
        let recovered = Connection::open(copy.path()).unwrap();
        assert_eq!(summary(&recovered), expected(next - 1));
        intact(&recovered);
    }
}

/// Commits far larger than one write (the unix VFS writes at most 128 KiB a call) and than
/// what is gathered before writing early.
#[test]
fn large_commits_arrive_whole() {
    let db = Db::new();
    let mut writer = db.batching();
    commit(&mut writer, 1, 3000, 3000); // ~9 MiB
    commit(&mut writer, 3001, 40, 100_000); // overflow pages
    let reader = db.plain();
    assert_eq!(summary(&reader), expected(3040));
    intact(&reader);
}

/// Rolled-back transactions leave nothing behind, and writers on the default VFS that take
/// turns with the batching one find the WAL as they expect.
#[test]
fn rollbacks_and_other_writers_interleave() {
    let db = Db::new();
    let mut writer = db.batching();
    let mut other = db.plain();
    let mut next = 1;
    for round in 0..30 {
        // A transaction larger than the page cache (it would spill), rolled back.
        {
            let tx = writer.transaction().unwrap();
            for id in 0..if round % 10 == 0 { 3000 } else { 300 } {
                tx.execute(
                    "INSERT INTO t (id, k, v) VALUES (?1, 'x', zeroblob(2000))",
                    params![1_000_000 + round * 10_000 + id],
                )
                .unwrap();
            }
            tx.rollback().unwrap();
        }
        commit(&mut other, next, 25, 500);
        next += 25;
        commit(&mut writer, next, 13, 700);
        next += 13;
        commit(&mut other, next, 2, 4000);
        next += 2;
    }
    assert_eq!(summary(&writer), expected(next - 1));
    assert_eq!(summary(&other), expected(next - 1));
    intact(&other);
}

/// The WAL starts over after a checkpoint (its header rewritten, its frames written from
/// the start again), by the batching connection's own checkpoint and by another's.
#[test]
fn the_wal_starts_over() {
    let db = Db::new();
    let mut writer = db.batching();
    writer.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    writer
        .pragma_update(None, "journal_size_limit", 1 << 20)
        .unwrap();
    let other = db.plain();
    let mut next = 1;
    for round in 0..12 {
        commit(&mut writer, next, 50, 2000);
        next += 50;
        let checkpointer: &Connection = if round % 2 == 0 { &writer } else { &other };
        let mode = if round % 3 == 0 {
            "TRUNCATE"
        } else {
            "RESTART"
        };
        checkpointer
            .query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |_| Ok(()))
            .unwrap();
    }
    commit(&mut writer, next, 10, 10);
    next += 10;
    assert_eq!(summary(&other), expected(next - 1));
    intact(&other);
    drop(writer);
    drop(other);
    assert_eq!(
        summary(&Connection::open(db.path()).unwrap()),
        expected(next - 1)
    );
}

#[test]
fn files_other_than_the_wal_pass_through() {
    let db = Db::new();
    let writer = db.batching();
    // A temporary table and a sort spill to temporary files of the same VFS.
    writer
        .execute_batch(
            "PRAGMA temp_store = FILE;
             CREATE TEMP TABLE s AS SELECT value AS n FROM json_each('[3,1,2]');",
        )
        .unwrap();
    let sorted: Vec<i64> = writer
        .prepare("SELECT n FROM s ORDER BY n")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(sorted, [1, 2, 3]);
    assert!(Path::new(&db.path()).exists());
}

/// `sync_database` flushes the database file of any connection, on either VFS, between
/// passive checkpoints that copied part of the WAL; what they copied stays readable, and a
/// connection without a file (in memory) has nothing to flush.
#[test]
fn the_database_file_syncs_outside_checkpoints() {
    let db = Db::new();
    let mut writer = db.batching();
    writer.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    let other = db.plain();
    let mut next = 1;
    for _ in 0..4 {
        commit(&mut writer, next, 50, 2000);
        next += 50;
        let (frames, copied): (i64, i64) = other
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                Ok((row.get(1)?, row.get(2)?))
            })
            .unwrap();
        assert!(copied > 0 && copied <= frames, "{copied} of {frames}");
        mitai_walvfs::sync_database(&other).unwrap();
        mitai_walvfs::sync_database(&writer).unwrap();
    }
    assert_eq!(summary(&other), expected(next - 1));
    intact(&other);
    mitai_walvfs::sync_database(&Connection::open_in_memory().unwrap()).unwrap();
}
