#!/usr/bin/env bash
# A year of a busy operator's data, and what it costs: fills a database (100,000 profiles,
# 20,000,000 activity entries over 365 days, 2,000,000 usage rows, 1,000,000 tracked entries,
# 50,000 grants), then measures consume, check and three admin pages with wrk next to the same
# figures on a fresh database, folds the year under the retention setting while consuming,
# and measures again. Prints sizes, times and peak RSS.
#
#   cargo build --release && perf/year.sh [database-url] [--secs 10] [--scale 1.0]
#
# Without a URL: SQLite files in a temporary directory. With a PostgreSQL URL (the server's,
# e.g. postgres://postgres@127.0.0.1:5432): the script creates its own databases there and
# drops them at the end; the year is generated into SQLite and moved with `mitai db copy`
# (the store's bulk path: COPY), which it times.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "perf: wrk is not installed (apt-get install wrk)"; exit 1; }
[ -x target/release/mitai ] || { echo "perf: build first: cargo build --release"; exit 1; }
exec python3 perf/year.py "$@"
