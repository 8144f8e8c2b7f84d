"""railyard's small app, used by the dev stack and by the real-engine tests.

  serve    HTTP on $PORT (8000): /health (or any path ending in /health) answers JSON with the version and the status of the database and Redis
           the env points at (checked with psql and redis-cli), "/" answers the role and version.
  migrate  stands in for a migration; MIGRATE_FAIL=1 makes it fail with exit 3.
  worker   idles with a heartbeat.
  beat     a scheduler: every BEAT_EVERY seconds (1) it sends a tick, recorded as "<hostname> <epoch>" on the Redis
           list railyard:beat (REDIS_URL), so two schedulers running at once are seen.
APP_MODE=crash makes every mode but migrate exit 1 at once (a release whose migration passes but that crashes on start).
APP_LATE_HANDLER=N waits N seconds before installing the SIGTERM handler, as a real app that imports for a while
does (as PID 1, SIGTERM is ignored until then).
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = os.environ.get("APP_VERSION", "dev")


def check(var, argv):
    if not os.environ.get(var):
        return "absent"
    try:
        done = subprocess.run(argv, capture_output=True, timeout=3, text=True)
    except (OSError, subprocess.TimeoutExpired):
        return "error"
    return "ok" if done.returncode == 0 else "error"


def health():
    body = {
        "status": "ok",
        "version": VERSION,
        "database": check("DATABASE_URL", ["psql", os.environ.get("DATABASE_URL", ""), "-tAc", "select 1"]),
        "redis": check("REDIS_URL", ["redis-cli", "-u", os.environ.get("REDIS_URL", ""), "--no-auth-warning", "ping"]),
    }
    if "error" in body.values() or os.environ.get("DEGRADED") == "1":
        body["status"] = "degraded"
    return body


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = health() if self.path.split("?")[0].endswith("/health") else {"role": os.environ.get("APP_ROLE", "app"), "version": VERSION}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        # Read the whole body before answering, as a real framework does: a server that answers and closes with
        # the body unread makes the proxy in front fail the request (502, or a hang-up) while it still sends it.
        received = len(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        data = json.dumps({"received": received}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    # A listen backlog like a production server's, so bursts of new connections are queued, not dropped.
    request_queue_size = 128
    daemon_threads = True


def beat():
    every = float(os.environ.get("BEAT_EVERY", "1"))
    host = socket.gethostname()
    while True:
        if os.environ.get("REDIS_URL"):
            try:
                subprocess.run(["redis-cli", "-u", os.environ["REDIS_URL"], "--no-auth-warning", "rpush", "railyard:beat", f"{host} {time.time():.3f}"],
                               capture_output=True, timeout=3)
            except (OSError, subprocess.TimeoutExpired):
                pass
        print(f"beat {VERSION}: sent a tick", flush=True)
        time.sleep(every)


def main():
    time.sleep(float(os.environ.get("APP_LATE_HANDLER", "0")))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    mode = sys.argv[1] if len(sys.argv) > 1 else "serve"
    if os.environ.get("APP_MODE") == "crash" and mode != "migrate":
        print(f"{VERSION}: crashing on start, as told", flush=True)
        sys.exit(1)
    if mode == "serve":
        Server(("0.0.0.0", int(os.environ.get("PORT", "8000"))), Handler).serve_forever()
    elif mode == "migrate":
        if os.environ.get("MIGRATE_FAIL") == "1":
            print("migration failed: Multiple head revisions are present", file=sys.stderr)
            sys.exit(3)
        print("migrations: nothing to apply")
    elif mode == "beat":
        beat()
    else:
        while True:
            print(f"{mode} {VERSION}: alive", flush=True)
            time.sleep(30)


if __name__ == "__main__":
    main()
