#!/usr/bin/env bash
# Page render throughput of the web UI for a signed-in user with 1,000 weight entries:
# the dashboard, /weight (90 days) and /weight?range=all, with wrk against the release
# binary on a fresh SQLite file (or PostgreSQL: pass a postgres:// URL).
#
#   cargo build --release && perf/pages.sh [database-url] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="$(mktemp -d)"
DB="${1:-sqlite://$WORK/bench.db}"
SECS="${2:-10}"
BIN="${MITAI_BIN:-target/release/mitai}"
trap 'kill $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
command -v wrk >/dev/null || { echo "perf: wrk is not installed (apt-get install wrk)"; exit 1; }

echo "bench-pass-1" | MITAI_DATABASE_URL="$DB" "$BIN" user create --email bench@example.org --admin --password-stdin >/dev/null
MITAI_DATABASE_URL="$DB" MITAI_DATA_DIR="$WORK/data" MITAI_LISTEN=127.0.0.1:0 RUST_LOG=warn \
  "$BIN" serve > "$WORK/out" 2> "$WORK/err" &
PID=$!
for _ in $(seq 1 100); do grep -q "listening on" "$WORK/out" 2>/dev/null && break; sleep 0.1; done
BASE="$(sed -n 's/^mitai listening on //p' "$WORK/out")"
TOKEN="$(curl -sf "$BASE/api/auth/login" -H 'content-type: application/json' \
  -d '{"email":"bench@example.org","password":"bench-pass-1"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"

# 1,000 weights over the last 1,000 days.
python3 - "$BASE" "$TOKEN" <<'PY'
import datetime, json, sys, urllib.request
base, token = sys.argv[1], sys.argv[2]
today = datetime.date.today()
for i in range(1000):
    day = today - datetime.timedelta(days=i)
    body = json.dumps({"date": day.isoformat(), "weight_kg": 70 + (i % 50) / 10}).encode()
    req = urllib.request.Request(base + "/api/weight", body, {"content-type": "application/json", "authorization": "Bearer " + token})
    urllib.request.urlopen(req).read()
PY

echo "pages of a user with 1,000 weight entries ($DB, ${SECS}s, 2 threads, 16 connections)"
for path in "/" "/weight" "/weight?range=all" "/plan"; do
  out="$(wrk -t2 -c16 -d"${SECS}s" --latency -H "Cookie: mitai_session=$TOKEN" "$BASE$path")"
  rps="$(echo "$out" | awk '/Requests\/sec/ {print $2}')"
  p50="$(echo "$out" | awk '$1=="50%" {print $2}')"
  p99="$(echo "$out" | awk '$1=="99%" {print $2}')"
  bytes="$(curl -s -o /dev/null -w '%{size_download}' -H "Cookie: mitai_session=$TOKEN" "$BASE$path")"
  printf '%-20s %8s req/s   p50 %-8s p99 %-8s %7s bytes\n' "$path" "$rps" "$p50" "$p99" "$bytes"
done
