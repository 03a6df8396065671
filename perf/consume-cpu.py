#!/usr/bin/env python3
"""CPU per request of the hot path, by thread: where a consume's (or a check's) time goes.

Requests per second swing by a third between two runs on a shared 2-core machine; the CPU
each request costs swings far less, so this is the figure to compare two builds by. Starts
`mitai serve` (the release build, or BIN) on a fresh SQLite file or PostgreSQL database,
registers 100 profiles, runs wrk (2 threads, 32 connections) against
POST /api/me/access/bench/consume and GET /api/me/access/bench, and prints for each:
req/s, p50/p99, the server's CPU per request by thread name (tokio workers, the SQLite
writer and checkpointer), PostgreSQL's CPU per request (all its processes), PostgreSQL
commits per request (1 / batch size), and how busy the machine was (idle and steal left).

    cargo build --release && perf/consume-cpu.py sqlite|postgres [seconds] [consume|check|both]

MITAI_BENCH_PG names the PostgreSQL server (default postgres://postgres@127.0.0.1:5432),
CONNS wrk's connections (default 32).
Other variables are passed to the server (MITAI_*, RUST_LOG)."""
import json, os, re, shutil, signal, socket, subprocess, sys, tempfile, time, uuid
import urllib.error, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
backend = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
secs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
which = sys.argv[3] if len(sys.argv) > 3 else "both"
if backend not in ("sqlite", "postgres") or which not in ("consume", "check", "both"):
    sys.exit(__doc__)
binary = os.environ.get("BIN", os.path.join(ROOT, "target/release/mitai"))
if not os.path.exists(binary):
    sys.exit("build first: cargo build --release")
pg = os.environ.get("MITAI_BENCH_PG", "postgres://postgres@127.0.0.1:5432")
tmp = tempfile.mkdtemp()
if backend == "postgres":
    name = f"mitai_cpu_{uuid.uuid4().hex[:8]}"
    subprocess.run(["psql", f"{pg}/postgres", "-qc", f"CREATE DATABASE {name}"], check=True)
    url = f"{pg}/{name}"
else:
    url = f"sqlite://{tmp}/mitai.db"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def call(base, method, path, body=None, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def thread_cpu(pid):
    """CPU seconds so far, by thread name."""
    out = {}
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            stat = open(f"/proc/{pid}/task/{t}/stat").read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        out[name] = out.get(name, 0) + (int(fields[11]) + int(fields[12])) / 100
    return out


def postgres_cpu():
    """CPU seconds of the PostgreSQL processes alive now (backends of the pool stay)."""
    total = 0
    for d in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = open(f"/proc/{d}/stat").read()
        except OSError:
            continue
        if "(postgres)" in stat or "(postmaster)" in stat:
            fields = stat[stat.rindex(")") + 2:].split()
            total += (int(fields[11]) + int(fields[12])) / 100
    return total


def commits():
    if backend != "postgres":
        return 0
    out = subprocess.run(["psql", url, "-Atc", "SELECT xact_commit FROM pg_stat_database "
                          "WHERE datname = current_database()"], capture_output=True, text=True).stdout
    return int(out.strip() or 0)


def machine():
    return [int(x) for x in open("/proc/stat").readline().split()[1:]]


port = free_port()
server = subprocess.Popen([binary, "serve"], env={
    **os.environ, "MITAI_DATABASE_URL": url, "MITAI_LISTEN": f"127.0.0.1:{port}",
    "MITAI_DATA_DIR": tmp, "MITAI_MAIL": "log", "RUST_LOG": os.environ.get("RUST_LOG", "error"),
    "MITAI_ADMIN_EMAIL": "admin@example.com", "MITAI_ADMIN_PASSWORD": "admin-password-123"},
    stdout=open(os.environ.get("SERVER_LOG", os.devnull), "w"), stderr=subprocess.STDOUT, start_new_session=True)
try:
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(base + "/healthz", timeout=2)
            break
        except urllib.error.HTTPError:
            break
        except OSError:
            time.sleep(0.1)
    _, r = call(base, "POST", "/api/auth/login", {"email": "admin@example.com", "password": "admin-password-123"})
    admin = r["token"]
    for key, value in (("require_email_verification", False), ("trial_days", 0)):
        call(base, "PUT", f"/api/admin/settings/{key}", {"value": value}, admin)
    call(base, "POST", "/api/admin/features", {
        "id": "bench", "name": "bench", "description": "bench", "category": "bench", "kind": "count",
        "unit": "uses", "reset_period": "monthly", "default_limit": None, "active": True, "sort_order": 1}, admin)
    tokens = []
    for i in range(100):
        email = f"bench{i}-{uuid.uuid4().hex[:6]}@example.com"
        status, r = call(base, "POST", "/api/auth/register", {"email": email, "password": "password-123"})
        assert status == 201, (status, r)
        _, r = call(base, "POST", "/api/auth/login", {"email": email, "password": "password-123"})
        tokens.append(r["token"])
    with open(os.path.join(tmp, "tokens"), "w") as f:
        f.write("\n".join(tokens))
    # wrk scripts: each connection's requests rotate over the bearer tokens.
    lua = os.path.join(tmp, "tokens.lua")
    with open(lua, "w") as script:
        script.write('local tokens = {}\n'
                     'for line in io.lines(os.getenv("TOKENS_FILE")) do tokens[#tokens + 1] = line end\n'
                     'local i = 0\n'
                     'wrk.method = os.getenv("METHOD")\n'
                     'if wrk.method == "POST" then wrk.body = \'{"amount": 1}\' end\n'
                     'request = function()\n'
                     '  i = i % #tokens + 1\n'
                     '  return wrk.format(nil, nil, {["Content-Type"] = "application/json",\n'
                     '                               ["Authorization"] = "Bearer " .. tokens[i]})\n'
                     'end\n')

    def run(label, path, method):
        t0, p0, x0, m0 = thread_cpu(server.pid), postgres_cpu(), commits(), machine()
        out = subprocess.run(["wrk", "-t2", f"-c{os.environ.get('CONNS', 32)}", f"-d{secs}s", "--latency", "-s", lua, base + path],
                             capture_output=True, text=True,
                             env={**os.environ, "TOKENS_FILE": f.name, "METHOD": method}).stdout
        t1, p1, x1, m1 = thread_cpu(server.pid), postgres_cpu(), commits(), machine()
        total = int(re.search(r"(\d+) requests in", out).group(1))
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        lat = re.search(r"^\s+50%\s+(\S+).*?^\s+99%\s+(\S+)", out, re.S | re.M)
        bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        print(f"{label}: {rps:,.0f} req/s, p50 {lat.group(1)}, p99 {lat.group(2)}"
              + (f", {bad.group(1)} non-2xx" if bad else ""))
        per = {k: (t1[k] - t0.get(k, 0)) / total * 1e6 for k in t1 if t1[k] - t0.get(k, 0) > 0.02}
        print("  server CPU per request: " + ", ".join(f"{k} {v:.1f} µs" for k, v in sorted(per.items())))
        if backend == "postgres":
            print(f"  PostgreSQL CPU per request: {(p1 - p0) / total * 1e6:.1f} µs; "
                  f"commits per request: {(x1 - x0) / total:.3f}")
        d = [b - a for a, b in zip(m0, m1)]
        print(f"  machine ({secs} s × {os.cpu_count()} cores): busy {(d[0] + d[1] + d[2] + d[5] + d[6]) / 100:.1f} s, "
              f"idle {(d[3] + d[4]) / 100:.1f} s, steal {d[7] / 100:.1f} s")

    if which in ("consume", "both"):
        run("consume", "/api/me/access/bench/consume", "POST")
    if which in ("check", "both"):
        run("check", "/api/me/access/bench", "GET")
finally:
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(20)
    if backend == "postgres":
        subprocess.run(["psql", f"{pg}/postgres", "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"])
    shutil.rmtree(tmp, ignore_errors=True)
