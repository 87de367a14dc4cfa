#!/usr/bin/env python3
"""A proxy in front of moto's S3 that answers as S3 does to a request
signed for the wrong region.

What it is: real S3 refuses a bucket request whose SigV4 credential scope
names another region than the bucket's: `301 PermanentRedirect` with the
bucket's region in `x-amz-bucket-region` (HEAD gets the same status and
header, no body). moto serves every region alike, so a client that never
finds the bucket's region passes against moto and fails against AWS. This
proxy asks moto for each bucket's region (HeadBucket, cached), refuses
requests signed for another region that way, and forwards the rest.

What it is not: a signature check (moto does none either), nor virtual-host
addressing (path style only, as denydiff uses with --endpoint-url).

Usage:
  python3 tests/servers/s3_region.py --upstream http://127.0.0.1:5000 --port PORT
  (--port 0: a free port; the first line printed says which)
"""
import argparse, http.client, re, sys, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SCOPE_RE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/s3/")
REDIRECT = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>PermanentRedirect</Code>'
    "<Message>The bucket you are attempting to access must be addressed using the "
    "specified endpoint. Please send all future requests to this endpoint.</Message>"
    "<Bucket>{bucket}</Bucket></Error>"
)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    args = ap.parse_args()
    up = urllib.parse.urlsplit(args.upstream)
    regions = {}

    def upstream(method, path, headers=None, body=None):
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=30)
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp, resp.read()

    def bucket_region(bucket):
        # Only a bucket that exists has a region to keep.
        if bucket not in regions:
            resp, _ = upstream("HEAD", "/" + bucket)
            region = resp.getheader("x-amz-bucket-region")
            if resp.status != 200 or not region:
                return None
            regions[bucket] = region
        return regions[bucket]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def relay(self):
            if "chunked" in self.headers.get("Transfer-Encoding", ""):
                self.send_error(501, "chunked request bodies are not relayed")
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            url = urllib.parse.urlsplit(self.path)
            bucket = url.path.lstrip("/").split("/")[0]
            scope = SCOPE_RE.search(self.headers.get("Authorization", ""))
            # CreateBucket (PUT /bucket, no query) comes before the bucket
            # has a region; other bucket-level PUTs (?tagging) are checked.
            creating = self.command == "PUT" and not url.query and "/" not in url.path.strip("/")
            home = bucket_region(bucket) if bucket and not creating else None
            if home and scope and scope.group(1) != home:
                text = b"" if self.command == "HEAD" else REDIRECT.format(bucket=bucket).encode()
                self.send_response(301)
                self.send_header("x-amz-bucket-region", home)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            resp, data = upstream(self.command, self.path, headers, body)
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(k, v)
            # HEAD keeps the length of what a GET would send.
            length = resp.getheader("Content-Length") if self.command == "HEAD" else None
            self.send_header("Content-Length", length or str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = relay

    server = ThreadingHTTPServer((args.host, args.port), Handler)
    print(f"listening on http://{args.host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
