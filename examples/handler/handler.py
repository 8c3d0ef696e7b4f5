#!/usr/bin/env python3
"""Example handler service for kafka-ingress (Python 3 standard library only).

Serves the Restate-style endpoint manifest at GET /discover and two handlers:

  Counter (VIRTUAL_OBJECT), handler `add` (EXCLUSIVE): adds the record's JSON number (any other
      JSON value counts as 1) to the counter of the record's key.
      Invoked as POST /Counter/<key>/add.
  Greeter (SERVICE), handler `greet`: greets the JSON string (or {"name": ...}) it gets.
      Invoked as POST /Greeter/greet.

Every invocation prints one line to stdout, e.g.

  Counter/alice/add partition=0 offset=42 idempotency-key=sub_...-0-42 body={"n": 1}

Run:  python3 handler.py [--port 9080] [--host 0.0.0.0]
"""

import argparse
import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

MANIFEST = {
    "services": [
        {
            "name": "Counter",
            "ty": "VIRTUAL_OBJECT",
            "handlers": [
                {
                    "name": "add",
                    "ty": "EXCLUSIVE",
                    "input": {"contentType": "application/json"},
                }
            ],
        },
        {
            "name": "Greeter",
            "ty": "SERVICE",
            "handlers": [
                {
                    "name": "greet",
                    "input": {"contentType": "application/json"},
                }
            ],
        },
    ],
}

# Counter state per key. The ingress delivers one record per key at a time, the lock guards
# against different keys updating the dict concurrently.
counters = {}
counters_lock = threading.Lock()
output_lock = threading.Lock()


class BadRequest(Exception):
    """The request cannot be handled; answered with 400 (a terminal failure for the ingress)."""


class Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps connections alive between invocations; every answer sets Content-Length.
    protocol_version = "HTTP/1.1"
    server_version = "kafka-ingress-example-handler"

    def do_GET(self):
        if self.path.split("?", 1)[0] == "/discover":
            self.reply(200, MANIFEST)
        else:
            self.reply(404, {"message": f"no such path: {self.path}"})

    def do_POST(self):
        body = self.read_body()
        parts = self.path.split("?", 1)[0].strip("/").split("/")
        try:
            if len(parts) == 3 and parts[0] == "Counter" and parts[2] == "add":
                key = unquote(parts[1])
                self.log_event(f"Counter/{key}/add", body)
                self.reply(200, add(key, parse_json(body)))
            elif parts == ["Greeter", "greet"]:
                self.log_event("Greeter/greet", body)
                self.reply(200, greet(parse_json(body)))
            else:
                self.reply(404, {"message": f"no such handler: {self.path}"})
        except BadRequest as e:
            self.reply(400, {"message": str(e)})

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    # Trailers end with an empty line.
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def log_event(self, target, body):
        h = self.headers
        line = (
            f"{target} partition={h.get('kafka.partition', '-')} "
            f"offset={h.get('kafka.offset', '-')} "
            f"idempotency-key={h.get('idempotency-key', '-')} "
            f"body={body.decode('utf-8', 'replace')}\n"
        )
        # One write per line under a lock: concurrent handler threads must not interleave.
        with output_lock:
            sys.stdout.write(line)
            sys.stdout.flush()

    def reply(self, status, value):
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        # Keep stdout to one line per event; request logs would double it.
        pass


def parse_json(body):
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError as e:
        raise BadRequest(f"body is not JSON: {e}") from None


def add(key, value):
    delta = value if isinstance(value, (int, float)) and not isinstance(value, bool) else 1
    with counters_lock:
        counters[key] = counters.get(key, 0) + delta
        return {"key": key, "count": counters[key]}


def greet(value):
    name = value.get("name") if isinstance(value, dict) else value
    return {"greeting": f"Hello, {name if isinstance(name, str) and name else 'world'}!"}


def main():
    parser = argparse.ArgumentParser(description="Example kafka-ingress handler service.")
    parser.add_argument("--port", type=int, default=9080, help="port to listen on (default 9080)")
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    args = parser.parse_args()

    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True

    # As PID 1 in a container SIGTERM has no default action: stop cleanly on it.
    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    print(f"handler listening on {args.host}:{args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
