#!/usr/bin/env bash
# `mitai db copy` throughput: a SQLite database with 1,000,000 usage rows and 100,000
# activity-log rows (1,000 profiles) is copied to PostgreSQL and back with the release
# binary; each copy prints its rows per second (verification included).
#
#   cargo build --release && perf/db-copy.sh [postgres-admin-url]
set -euo pipefail
cd "$(dirname "$0")/.."

BIN="target/release/mitai"
ADMIN_URL="${1:-postgres://postgres@127.0.0.1:5432/postgres}"
NAME="mitai_bench_copy"
TARGET_URL="${ADMIN_URL%/*}/$NAME"
WORK="${MITAI_BENCH_DIR:-$(mktemp -d)}"
cleanup() {
  rm -rf "$WORK"
  psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $NAME WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

[ -x "$BIN" ] || { echo "build first: cargo build --release" >&2; exit 1; }
SOURCE="$WORK/source.db"
echo "bench-password-1" | env -i PATH="$PATH" "$BIN" user create \
  --email bench@example.org --password-stdin --database-url "sqlite://$SOURCE" >/dev/null

python3 - "$SOURCE" <<'PY'
import sqlite3, sys, uuid, json
db = sqlite3.connect(sys.argv[1])
cols = [r[1] for r in db.execute("PRAGMA table_info(profiles)")]
template = db.execute("SELECT * FROM profiles").fetchone()
profiles = []
for i in range(999):
    row = dict(zip(cols, template))
    row["id"] = str(uuid.uuid4())
    row["email"] = row["email_norm"] = f"user-{i:04d}@example.org"
    profiles.append(tuple(row[c] for c in cols))
db.executemany(f"INSERT INTO profiles VALUES ({','.join('?' * len(cols))})", profiles)
ids = [r[0] for r in db.execute("SELECT id FROM profiles")]
features = [r[0] for r in db.execute("SELECT id FROM features ORDER BY id")][:10]
periods = [f"{2019 + m // 12:04d}-{m % 12 + 1:02d}-01T00:00:00.000000Z" for m in range(100)]
def usage():
    for p in ids:
        for f in features:
            for n, start in enumerate(periods):
                yield (p, f, start, 1 + n % 9, start)
db.executemany("INSERT INTO user_feature_usage VALUES (?, ?, ?, ?, ?)", usage())
def activity():
    for n in range(100_000):
        p = ids[n % len(ids)]
        yield (str(uuid.uuid4()), p, p, "feature_used",
               json.dumps({"feature": features[n % 10], "amount": 1}),
               "127.0.0.1", f"2026-{n % 12 + 1:02d}-01T00:00:00.000000Z")
db.executemany("INSERT INTO user_activity_log VALUES (?, ?, ?, ?, ?, ?, ?)", activity())
db.commit()
print("source:", db.execute("SELECT count(*) FROM user_feature_usage").fetchone()[0], "usage rows,",
      db.execute("SELECT count(*) FROM user_activity_log").fetchone()[0], "activity rows,",
      db.execute("SELECT count(*) FROM profiles").fetchone()[0], "profiles")
PY

psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $NAME WITH (FORCE)" >/dev/null
psql "$ADMIN_URL" -qc "CREATE DATABASE $NAME" >/dev/null

echo "== SQLite -> PostgreSQL"
"$BIN" db copy --from "sqlite://$SOURCE" --to "$TARGET_URL" > "$WORK/to-pg.out" 2> "$WORK/to-pg.err" ||
  { cat "$WORK/to-pg.err" >&2; exit 1; }
grep -E "^copied|user_feature_usage|user_activity_log" "$WORK/to-pg.out"
echo "== PostgreSQL -> SQLite"
"$BIN" db copy --from "$TARGET_URL" --to "sqlite://$WORK/back.db" > "$WORK/to-sqlite.out" 2> "$WORK/to-sqlite.err" ||
  { cat "$WORK/to-sqlite.err" >&2; exit 1; }
grep -E "^copied|user_feature_usage|user_activity_log" "$WORK/to-sqlite.out"
