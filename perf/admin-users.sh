#!/usr/bin/env bash
# The admin user list with 10,000 profiles (one in four with a running grant): the first
# page, a page deep in the list (keyset cursor), a search and one user's page, with wrk
# against the release binary on a fresh SQLite file (or PostgreSQL: pass a postgres:// URL
# of an empty database).
#
#   cargo build --release && perf/admin-users.sh [database-url] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="$(mktemp -d)"
DB="${1:-sqlite://$WORK/bench.db}"
SECS="${2:-10}"
BIN="${MITAI_BIN:-target/release/mitai}"
PID=""
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$WORK"' EXIT
command -v wrk >/dev/null || { echo "perf: wrk is not installed (apt-get install wrk)"; exit 1; }

echo "bench-pass-1" | MITAI_DATABASE_URL="$DB" "$BIN" user create --email admin@example.org --admin --password-stdin >/dev/null
echo "bench-pass-1" | MITAI_DATABASE_URL="$DB" "$BIN" user create --email template@example.org --password-stdin >/dev/null

# 9,999 more profiles, copies of the template row (the password hash too: hashing 10,000
# passwords would take minutes and is not what is measured).
python3 - "$DB" <<'PY'
import sys, uuid
url = sys.argv[1]
ids = [str(uuid.uuid4()) for _ in range(9999)]
rows = [(i, f"user-{n:05}@example.org", f"User {n:05}") for n, i in enumerate(ids)]
copy = ("INSERT INTO profiles (id, email, email_norm, password_hash, name, name_norm, role, tier,"
        " email_verified, language, disabled, created_at, updated_at)"
        " SELECT {p}, {p}, {p}, password_hash, {p}, lower({p}), role, tier, email_verified, language,"
        " disabled, created_at, updated_at FROM profiles WHERE email_norm = 'template@example.org'")
if url.startswith("sqlite:"):
    import sqlite3
    db = sqlite3.connect(url.split("://", 1)[1].split("?")[0])
    db.executemany(copy.format(p="?"), [(i, e, e, n, n) for i, e, n in rows])
    db.commit()
else:
    import subprocess
    sql = "".join(
        f"INSERT INTO profiles (id, email, email_norm, password_hash, name, name_norm, role, tier,"
        f" email_verified, language, disabled, created_at, updated_at)"
        f" SELECT '{i}', '{e}', '{e}', password_hash, '{n}', lower('{n}'), role, tier, email_verified,"
        f" language, disabled, created_at, updated_at FROM profiles WHERE email_norm = 'template@example.org';\n"
        for i, e, n in rows)
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", url], input="BEGIN;\n" + sql + "COMMIT;\n",
                   text=True, check=True)
PY

MITAI_DATABASE_URL="$DB" MITAI_DATA_DIR="$WORK/data" MITAI_LISTEN=127.0.0.1:0 RUST_LOG=warn \
  "$BIN" serve > "$WORK/out" 2> "$WORK/err" &
PID=$!
for _ in $(seq 1 100); do grep -q "listening on" "$WORK/out" 2>/dev/null && break; sleep 0.1; done
BASE="$(sed -n 's/^mitai listening on //p' "$WORK/out")"
TOKEN="$(curl -sf "$BASE/api/auth/login" -H 'content-type: application/json' \
  -d '{"email":"admin@example.org","password":"bench-pass-1"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"

# A 30-day premium grant for every fourth profile, through the API; the paths to measure.
PATHS="$(python3 - "$BASE" "$TOKEN" <<'PY'
import json, sys, urllib.request
base, token = sys.argv[1], sys.argv[2]
auth = {"authorization": "Bearer " + token, "content-type": "application/json"}
def get(path):
    return json.load(urllib.request.urlopen(urllib.request.Request(base + path, headers=auth)))
ids, cursor = [], None
while True:
    page = get("/api/admin/users?limit=500" + (f"&cursor={cursor}" if cursor else ""))
    ids += [u["id"] for u in page["items"]]
    cursor = page.get("next_cursor")
    if not cursor:
        break
assert len(ids) == 10001, len(ids)
for i in ids[::4]:
    body = json.dumps({"tier": "premium", "days": 30}).encode()
    urllib.request.urlopen(urllib.request.Request(f"{base}/api/admin/users/{i}/grants", body, auth)).read()
deep = sorted(ids)[8000]
print(f"/admin/users /admin/users?cursor={deep} /admin/users?query=user-07 /admin/users/{ids[4]}")
PY
)"

echo "admin pages with 10,000 profiles, 2,500 grants ($DB, ${SECS}s, 2 threads, 16 connections)"
for path in $PATHS; do
  out="$(wrk -t2 -c16 -d"${SECS}s" --latency -H "Cookie: mitai_session=$TOKEN" "$BASE$path")"
  rps="$(echo "$out" | awk '/Requests\/sec/ {print $2}')"
  p50="$(echo "$out" | awk '$1=="50%" {print $2}')"
  p99="$(echo "$out" | awk '$1=="99%" {print $2}')"
  code="$(curl -s -o "$WORK/page" -w '%{http_code}' -H "Cookie: mitai_session=$TOKEN" "$BASE$path")"
  rows="$(grep -o '<tr' "$WORK/page" | wc -l)"
  [ "$code" = 200 ] || { echo "perf: $path answered $code"; exit 1; }
  printf '%-24s %8s req/s   p50 %-8s p99 %-8s %5s rows %7s bytes\n' \
    "${path%%\?cursor=*}$( [[ $path == *cursor=* ]] && echo '?cursor=(8,000th)')" \
    "$rps" "$p50" "$p99" "$rows" "$(wc -c < "$WORK/page")"
done
