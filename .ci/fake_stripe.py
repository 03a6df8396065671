"""A local stand-in for the Stripe API, for the API fuzz run (payments on).

Knows one recurring price (`price_fuzz_month`); makes customers, checkout and portal
sessions; knows no subscription (404), as Stripe answers an unknown id. Prints the port it
listens on, then serves until killed.
"""
import json
import sys
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PRICE = {"id": "price_fuzz_month", "object": "price", "active": True, "currency": "eur",
         "unit_amount": 999, "type": "recurring", "nickname": "Monthly",
         "recurring": {"interval": "month", "interval_count": 1}}


class Handler(BaseHTTPRequestHandler):
    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.startswith("/v1/prices/price_fuzz_month"):
            return self.answer(200, PRICE)
        self.answer(404, {"error": {"message": "No such object"}})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        port = self.server.server_address[1]
        if self.path == "/v1/customers":
            return self.answer(200, {"id": f"cus_{uuid.uuid4().hex[:14]}", "object": "customer"})
        if self.path == "/v1/checkout/sessions":
            sid = f"cs_{uuid.uuid4().hex[:14]}"
            return self.answer(200, {"id": sid, "url": f"http://127.0.0.1:{port}/checkout/{sid}"})
        if self.path == "/v1/billing_portal/sessions":
            return self.answer(200, {"id": "bps_fuzz", "url": f"http://127.0.0.1:{port}/portal"})
        self.answer(404, {"error": {"message": "No such object"}})

    def do_DELETE(self):
        self.answer(404, {"error": {"message": "No such object"}})

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
sys.stdout.close()
server.serve_forever()
