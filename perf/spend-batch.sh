#!/usr/bin/env bash
# PostgreSQL's CPU per group commit of consumes, without HTTP: pgbench calls
# `mitai_spend_batch` (what each batcher sends, migrations 0011–0013) with batches of 1, 4
# and 16 spends of distinct profiles, four clients at once (the batchers), on a freshly
# migrated database with 100 profiles. Prints batches and spends per second and the CPU
# the machine spent per batch and per spend, less pgbench's own; the first line is the same
# call of a function that writes nothing (the cost of the call, the arrays and the
# transaction). The CPU figures are steadier than the rates on a shared machine.
#
#   cargo build --release && perf/spend-batch.sh [postgres-admin-url] [seconds]
set -euo pipefail
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
cd "$(dirname "$0")/.."

BIN="target/release/mitai"
ADMIN_URL="${1:-postgres://postgres@127.0.0.1:5432/postgres}"
SECS="${2:-8}"
NAME="mitai_bench_spend"
URL="${ADMIN_URL%/*}/$NAME"
WORK="$(mktemp -d)"
cleanup() {
  rm -rf "$WORK"
  psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $NAME WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
[ -x "$BIN" ] || { echo "build first: cargo build --release" >&2; exit 1; }
command -v pgbench >/dev/null || { echo "pgbench is missing (apt-get install postgresql-client)" >&2; exit 1; }

psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $NAME WITH (FORCE)" >/dev/null
psql "$ADMIN_URL" -qc "CREATE DATABASE $NAME"
echo "bench-password-1" | env -i PATH="$PATH" "$BIN" user create \
  --email bench@example.org --password-stdin --database-url "$URL" >/dev/null
psql "$URL" -q <<'SQL'
INSERT INTO profiles (id, email, email_norm, password_hash, tier, created_at, updated_at)
SELECT gen_random_uuid(), 'user-' || n || '@example.org', 'user-' || n || '@example.org',
       password_hash, tier, now(), now()
FROM profiles, generate_series(1, 100) AS n;
CREATE TABLE bench_profiles AS
  SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM profiles WHERE email LIKE 'user-%';
-- The cost of the call itself: the same arguments, nothing written.
CREATE FUNCTION bench_nothing(p_profiles UUID[], p_features TEXT[], p_starts TIMESTAMPTZ[],
    p_amounts BIGINT[], p_caps BIGINT[], p_nows TIMESTAMPTZ[], p_entries UUID[], p_ips TEXT[])
RETURNS TABLE (k INT, new_used BIGINT, was_spent BOOLEAN) LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY SELECT j::INT, 1::BIGINT, TRUE FROM generate_series(1, cardinality(p_profiles)) AS j;
END $$;
SQL

busy() { head -1 /proc/stat | awk '{print $2 + $3 + $4 + $7 + $8}'; }
run() { # function, batch size
  local fn=$1 n=$2
  # Entry ids ordered by time like the server's UUIDv7s (the log's primary key grows at its end).
  local id="(lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || substr(md5(random()::text), 1, 20))::uuid"
  cat > "$WORK/batch.sql" <<SQL
\set o random(0, $((100 - n)))
SELECT * FROM $fn(
  (SELECT array_agg(id) FROM (SELECT id FROM bench_profiles WHERE k >= :o ORDER BY k LIMIT $n) x),
  array_fill('weight'::text, ARRAY[$n]), array_fill(date_trunc('month', now()), ARRAY[$n]),
  array_fill(1::bigint, ARRAY[$n]), array_fill(NULL::bigint, ARRAY[$n]), array_fill(now(), ARRAY[$n]),
  (SELECT array_agg($id) FROM generate_series(1, $n)), array_fill('127.0.0.1'::text, ARRAY[$n]));
SQL
  local b0 b1 out tps own
  b0=$(busy)
  out=$( { TIMEFORMAT='%U %S'; time pgbench -n -M prepared -c 4 -j 2 -T "$SECS" -f "$WORK/batch.sql" "$URL" 2>&1; } 2>&1 )
  b1=$(busy)
  tps=$(echo "$out" | grep -oP 'tps = \K[\d.]+')
  own=$(echo "$out" | tail -1 | awk '{print $1 + $2}')
  python3 -c "
tps, n, secs = $tps, $n, $SECS
cpu = ($b1 - $b0) / 100 - $own
print(f'{\"$fn\":<18} batch {n:>2}: {tps:>7,.0f} batches/s {tps * n:>8,.0f} spends/s'
      f'   CPU {cpu / (tps * secs) * 1e6:>5,.0f} µs a batch, {cpu / (tps * n * secs) * 1e6:>4,.0f} µs a spend')"
}
run bench_nothing 4
for n in 1 4 16; do run mitai_spend_batch "$n"; done
