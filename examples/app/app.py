"""Dev-stack example app: `serve` answers /health with its version and whether its database and Redis accept
TCP connections; `worker`/`beat` idle with a heartbeat; `migrate` stands in for a migration."""
import json
import os
import signal
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse


def reachable(url_var):
    url = os.environ.get(url_var)
    if not url:
        return "absent"
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port), timeout=2):
            return "ok"
    except OSError:
        return "down"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/health":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(f"railyard example {os.environ.get('APP_ROLE', 'app')}\n".encode())
            return
        body = {"status": "ok", "version": os.environ.get("APP_VERSION", "dev"),
                "database": reachable("DATABASE_URL"), "redis": reachable("REDIS_URL")}
        if "down" in body.values():
            body["status"] = "degraded"
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    mode = sys.argv[1] if len(sys.argv) > 1 else "serve"
    if mode == "serve":
        ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8000"))), Handler).serve_forever()
    elif mode == "migrate":
        print("migrations: nothing to apply")
    else:
        while True:
            print(f"{mode}: alive", flush=True)
            time.sleep(30)


if __name__ == "__main__":
    main()
