#!/usr/bin/env python3
"""Local test double for the AWS CloudTrail LookupEvents API (awsJson1_1).

What it is: a small HTTP server that answers `POST /` with
`x-amz-target: CloudTrail_20131101.LookupEvents` from CloudTrail records loaded
from files, so the real Rust `aws-sdk-cloudtrail` client can be tested without
AWS (moto does not implement LookupEvents). It models the parts our fetcher
depends on: one lookup attribute at most, inclusive StartTime/EndTime, pages of
MaxResults (1..50, default 50) newest first, NextToken bound to the query, the
per-region rate limit (ThrottlingException) and injected 500s / dropped
connections.

What it is not: an emulator. It checks no signatures or credentials, does not
filter by region (every region sees every loaded event), keeps no 90-day
window, ignores EventCategory, and derives Username/Resources from the record
the simple way (userName, else the last segment of the ARN).

Usage:
  python3 tests/servers/lookup_events.py --events FILE [--events FILE ...] --port PORT
      [--host 127.0.0.1] [--rate 2] [--fail-every N] [--drop-every N] [--stats FILE]
  python3 tests/servers/lookup_events.py --self-test
"""
import argparse, base64, collections, datetime, gzip, hashlib, json, os, re
import signal, socket, sys, tempfile, threading, time, urllib.error, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TARGETS = {"CloudTrail_20131101.LookupEvents",
           "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"}
JSON_11 = "application/x-amz-json-1.1"
ATTRIBUTE_KEYS = {"EventId", "EventName", "ReadOnly", "Username", "ResourceType",
                  "ResourceName", "EventSource", "AccessKeyId"}
REGION_RE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/")
SKIP_DIRS = ("CloudTrail-Digest", "CloudTrail-Insight", "CloudTrail-Aggregated")


class ApiError(Exception):
    """An error answered as `{"__type": kind, "message": ...}`."""
    def __init__(self, kind, message, status=400):
        super().__init__(message)
        self.kind, self.message, self.status = kind, message, status


# ---------------------------------------------------------------- loading

def _records_from_text(text):
    """Records from any CloudTrail shape: {"Records"}, array, NDJSON, or
    LookupEvents output ({"Events"} or JSON lines of items with CloudTrailEvent)."""
    text = text.strip()
    try:
        docs = [json.loads(text)] if text else []
    except json.JSONDecodeError:
        docs = [json.loads(line) for line in text.splitlines() if line.strip()]
    out = []
    for doc in docs:
        if isinstance(doc, dict) and ("digestStartTime" in doc or "logFiles" in doc):
            continue                                    # digest file: not records
        items = doc.get("Records", doc.get("Events", [doc])) if isinstance(doc, dict) else doc
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and isinstance(item.get("CloudTrailEvent"), str):
                item = json.loads(item["CloudTrailEvent"])
            if isinstance(item, dict):
                out.append(item)
    return out


def load_records(paths):
    """Read files (gzipped or plain) or directories of them; deduplicate on eventID."""
    files = []
    for p in paths:
        if os.path.isdir(p):
            for root, dirs, names in os.walk(p):
                dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
                files += [os.path.join(root, n) for n in sorted(names)
                          if n.endswith((".json", ".json.gz", ".jsonl", ".ndjson", ".gz"))]
        else:
            files.append(p)
    seen, records = set(), []
    for f in files:
        with open(f, "rb") as fh:
            raw = fh.read()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)                  # handles multi-member gzip too
        for r in _records_from_text(raw.decode("utf-8")):
            key = r.get("eventID") or id(r)
            if key not in seen:
                seen.add(key)
                records.append(r)
    return records


def _epoch(value):
    if not isinstance(value, str):
        return 0.0
    try:
        t = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    return (t if t.tzinfo else t.replace(tzinfo=datetime.timezone.utc)).timestamp()


class Event:
    """One record plus the LookupEvents fields derived from it."""
    def __init__(self, r):
        ui = r.get("userIdentity") if isinstance(r.get("userIdentity"), dict) else {}
        params = r.get("requestParameters")
        if isinstance(params, str):
            try:
                params = json.loads(params)
            except json.JSONDecodeError:
                params = None
        res = [x for x in r.get("resources") or [] if isinstance(x, dict)]
        arns = [x.get("ARN") or x.get("arn") or x.get("ARNPrefix") for x in res]
        self.time = _epoch(r.get("eventTime"))
        self.id = r.get("eventID")
        arn = ui.get("arn")                      # Username: userName, else ARN's last segment
        self.username = ui.get("userName") or (arn.rsplit("/", 1)[-1] if arn else None)
        ro = r.get("readOnly")                  # bool or string -> "true"/"false"
        self.read_only = None if ro is None else str(ro).lower()
        self.resources = [{"ResourceType": x.get("type"), "ResourceName": a}
                          for x, a in zip(res, arns) if a]
        key_id = params.get("keyId") if isinstance(params, dict) else None
        self.resource_names = {a for a in arns if a}
        if isinstance(key_id, str):
            self.resource_names.add(key_id)
        self.attrs = {"EventId": self.id, "EventName": r.get("eventName"),
                      "EventSource": r.get("eventSource"), "Username": self.username,
                      "ReadOnly": self.read_only, "AccessKeyId": ui.get("accessKeyId")}
        self.types = {x.get("type") for x in res}
        self.item = {k: v for k, v in {
            "EventId": self.id, "EventName": r.get("eventName"), "ReadOnly": self.read_only,
            "AccessKeyId": ui.get("accessKeyId"), "EventTime": self.time,
            "EventSource": r.get("eventSource"), "Username": self.username,
            "Resources": self.resources, "CloudTrailEvent": json.dumps(r)}.items() if v is not None}

    def matches(self, key, value):
        if key == "ResourceName":
            return value in self.resource_names
        if key == "ResourceType":
            return value in self.types
        return self.attrs.get(key) == value


# ---------------------------------------------------------------- the API

def _token(offset, digest):
    return base64.urlsafe_b64encode(json.dumps({"o": offset, "h": digest}).encode()).decode()


def lookup(events, req):
    """Answer one LookupEvents request body (a dict) from `events` (newest first)."""
    attrs = req.get("LookupAttributes") or []
    if not isinstance(attrs, list) or len(attrs) > 1:
        raise ApiError("InvalidLookupAttributesException",
                       "You cannot specify more than one lookup attribute.")
    for a in attrs:
        if not isinstance(a, dict) or a.get("AttributeKey") not in ATTRIBUTE_KEYS \
                or not isinstance(a.get("AttributeValue"), str) or not a["AttributeValue"]:
            raise ApiError("InvalidLookupAttributesException", f"Invalid lookup attribute: {a!r}")
    start, end = req.get("StartTime"), req.get("EndTime")
    for t in (start, end):
        if t is not None and not isinstance(t, (int, float)):
            raise ApiError("SerializationException", "StartTime/EndTime must be epoch seconds")
    if start is not None and end is not None and start > end:
        raise ApiError("InvalidTimeRangeException", "Start time must be before end time.")
    size = req.get("MaxResults", 50)
    if not isinstance(size, int) or not 1 <= size <= 50:
        raise ApiError("InvalidMaxResultsException", "MaxResults must be between 1 and 50.")
    # The token binds the query (attributes and time range), not the page size.
    query = json.dumps([attrs, start, end], sort_keys=True).encode()
    digest = hashlib.sha256(query).hexdigest()[:16]
    offset = 0
    if req.get("NextToken") is not None:
        try:
            tok = json.loads(base64.urlsafe_b64decode(req["NextToken"].encode()))
            offset = int(tok["o"])
            ok = tok["h"] == digest and offset >= 0
        except Exception:
            ok = False
        if not ok:
            raise ApiError("InvalidNextTokenException", "Invalid NextToken for these parameters.")
    hits = [e for e in events
            if (start is None or e.time >= start) and (end is None or e.time <= end)
            and all(e.matches(a["AttributeKey"], a["AttributeValue"]) for a in attrs)]
    page = hits[offset:offset + size]
    body = {"Events": [e.item for e in page]}
    if offset + size < len(hits):
        body["NextToken"] = _token(offset + size, digest)
    return body


class LookupServer(ThreadingHTTPServer):
    """Holds the events, the per-region rate limiter, fault injection and stats."""
    daemon_threads = True

    def __init__(self, addr, records, rate=2.0, fail_every=0, drop_every=0):
        super().__init__(addr, Handler)
        self.events = sorted((Event(r) for r in records), key=lambda e: (-e.time, e.id or ""))
        self.rate, self.fail_every, self.drop_every = rate, fail_every, drop_every
        self.lock = threading.Lock()
        self.windows = collections.defaultdict(collections.deque)  # region -> accepted times
        self.stats = {"events_loaded": len(self.events), "total_requests": 0,
                      "requests_per_region": {}, "targets": {}, "throttled": 0,
                      "injected_500": 0, "injected_drops": 0, "client_errors": 0,
                      "pages_served": 0, "events_served": 0,
                      "first_request_time": None, "last_request_time": None}

    def admit(self, region, target):
        """Count a request; return "drop", "fail", "throttle" or "ok"."""
        now = time.time()
        with self.lock:
            s = self.stats
            s["total_requests"] += 1
            n = s["total_requests"]
            s["requests_per_region"][region] = s["requests_per_region"].get(region, 0) + 1
            s["targets"][target] = s["targets"].get(target, 0) + 1
            s["first_request_time"] = s["first_request_time"] or now
            s["last_request_time"] = now
            if self.drop_every and n % self.drop_every == 0:
                s["injected_drops"] += 1
                return "drop"
            if self.fail_every and n % self.fail_every == 0:
                s["injected_500"] += 1
                return "fail"
            window = self.windows[region]        # sliding one-second window
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= self.rate:
                s["throttled"] += 1
                return "throttle"
            window.append(now)
            return "ok"

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], OSError):   # resets are expected (drops)
            super().handle_error(request, client_address)

    def count(self, key, by=1):
        with self.lock:
            self.stats[key] += by

    def snapshot(self):
        with self.lock:
            s = json.loads(json.dumps(self.stats))
        if s["first_request_time"] and s["last_request_time"] > s["first_request_time"]:
            span = s["last_request_time"] - s["first_request_time"]
            s["achieved_rate"] = round((s["total_requests"] - 1) / span, 3)
        return s


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"                # keep-alive, as the SDK expects

    def log_message(self, *args):                # quiet: tests read stdout
        pass

    def _send(self, status, body, ctype=JSON_11, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(data)))
        self.send_header("x-amzn-requestid", hashlib.md5(os.urandom(8)).hexdigest())
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, err):
        self._send(err.status, {"__type": err.kind, "message": err.message},
                   headers=[("x-amzn-errortype", err.kind)])

    def do_GET(self):
        if self.path == "/stats":
            self._send(200, self.server.snapshot(), ctype="application/json")
        else:
            self._send(404, {"message": "not found"}, ctype="application/json")

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        target = self.headers.get("x-amz-target", "")
        m = REGION_RE.search(self.headers.get("authorization", ""))
        verdict = self.server.admit(m.group(1) if m else "unknown", target)
        if verdict == "drop":                    # simulate a reset / timeout
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if verdict == "fail":
            return self._error(ApiError("InternalFailure", "Injected server fault.", 500))
        if verdict == "throttle":
            return self._error(ApiError("ThrottlingException", "Rate exceeded"))
        try:
            if target not in TARGETS:
                raise ApiError("UnknownOperationException", f"Unknown target {target!r}")
            try:
                req = json.loads(raw or b"{}")
                assert isinstance(req, dict)
            except Exception:
                raise ApiError("SerializationException", "Request body is not a JSON object")
            body = lookup(self.server.events, req)
        except ApiError as err:
            self.server.count("client_errors")
            return self._error(err)
        self.server.count("pages_served")
        self.server.count("events_served", len(body["Events"]))
        self._send(200, body)


# ---------------------------------------------------------------- self-test

def _call(url, body, region="us-east-1", target="CloudTrail_20131101.LookupEvents", retry=True):
    """POST one request; return (status, json). Retries throttling when asked."""
    headers = {"content-type": JSON_11, "x-amz-target": target, "authorization":
               f"AWS4-HMAC-SHA256 Credential=AKIDTEST/20261111/{region}/cloudtrail/aws4_request, x"}
    while True:
        req = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as e:
            status, doc = e.code, json.loads(e.read())
        if not (retry and doc.get("__type") == "ThrottlingException"):
            return status, doc
        time.sleep(0.3)


def _fetch_all(url, body):
    """Follow NextToken to the end; return (items, number of pages - 1)."""
    items, token = [], None
    for _ in range(100):
        status, doc = _call(url, dict(body, **({"NextToken": token} if token else {})))
        assert status == 200, doc
        items += doc["Events"]
        token = doc.get("NextToken")
        if not token:
            return items, _
    raise AssertionError("pagination did not end")


def _sample_records(base, n=173):
    """Synthetic KMS records spread over ~3 hours from `base`, in shuffled time order."""
    def when(i):
        t = datetime.datetime.fromtimestamp(base + 60 * ((i * 37) % n), datetime.timezone.utc)
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")
    admin = {"type": "IAMUser", "userName": "admin", "accessKeyId": "AKIAEXAMPLE",
             "arn": "arn:aws:iam::111122223333:user/admin"}
    service = {"type": "AWSService", "invokedBy": "backup.amazonaws.com"}
    return [{"eventVersion": "1.08", "eventID": f"ev-{i:04d}", "eventTime": when(i),
             "eventName": ["Decrypt", "Encrypt", "DescribeKey"][i % 3],
             "eventSource": "kms.amazonaws.com", "readOnly": i % 2 == 0, "awsRegion": "eu-west-1",
             "userIdentity": service if i % 4 else admin,
             "resources": [{"type": "AWS::KMS::Key",
                            "ARN": f"arn:aws:kms:eu-west-1:111122223333:key/k{i % 2}"}]}
            for i in range(n)]


def self_test():
    """Start a server in a thread and check it with urllib; return the exit code."""
    base = datetime.datetime(2026, 11, 11, tzinfo=datetime.timezone.utc).timestamp()
    recs = _sample_records(base)
    tmp = tempfile.mkdtemp()
    path = os.path.join(tmp, "records.json.gz")
    with gzip.open(path, "wt") as f:            # one duplicate, to check deduplication
        json.dump({"Records": recs + recs[:1]}, f)
    srv = LookupServer(("127.0.0.1", 0), load_records([path]))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}/"
    results = []

    def check(name, fn):
        try:
            fn()
            results.append(True)
            print(f"ok   {name}")
        except Exception as e:                   # report and keep going
            results.append(False)
            print(f"FAIL {name}: {e!r}")

    def pagination():
        items, pages = _fetch_all(url, {"MaxResults": 50})
        ids = [e["EventId"] for e in items]
        assert len(set(ids)) == len(ids), "duplicates across pages"
        assert sorted(ids) == sorted(r["eventID"] for r in recs), len(ids)
        assert pages >= 3, pages
        times = [e["EventTime"] for e in items]
        assert times == sorted(times, reverse=True), "not newest first"

    def filtered():
        key = "arn:aws:kms:eu-west-1:111122223333:key/k1"
        attr = {"AttributeKey": "ResourceName", "AttributeValue": key}
        items, _ = _fetch_all(url, {"LookupAttributes": [attr],
                                    "StartTime": base, "EndTime": base + 3600})
        want = {r["eventID"] for r in recs if r["resources"][0]["ARN"] == key
                and base <= _epoch(r["eventTime"]) <= base + 3600}
        assert {e["EventId"] for e in items} == want and len(items) == len(want)

    def token_bound():
        status, doc = _call(url, {"MaxResults": 10, "StartTime": base})
        assert status == 200 and doc.get("NextToken")
        changed = {"MaxResults": 10, "StartTime": base + 1, "NextToken": doc["NextToken"]}
        status, err = _call(url, changed)
        assert status == 400 and err["__type"] == "InvalidNextTokenException", err

    def too_many_attributes():
        attrs = [{"AttributeKey": "EventName", "AttributeValue": "Decrypt"},
                 {"AttributeKey": "Username", "AttributeValue": "admin"}]
        status, err = _call(url, {"LookupAttributes": attrs})
        assert status == 400 and err["__type"] == "InvalidLookupAttributesException", err
        status, err = _call(url, {"MaxResults": 51})
        assert status == 400 and err["__type"] == "InvalidMaxResultsException", err

    def types():
        status, doc = _call(url, {"MaxResults": 5, "LookupAttributes": [
            {"AttributeKey": "Username", "AttributeValue": "admin"}]},
            target="com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents")
        e = doc["Events"][0]
        assert isinstance(e["EventTime"], (int, float)) and not isinstance(e["EventTime"], bool)
        assert e["ReadOnly"] in ("true", "false") and e["Username"] == "admin"
        assert json.loads(e["CloudTrailEvent"])["eventID"] == e["EventId"]

    def throttling():
        burst = [_call(url, {"MaxResults": 1}, region="eu-west-1", retry=False) for _ in range(5)]
        kinds = [d.get("__type") for _, d in burst]
        assert kinds.count("ThrottlingException") >= 1 and kinds[0] is None, kinds
        assert all(s == 400 for (s, d) in burst if d.get("__type")), burst
        status, _ = _call(url, {"MaxResults": 1}, region="ap-south-1", retry=False)
        assert status == 200, "rate limit must be per region"

    def faults():
        bad = LookupServer(("127.0.0.1", 0), load_records([path]),
                           rate=100, fail_every=2, drop_every=3)
        threading.Thread(target=bad.serve_forever, daemon=True).start()
        u = f"http://127.0.0.1:{bad.server_address[1]}/"
        try:
            assert _call(u, {})[0] == 200
            status, err = _call(u, {})
            assert status == 500 and err["__type"] == "InternalFailure", err
            try:
                _call(u, {})
                raise AssertionError("third request should have been dropped")
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            with urllib.request.urlopen(u + "stats") as r:
                s = json.load(r)
            assert (s["injected_500"], s["injected_drops"], s["total_requests"]) == (1, 1, 3), s
        finally:
            bad.shutdown()
            bad.server_close()

    for name, fn in [("pagination returns every event once, newest first", pagination),
                     ("ResourceName + time range filter", filtered),
                     ("NextToken rejected for changed parameters", token_bound),
                     ("invalid attributes / MaxResults rejected", too_many_attributes),
                     ("EventTime is a number, ReadOnly a string", types),
                     ("burst of 5 is throttled, per region", throttling),
                     ("injected 500 and dropped connection", faults)]:
        check(name, fn)
    srv.shutdown()
    srv.server_close()
    print(f"{results.count(True)} passed, {results.count(False)} failed")
    return 0 if all(results) else 1


# ---------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", action="append", default=[],
                    help="records file or directory (repeatable)")
    ap.add_argument("--port", type=int, help="port to listen on (0 = any free port)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--rate", type=float, default=2.0, help="requests/second allowed per region")
    ap.add_argument("--fail-every", type=int, default=0, help="every Nth request answers 500")
    ap.add_argument("--drop-every", type=int, default=0, help="every Nth request is dropped")
    ap.add_argument("--stats", help="write JSON stats here on exit")
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args(argv)
    if args.self_test:
        return self_test()
    if not args.events or args.port is None:
        ap.error("--events and --port are required")
    srv = LookupServer((args.host, args.port), load_records(args.events),
                       args.rate, args.fail_every, args.drop_every)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    print(f"listening on http://{args.host}:{srv.server_address[1]}", flush=True)
    while not stop.wait(0.5):
        pass
    srv.shutdown()
    srv.server_close()
    if args.stats:
        with open(args.stats + ".tmp", "w") as f:
            json.dump(srv.snapshot(), f, indent=2)
        os.replace(args.stats + ".tmp", args.stats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
