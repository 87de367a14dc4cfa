#!/usr/bin/env python3
"""A proxy in front of moto's S3 that breaks a share of its answers, the
ways a bad network and a busy S3 do.

What it is: every request is forwarded to the upstream (moto), except that
a seeded draw may answer it with a fault instead:

  503         `503 SlowDown`, S3's throttling answer (XML error body)
  500         `500 InternalError`
  reset       the connection is reset (RST) before any answer
  truncate    the headers promise the whole body; half is sent, then the
              connection is closed
  stall       the request is read and never answered (the connection
              stays open for --stall-seconds, then closes)
  stall-body  the headers and half the body are sent, then nothing more
              for --stall-seconds

Each kind has its own rate (`--fault 503=0.05 --fault reset=0.05 ...`).
The draw for a request depends only on the seed, the method, the path and
how many times that method and path were asked before, so a run faults the
same requests whatever the order the client's threads send them in. Body
faults (truncate, stall-body) apply to answers with a body of at least two
bytes; others pass. `GET /__faults` answers the counts of faults served as
JSON (bucket names cannot hold `_`, so it never shadows a bucket).

What it is not: a signature check, virtual-host addressing (path style
only, as denydiff uses with --endpoint-url), or a relay of chunked request
bodies (uploads go to moto directly).

Usage:
  python3 tests/servers/s3_faults.py --upstream http://127.0.0.1:5000 --port PORT
      [--seed N] [--fault KIND=RATE ...] [--stall-seconds S]
  (--port 0: a free port; the first line printed says which)
"""
import argparse, collections, http.client, json, random, socket, struct, sys
import threading, time, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KINDS = ("503", "500", "reset", "truncate", "stall", "stall-body")
BODY_KINDS = ("truncate", "stall-body")
ERRORS = {
    "503": (503, "SlowDown", "Please reduce your request rate."),
    "500": (500, "InternalError", "We encountered an internal error. Please try again."),
}


def parse_fault(text):
    kind, _, rate = text.partition("=")
    if kind not in KINDS:
        raise argparse.ArgumentTypeError(f"unknown fault `{kind}` (one of {', '.join(KINDS)})")
    try:
        p = float(rate)
    except ValueError:
        raise argparse.ArgumentTypeError(f"`{text}`: write KIND=RATE, e.g. reset=0.05")
    if not 0 <= p <= 1:
        raise argparse.ArgumentTypeError(f"`{text}`: the rate is between 0 and 1")
    return kind, p


class Draws:
    """The seeded fault choice per request, and the counts served."""

    def __init__(self, seed, rates):
        self.seed, self.rates = seed, rates
        self.asked = collections.Counter()
        self.served = collections.Counter()
        self.lock = threading.Lock()

    def pick(self, method, path):
        with self.lock:
            n = self.asked[(method, path)]
            self.asked[(method, path)] += 1
        u = random.Random(f"{self.seed}|{method}|{path}|{n}").random()
        for kind, p in self.rates:
            if u < p:
                return kind
            u -= p
        return None

    def count(self, kind):
        with self.lock:
            self.served[kind] += 1

    def report(self):
        with self.lock:
            return dict(self.served)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--fault", type=parse_fault, action="append", default=[])
    ap.add_argument("--stall-seconds", type=float, default=600.0)
    args = ap.parse_args()
    up = urllib.parse.urlsplit(args.upstream)
    draws = Draws(args.seed, args.fault)

    def upstream(method, path, headers, body):
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def relay(self):
            if self.path == "/__faults":
                return self.answer(200, [("Content-Type", "application/json")],
                                   json.dumps(draws.report()).encode())
            if "chunked" in self.headers.get("Transfer-Encoding", ""):
                return self.send_error(501, "chunked request bodies are not relayed")
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            kind = draws.pick(self.command, self.path)
            if kind in ("reset", "stall"):
                draws.count(kind)
                if kind == "stall":
                    time.sleep(args.stall_seconds)
                return self.reset()
            if kind in ERRORS:
                draws.count(kind)
                return self.error(*ERRORS[kind])
            headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            status, got, data = upstream(self.command, self.path, headers, body)
            keep = [(k, v) for k, v in got
                    if k.lower() not in ("transfer-encoding", "connection", "content-length")]
            if self.command == "HEAD":
                length = dict((k.lower(), v) for k, v in got).get("content-length", "0")
                return self.answer(status, keep + [("Content-Length", length)], b"")
            if kind in BODY_KINDS and len(data) >= 2:
                draws.count(kind)
                return self.cut(status, keep, data, stall=kind == "stall-body")
            self.answer(status, keep, data)

        def answer(self, status, headers, data):
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            if not any(k.lower() == "content-length" for k, _ in headers):
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def error(self, status, code, message):
            text = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                    f"<Message>{message}</Message><RequestId>fault</RequestId></Error>")
            self.answer(status, [("Content-Type", "application/xml")], text.encode())

        def cut(self, status, headers, data, stall):
            """Promises all of `data`, sends half, then stalls or closes."""
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            if stall:
                time.sleep(args.stall_seconds)
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

        def reset(self):
            """Closes with RST: SO_LINGER on, zero seconds."""
            self.close_connection = True
            try:
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            except OSError:
                pass

        def finish(self):
            try:
                super().finish()
            except OSError:
                pass

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = relay

    class Server(ThreadingHTTPServer):
        request_queue_size = 256
        daemon_threads = True

        def handle_error(self, request, client_address):
            pass  # a client that gave up on a stalled answer is expected

    server = Server((args.host, args.port), Handler)
    print(f"listening on http://{args.host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
