#!/usr/bin/env python3
"""A burst of Stripe webhooks against the release binary: 1,000 signed `invoice.paid`
events (100 subscriptions, 10 paid periods each) and 100 of them again, posted by 32
clients at once. Prints how long the answers took (p50, p99, max), the rate, and checks
afterwards that each invoice counted once (the revenue is 1,000 payments, not 1,100).

    cargo build --release && python3 perf/webhook-burst.py [database-url]

Without a URL it runs on a fresh SQLite file; a postgres:// URL must name an empty
database. A small Stripe stand-in (only `GET /v1/prices/{id}`, for selling the price)
runs inside this script.
"""
import hashlib, hmac, http.client, http.server, json, os, random, socket, subprocess, sys
import tempfile, threading, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("MITAI_BIN", os.path.join(ROOT, "target/release/mitai"))
SECRET = "whsec_burst"
work = tempfile.mkdtemp()
db = sys.argv[1] if len(sys.argv) > 1 else f"sqlite://{work}/burst.db"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Stripe(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        price = {"id": "price_burst", "object": "price", "active": True, "currency": "eur",
                 "unit_amount": 999, "type": "recurring", "nickname": "Monthly",
                 "recurring": {"interval": "month", "interval_count": 1}}
        body = json.dumps(price).encode()
        ok = self.path == "/v1/prices/price_burst"
        self.send_response(200 if ok else 404)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


stripe = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stripe)
threading.Thread(target=stripe.serve_forever, daemon=True).start()
port = free_port()
base = f"http://127.0.0.1:{port}"
env = dict(os.environ, MITAI_DATABASE_URL=db, MITAI_LISTEN=f"127.0.0.1:{port}",
           MITAI_BASE_URL=base, MITAI_DATA_DIR=os.path.join(work, "data"),
           MITAI_ADMIN_EMAIL="admin@example.org", MITAI_ADMIN_PASSWORD="burst-pass-1",
           MITAI_STRIPE_SECRET_KEY="sk_burst", MITAI_STRIPE_WEBHOOK_SECRET=SECRET,
           MITAI_STRIPE_API_BASE=f"http://127.0.0.1:{stripe.server_address[1]}",
           RUST_LOG="warn")
server = subprocess.Popen([BIN, "serve"], env=env, stdout=subprocess.PIPE)
server.stdout.readline()


def call(method, path, body=None, token=None):
    request = urllib.request.Request(base + path, method=method,
                                     data=None if body is None else json.dumps(body).encode())
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


try:
    _, login = call("POST", "/api/auth/login", {"email": "admin@example.org", "password": "burst-pass-1"})
    admin = login["token"]
    status, body = call("POST", "/api/admin/billing/prices", {"stripe_price_id": "price_burst", "tier": "premium"}, admin)
    assert status == 201, body
    call("PUT", "/api/admin/settings/require_email_verification", {"value": False}, admin)
    profiles = []
    for i in range(100):
        status, body = call("POST", "/api/auth/register",
                            {"email": f"burst-{i}@example.org", "password": "burst-pass-1", "name": "B"})
        assert status == 201, body
        profiles.append(body["profile"]["id"])
    start = int(time.time())
    events = []
    for i, profile in enumerate(profiles):
        for n in range(10):
            t0 = start + n * 30 * 86400
            invoice = {"id": f"in_{i}_{n}", "object": "invoice", "status": "paid",
                       "amount_paid": 999, "amount_due": 999, "currency": "eur", "created": t0,
                       "parent": {"subscription_details": {"subscription": f"sub_{i}",
                                                           "metadata": {"profile_id": profile}}},
                       "lines": {"data": [{"period": {"start": t0, "end": t0 + 30 * 86400},
                                           "pricing": {"price_details": {"price": "price_burst"}}}]}}
            events.append({"id": f"evt_{i}_{n}", "object": "event", "type": "invoice.paid",
                           "created": start, "data": {"object": invoice}})
    burst = events + random.sample(events, 100)
    random.shuffle(burst)
    lock = threading.Lock()
    took, statuses = [], []

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port)
        while True:
            with lock:
                if not burst:
                    return
                event = burst.pop()
            body = json.dumps(event).encode()
            t = str(int(time.time()))
            mac = hmac.new(SECRET.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
            began = time.perf_counter()
            conn.request("POST", "/api/webhooks/stripe", body,
                         {"content-type": "application/json", "stripe-signature": f"t={t},v1={mac}"})
            response = conn.getresponse()
            response.read()
            elapsed = time.perf_counter() - began
            with lock:
                took.append(elapsed)
                statuses.append(response.status)

    began = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    took.sort()
    ok = sum(1 for s in statuses if 200 <= s < 300)
    print(f"webhooks {len(took)}: {ok} answered 2xx; p50 {took[len(took) // 2] * 1000:.1f} ms, "
          f"p99 {took[len(took) * 99 // 100] * 1000:.1f} ms, max {took[-1] * 1000:.1f} ms, "
          f"{len(took) / wall:.0f} per second ({wall:.2f} s)")
    # Applied once each: the revenue of 1,000 payments (not 1,100).
    deadline = time.time() + 60
    while True:
        _, stats = call("GET", "/api/admin/stats", None, admin)
        revenue = sum(a["amount"] for a in stats["billing"]["revenue_last_30_days"])
        _, pending = call("GET", "/api/admin/billing/events?status=pending", None, admin)
        if revenue == 999 * 1000 and not pending["items"]:
            break
        assert revenue <= 999 * 1000, f"counted twice: {revenue}"
        assert time.time() < deadline, f"not all applied: revenue {revenue}"
        time.sleep(0.2)
    _, failed = call("GET", "/api/admin/billing/events?status=failed", None, admin)
    print(f"applied: revenue {revenue / 100:.2f} EUR = 1,000 payments, "
          f"paying subscribers {stats['billing']['paying_subscribers']}, failed events {len(failed['items'])}")
    assert ok == len(took) == 1100 and not failed["items"]
finally:
    server.terminate()
    server.wait()
    stripe.shutdown()
