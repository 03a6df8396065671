"""A year of a busy operator's data, and what it costs (issue 28). Run through perf/year.sh.

1. fresh   a new database: consume and check (wrk, as ../shared/perf/bench.py runs them: 32
           connections, 100 profiles, `POST /api/me/access/bench/consume` and `GET
           /api/me/access/bench`), then the admin overview, the user list and a user's page
           (wrk, 2 threads, 16 connections), then consume again ("consume, later": on the
           year, the first round of jobs after the start runs beside the first figure).
2. year    the same on a database filled with a year: 100,000 profiles, 20,000,000 activity
           entries over 365 days (one in fifty a login, the rest consumes), 2,000,000 usage
           rows, 1,000,000 tracked entries, 50,000 grants — the retention setting at ten years,
           so that nothing is folded yet. The generated files are flushed to disk first
           (`sync`): the kernel's write-back of them is not the year's cost. Then consume and
           check on the fresh database once more ("fresh, again": this machine's speed drifts
           within minutes), for a second ratio.
3. fold    retention set to its default (90 days): the server's jobs fold the older entries in
           bounded batches while consume runs (its p99 measured during the fold), to the end.
4. after   the same figures again on the folded year.

Sizes (file or pg_database_size), the fill's and the fold's time, `mitai db backup` (SQLite)
and `mitai db copy` (PostgreSQL: the year arrives through it) times, peak RSS (VmHWM) of each
server. Everything runs on this machine at once: database, server and wrk."""
import argparse, calendar, json, os, re, shutil, signal, socket, sqlite3, subprocess, sys, tempfile, time
import urllib.error, urllib.request, uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target/release/mitai")
ap = argparse.ArgumentParser()
ap.add_argument("url", nargs="?", default="", help="a postgres:// URL of the server; SQLite without")
ap.add_argument("--secs", type=int, default=10)
ap.add_argument("--conns", type=int, default=32)
ap.add_argument("--users", type=int, default=100)
ap.add_argument("--scale", type=float, default=1.0, help="fraction of the year's rows (0.01 to try)")
ap.add_argument("--keep", action="store_true", help="keep the databases (prints where)")
ap.add_argument("--no-fold", action="store_true", help="stop after measuring the year (no retention)")
A = ap.parse_args()
PG = A.url.startswith("postgres")
WORK = tempfile.mkdtemp(prefix="mitai-year-")
PASSWORD = "year-password-1"
ADMIN = ("admin@example.org", "admin-password-123")
PROCS, DATABASES = [], []
DAY_US = 86_400 * 1_000_000


def log(*a):
    print(*a, flush=True)


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def psql(url, sql):
    return sh("psql", "-qAtX", "-v", "ON_ERROR_STOP=1", url, "-c", sql).strip()


def newdb(tag):
    """A fresh database: a SQLite file, or a database on the PostgreSQL server."""
    if not PG:
        return f"sqlite://{WORK}/{tag}.db"
    server = A.url.rstrip("/")
    server = server.rsplit("/", 1)[0] if server.count("/") > 2 else server
    name = f"mitai_{tag}_{uuid.uuid4().hex[:6]}"
    psql(server + "/postgres", f"CREATE DATABASE {name}")
    DATABASES.append((server, name))
    return f"{server}/{name}"


def size(url):
    if url.startswith("sqlite"):
        path = url.split("://", 1)[1]
        return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))
    return int(psql(url, "SELECT pg_database_size(current_database())"))


def mib(n):
    return f"{n / 1048576:,.0f} MiB"


def timed(f, *a):
    t = time.time()
    r = f(*a)
    return r, time.time() - t


# --- the year --------------------------------------------------------------------------------

def ts(us):
    """SQLite's text of an instant (microseconds since the epoch, an SQL expression)."""
    return f"(strftime('%Y-%m-%dT%H:%M:%S', ({us}) / 1000000, 'unixepoch') || printf('.%06dZ', ({us}) % 1000000))"


V4 = ("lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2)"
      " || '-' || substr('89ab', 1 + (random() & 3), 1) || substr(hex(randomblob(2)), 2) || '-'"
      " || hex(randomblob(6)))")


def v7(ms):
    """A time-ordered id (UUID v7) of a millisecond, as the server makes them."""
    return (f"lower(printf('%08x', ({ms}) >> 16) || '-' || printf('%04x', ({ms}) & 65535) || '-7'"
            " || substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (random() & 3), 1)"
            " || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))")


def fill(path):
    """Writes the year into a new SQLite file (the schema made by `mitai user create`)."""
    s = A.scale
    profiles, entries, grants = int(100_000 * s), int(20_000_000 * s), int(50_000 * s)
    subprocess.run([BIN, "user", "create", "--email", "template@example.org", "--password-stdin",
                    "--database-url", f"sqlite://{path}"], input=PASSWORD, text=True, check=True,
                   capture_output=True)
    db = sqlite3.connect(path, isolation_level=None)
    for p in ("journal_mode=WAL", "synchronous=OFF", "cache_size=-1000000", "temp_store=MEMORY"):
        db.execute("PRAGMA " + p)
    now_us = int(time.time()) * 1_000_000
    t0 = now_us - 365 * DAY_US
    q = lambda sql, *a: db.execute(sql, a)
    q("BEGIN")
    q("CREATE TEMP TABLE p (n INTEGER PRIMARY KEY, id TEXT NOT NULL)")
    q(f"WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?) "
      f"INSERT INTO p SELECT i, {V4} FROM c", profiles)
    q("CREATE TEMP TABLE feat (k INTEGER PRIMARY KEY, id TEXT NOT NULL)")
    q("INSERT INTO feat SELECT row_number() OVER (ORDER BY sort_order) - 1, id FROM features "
      "WHERE kind = 'count'")
    features = q("SELECT count(*) FROM feat").fetchone()[0]
    created = ts(f"{t0} + p.n * {365 * DAY_US // 2 // max(profiles, 1)}")
    q(f"INSERT INTO profiles (id, email, email_norm, password_hash, name, name_norm, role, tier,"
      f" email_verified, language, disabled, created_at, updated_at)"
      f" SELECT p.id, printf('user-%06d@example.org', p.n), printf('user-%06d@example.org', p.n),"
      f" t.password_hash, printf('User %06d', p.n), printf('user %06d', p.n), 'user',"
      f" CASE WHEN p.n % 10 = 0 THEN 'basic' ELSE 'free' END, 1,"
      f" CASE WHEN p.n % 3 = 0 THEN 'en' ELSE 'de' END, 0, {created}, {created}"
      f" FROM p, (SELECT password_hash FROM profiles WHERE email_norm = 'template@example.org') t")
    q(f"INSERT INTO user_stats (profile_id, logins, last_login_at, last_active_at, feature_totals,"
      f" redemptions, updated_at) SELECT id, 1 + n % 50, {ts(f'{now_us} - (n * 7919) % {30 * DAY_US}')},"
      f" {ts(f'{now_us} - (n * 104729) % {60 * DAY_US}')}, '{{}}', 0, {ts(now_us)} FROM p")
    # Usage: 20 buckets a profile — five features, the last four months.
    q(f"WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i < 19)"
      f" INSERT INTO user_feature_usage (profile_id, feature_id, period_start, used, updated_at)"
      f" SELECT p.id, feat.id, strftime('%Y-%m-01T00:00:00.000000Z', 'now', 'start of month',"
      f" printf('-%d months', k.i / 5)), 1 + (p.n + k.i) % 25, {ts(now_us)}"
      f" FROM p, k JOIN feat ON feat.k = k.i % 5")
    # Grants: every other profile, fixed spans of 30 days to a year started during the year.
    start = f"{t0} + (p.n * 37 % 330) * {DAY_US}"
    q(f"INSERT INTO access_grants (id, profile_id, tier_id, source, kind, starts_at, ends_at,"
      f" created_at, status) SELECT {V4}, p.id, CASE WHEN p.n % 4 = 1 THEN 'premium' ELSE 'basic' END,"
      f" 'admin', 'fixed', {ts(start)}, {ts(f'{start} + (30 + p.n % 335) * {DAY_US}')}, {ts(start)},"
      f" NULL FROM p WHERE p.n % 2 = 1 AND p.n <= ?", grants * 2)
    # Tracked data: seven weigh-ins a profile, three meals or three activities.
    day = lambda k: f"date(({t0} + (({k}) * 50 + p.n % 50) * {DAY_US}) / 1000000, 'unixepoch')"
    at = lambda k: ts(f"{t0} + (({k}) * 50 + p.n % 50) * {DAY_US} + 28800000000")
    q(f"WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i < 6)"
      f" INSERT INTO weight_entries (id, profile_id, entry_date, created_at, updated_at, weight_kg)"
      f" SELECT {V4}, p.id, {day('k.i')}, {at('k.i')}, {at('k.i')}, 60 + p.n % 40 + k.i * 0.3 FROM p, k")
    q(f"WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i < 2)"
      f" INSERT INTO nutrition_entries (id, profile_id, entry_date, created_at, updated_at, kcal,"
      f" protein_g, carbs_g, fat_g) SELECT {V4}, p.id, {day('k.i')}, {at('k.i')}, {at('k.i')},"
      f" 1800 + p.n % 700, 90, 220, 60 FROM p, k WHERE p.n % 2 = 0")
    q(f"WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i < 2)"
      f" INSERT INTO activity_entries (id, profile_id, entry_date, created_at, updated_at, kind,"
      f" minutes, kcal) SELECT {V4}, p.id, {day('k.i')}, {at('k.i')}, {at('k.i')}, 'running',"
      f" 20 + p.n % 60, 300 FROM p, k WHERE p.n % 2 = 1")
    # Nothing folded until the year has been measured as it is.
    q("UPDATE app_settings SET value = '3650' WHERE key = 'activity_retention_days'")
    q("COMMIT")
    # The activity log, in time order, its secondary indexes built once at the end.
    indexes = q("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND "
                "tbl_name = 'user_activity_log' AND sql IS NOT NULL").fetchall()
    for name, _ in indexes:
        q(f"DROP INDEX {name}")
    step = 365 * DAY_US // max(entries, 1)
    chunk = 1_000_000
    for lo in range(0, entries, chunk):
        hi = min(entries, lo + chunk)
        t = f"({t0} + c.i * {step} + (c.i * 7919) % {step})"
        q("BEGIN")
        q(f"WITH RECURSIVE c(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM c WHERE i < ?)"
          f" INSERT INTO user_activity_log (id, profile_id, actor_id, action, details, ip, created_at)"
          f" SELECT {v7(t + ' / 1000')}, p.id, p.id,"
          f" CASE WHEN c.i % 50 = 0 THEN 'login' ELSE 'feature_used' END,"
          f" CASE WHEN c.i % 50 = 0 THEN '{{}}' ELSE '{{\"feature\":\"' || feat.id ||"
          f" '\",\"amount\":1,\"used\":' || (1 + c.i % 30) || '}}' END, '203.0.113.7', {ts(t)}"
          f" FROM c JOIN p ON p.n = 1 + (c.i * 2654435761) % {profiles}"
          f" JOIN feat ON feat.k = (c.i * 40503 + c.i / 7) % {features}", lo, hi - 1)
        q("COMMIT")
        print(f"\r  activity entries: {hi:,}", end="", flush=True)
    print()
    for _, sql in indexes:
        q(sql)
    q("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return profiles, entries


# --- the server and wrk ----------------------------------------------------------------------

CONSUME_LUA = """local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do tokens[#tokens + 1] = line end
local i = 0
wrk.method = "%s"
wrk.body = %s
request = function()
  i = i %% #tokens + 1
  return wrk.format(nil, nil, {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. tokens[i]})
end
"""


def port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def call(base, method, path, body=None, token=None):
    h = {"Content-Type": "application/json"}
    if token:
        h["Authorization"] = "Bearer " + token
    r = urllib.request.Request(base + path, data=json.dumps(body).encode() if body is not None else None,
                               method=method, headers=h)
    try:
        with urllib.request.urlopen(r, timeout=60) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class Server:
    def __init__(self, url):
        self.url, p = url, port()
        self.base = f"http://127.0.0.1:{p}"
        data = tempfile.mkdtemp(dir=WORK)
        env = {**os.environ, "MITAI_DATABASE_URL": url, "MITAI_LISTEN": f"127.0.0.1:{p}",
               "MITAI_DATA_DIR": data, "MITAI_MAIL": "log", "RUST_LOG": os.environ.get("RUST_LOG", "warn"),
               "MITAI_ADMIN_EMAIL": ADMIN[0], "MITAI_ADMIN_PASSWORD": ADMIN[1]}
        self.err = open(os.path.join(data, "err"), "w")
        self.proc = subprocess.Popen([BIN, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=self.err,
                                     start_new_session=True)
        PROCS.append(self.proc)
        end = time.time() + 120
        while time.time() < end:
            try:
                urllib.request.urlopen(self.base + "/healthz", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        s, r = call(self.base, "POST", "/api/auth/login", {"email": ADMIN[0], "password": ADMIN[1]})
        assert s == 200, (s, r)
        self.admin = r["token"]

    def setting(self, key, value):
        s, r = call(self.base, "PUT", f"/api/admin/settings/{key}", {"value": value}, self.admin)
        assert s == 200, (key, s, r)

    def rss(self):
        for line in open(f"/proc/{self.proc.pid}/status"):
            if line.startswith("VmHWM"):
                return int(line.split()[1]) // 1024
        return 0

    def stop(self):
        stop(self.proc)


def stop(p):
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGTERM)
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)


def wrk_out(out):
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    p99ms = float(p99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, p99ms, int(bad.group(1)) if bad else 0


def wrk_hot(url, tokens, method):
    tf = os.path.join(WORK, "tokens")
    open(tf, "w").write("\n".join(tokens))
    script = os.path.join(WORK, method + ".lua")
    open(script, "w").write(CONSUME_LUA % (method, "'{\"amount\": 1}'" if method == "POST" else "nil"))
    return wrk_out(sh("wrk", "-t2", f"-c{A.conns}", f"-d{A.secs}s", "--latency", "-s", script, url,
                      env={**os.environ, "TOKENS_FILE": tf}))


def wrk_page(server, path):
    return wrk_out(sh("wrk", "-t2", "-c16", f"-d{A.secs}s", "--latency", "-H",
                      f"Cookie: mitai_session={server.admin}", server.base + path))


def prepare(server, emails, register):
    """bench.py's set-up: no verification, no trial, an unlimited monthly feature `bench`;
    the profiles' bearer tokens (registered when they do not exist yet)."""
    server.setting("require_email_verification", False)
    server.setting("trial_days", 0)
    s, r = call(server.base, "POST", "/api/admin/features", {
        "id": "bench", "name": "bench", "description": "bench", "category": "bench", "kind": "count",
        "unit": "uses", "reset_period": "monthly", "default_limit": None, "active": True, "sort_order": 1},
        server.admin)
    assert s in (200, 201, 409), (s, r)
    tokens = []
    for e in emails:
        if register:
            s, r = call(server.base, "POST", "/api/auth/register", {"email": e, "password": PASSWORD})
            assert s == 201, (s, r)
        s, r = call(server.base, "POST", "/api/auth/login", {"email": e, "password": PASSWORD})
        assert s == 200, (e, s, r)
        tokens.append(r["token"])
    return tokens


def hot(server, tokens):
    """Consume, then check, as bench.py runs them."""
    return {"consume": wrk_hot(server.base + "/api/me/access/bench/consume", tokens, "POST"),
            "check": wrk_hot(server.base + "/api/me/access/bench", tokens, "GET")}


def measure(server, tokens, user_id):
    out = hot(server, tokens)
    for name, path in (("admin overview", "/admin"), ("admin user list", "/admin/users"),
                       ("admin user page", f"/admin/users/{user_id}")):
        with urllib.request.urlopen(urllib.request.Request(
                server.base + path, headers={"Cookie": f"mitai_session={server.admin}"}), timeout=120) as r:
            assert r.status == 200, (path, r.status)
        out[name] = wrk_page(server, path)
    # Again, some 40 s later: right after a start the first round of jobs (a year's expired
    # grants marked, 30 days of the log rolled up) still runs beside the first figure.
    out["consume, later"] = wrk_hot(server.base + "/api/me/access/bench/consume", tokens, "POST")
    out["peak RSS"] = server.rss()
    return out


def show(name, result):
    """Prints one column of the final table as soon as it is measured."""
    for k, v in result.items():
        if isinstance(v, tuple):
            log(f"  {name}: {k:<16} {v[0]:>10,.0f} req/s  p99 {v[1]:>7.1f} ms" + (f"  ({v[2]} non-2xx)" if v[2] else ""))
        else:
            log(f"  {name}: {k:<16} {v}")


def user_id(server, email):
    s, r = call(server.base, "GET", "/api/admin/users?query=" + email.split("@")[0], token=server.admin)
    assert s == 200 and r["items"], (s, r)
    return r["items"][0]["id"]


def rolled_up(server, since):
    """Waits until the jobs have rolled the log up to a minute before `since` (the first
    round after a start reads the last 30 days of the log)."""
    while True:
        s, r = call(server.base, "GET", "/api/admin/stats", token=server.admin)
        assert s == 200, (s, r)
        through = r.get("feature_usage_through")
        if through and calendar.timegm(time.strptime(through[:19], "%Y-%m-%dT%H:%M:%S")) >= since - 120:
            return
        time.sleep(2)


def old_entries(url, days):
    """Whether `feature_used` entries older than `days` (and ten minutes: the fold's cut-off
    moves once a round) are left (one indexed probe)."""
    if url.startswith("sqlite"):
        db = sqlite3.connect(url.split("://", 1)[1])
        cut = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - days * 86400 - 600))
        r = db.execute("SELECT 1 FROM user_activity_log WHERE created_at < ? AND action = 'feature_used'"
                       " LIMIT 1", (cut,)).fetchone()
        db.close()
        return r is not None
    return psql(url, f"SELECT 1 FROM user_activity_log WHERE created_at < now() - interval '{days} days 10 minutes'"
                     " AND action = 'feature_used' LIMIT 1") == "1"


def main():
    results, notes = {}, []
    emails_fresh = [f"bench{i}-{uuid.uuid4().hex[:6]}@example.com" for i in range(A.users)]

    log(f"fresh database ({'PostgreSQL' if PG else 'SQLite'}) ...")
    fresh = newdb("fresh")
    server = Server(fresh)
    fresh_tokens = prepare(server, emails_fresh, True)
    page_user = "page-user@example.com"
    prepare(server, [page_user], True)
    results["fresh"] = measure(server, fresh_tokens, user_id(server, page_user))
    server.stop()
    results["fresh"]["size"] = size(fresh)
    show("fresh", results["fresh"])

    log("the year: generating ...")
    path = os.path.join(WORK, "year.db")
    (profiles, entries), secs = timed(fill, path)
    note(notes, f"generated {profiles:,} profiles and {entries:,} activity entries into SQLite in {secs:,.0f} s")
    year = "sqlite://" + path
    if PG:
        year = newdb("year")
        log("the year: mitai db copy into PostgreSQL ...")
        rows_before = size("sqlite://" + path)
        _, secs = timed(sh, BIN, "db", "copy", "--from", "sqlite://" + path, "--to", year)
        note(notes, f"mitai db copy SQLite → PostgreSQL of the year ({mib(rows_before)} file): {secs:,.0f} s")
        os.remove(path)
    else:
        backup = os.path.join(WORK, "backup.db")
        _, secs = timed(sh, BIN, "db", "backup", backup, "--database-url", year)
        note(notes, f"mitai db backup of the year: {secs:,.0f} s ({mib(os.path.getsize(backup))})")
        os.remove(backup)
    year_size = size(year)
    # The generated gigabytes (and the backup) leave the kernel's write-back busy for a while:
    # flushed here, so that it is not measured as the year's cost.
    _, secs = timed(os.sync)
    note(notes, f"sync of the generated files: {secs:,.0f} s")

    emails_year = [f"user-{1 + i * (profiles // A.users):06d}@example.org" for i in range(A.users)]
    page_user = f"user-{profiles // 2 + 2:06d}@example.org"  # a year of use, not the load's
    started = time.time()
    server = Server(year)
    tokens = prepare(server, emails_year, False)
    log("the year: waiting for the first roll-up of the statistics ...")
    rolled_up(server, started)
    note(notes, f"the first roll-up of 30 days of the log after the start: {time.time() - started:,.0f} s")
    log("the year: measuring ...")
    results["year"] = measure(server, tokens, user_id(server, page_user))
    results["year"]["size"] = year_size
    show("year", results["year"])

    if not A.no_fold:
        server.setting("activity_retention_days", 90)
    server.stop()
    # This machine's speed drifts within minutes: the fresh database once more, right after
    # the year, for a second ratio.
    log("fresh database, again ...")
    server = Server(fresh)
    results["fresh, again"] = {**hot(server, fresh_tokens), "peak RSS": server.rss()}
    server.stop()
    show("fresh, again", results["fresh, again"])
    if A.no_fold:
        table(results, notes)
        return
    log("the fold: retention at 90 days, consume running ...")
    t = time.time()
    server = Server(year)  # the jobs run at start
    fold = hot(server, tokens)
    show("during the fold", fold)
    while old_entries(year, 90):
        time.sleep(5)
    fold_secs = time.time() - t
    fold["peak RSS"] = server.rss()
    results["during the fold"] = fold
    show("during the fold", fold)
    folded = entries * 49 // 50 * 275 // 365
    note(notes, f"the fold of ~{folded:,} entries took {fold_secs:,.0f} s from the server's start "
                 f"(~{folded / fold_secs:,.0f} entries/s, paced: two thirds of the time to the hot path)")
    if PG:
        _, secs = timed(psql, year, "VACUUM ANALYZE")
        note(notes, f"VACUUM ANALYZE after the fold: {secs:,.0f} s")
    log("after the fold: measuring ...")
    results["after retention"] = measure(server, tokens, user_id(server, page_user))
    server.stop()
    results["after retention"]["size"] = size(year)
    show("after retention", results["after retention"])
    if PG:
        psql(year, "VACUUM FULL user_activity_log")
        note(notes, f"after VACUUM FULL user_activity_log: {mib(size(year))}")
    else:
        db = sqlite3.connect(year.split("://", 1)[1])
        free = db.execute("PRAGMA freelist_count").fetchone()[0] * db.execute("PRAGMA page_size").fetchone()[0]
        db.close()
        note(notes, f"free pages inside the file after retention (reused by new entries): {mib(free)}")
        backup = os.path.join(WORK, "backup.db")
        _, secs = timed(sh, BIN, "db", "backup", backup, "--database-url", year)
        note(notes, f"mitai db backup after retention: {secs:,.0f} s ({mib(os.path.getsize(backup))})")
    table(results, notes)


def table(results, notes):
    cols = list(results)
    rows = ["consume", "check", "admin overview", "admin user list", "admin user page", "consume, later"]
    log(f"\n{'':<18}" + "".join(f"{c:>26}" for c in cols))
    for r in rows:
        line = f"{r:<18}"
        for c in cols:
            v = results[c].get(r)
            line += f"{v[0]:>12,.0f} req/s {v[1]:>6.1f} ms" if v else f"{'':>26}"
            if v and v[2]:
                line += f" ({v[2]} non-2xx)"
        log(line)
    log(f"{'peak RSS':<18}" + "".join(f"{str(results[c].get('peak RSS', '')) + ' MiB':>26}" for c in cols))
    log(f"{'database size':<18}" + "".join(f"{mib(results[c]['size']) if 'size' in results[c] else '':>26}"
                                           for c in cols))
    for r in ("consume", "check", "consume, later"):
        line = f"{r}: year / fresh {results['year'][r][0] / results['fresh'][r][0]:.2f}"
        if r in results["fresh, again"]:
            line += f" (/ fresh, again {results['year'][r][0] / results['fresh, again'][r][0]:.2f})"
        if "after retention" in results:
            line += f", after retention / fresh {results['after retention'][r][0] / results['fresh'][r][0]:.2f}"
        log(line)
    for n in notes:
        log(n)


def note(notes, text):
    notes.append(text)
    log("  " + text)


try:
    main()
finally:
    for p in PROCS:
        stop(p)
    if A.keep:
        print(f"kept: {WORK} {DATABASES}")
    else:
        shutil.rmtree(WORK, ignore_errors=True)
        for server, name in DATABASES:
            subprocess.run(["psql", "-qX", server + "/postgres", "-c",
                            f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], capture_output=True)
