#!/usr/bin/env bash
# Builds the seed corpora fuzz/seeds/{decode,record,policy}/ at run time from
# the repository's inputs (sample-logs/, JSON literals in tests/ and src/) and
# the third-party samples in ../shared/real-samples/, read in place: nothing
# is copied into the repository (fuzz/seeds/ is git-ignored).
#
#   fuzz/seed.sh            # ../shared beside the checkout
#   DENYDIFF_SHARED=/path/to/shared fuzz/seed.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
shared="${DENYDIFF_SHARED:-$root/../shared}"
rm -rf "$here/seeds"
mkdir -p "$here/seeds/decode" "$here/seeds/record" "$here/seeds/policy"
python3 - "$root" "$shared/real-samples" "$here/seeds" <<'PY'
import gzip, hashlib, json, os, re, sys

root, samples, out = sys.argv[1:4]
MAX = 64 * 1024          # seeds larger than this slow every run down
MAX_RECORDS = 3000
counts = {"decode": 0, "record": 0, "policy": 0}

def save(target, data):
    if isinstance(data, str):
        data = data.encode()
    if len(data) > MAX:
        return
    name = hashlib.sha1(data).hexdigest()
    path = os.path.join(out, target, name)
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)
        counts[target] += 1

def files(top):
    for d, _, names in os.walk(top):
        for n in sorted(names):
            if n.endswith((".json", ".gz", ".jsonl", ".ndjson")):
                yield os.path.join(d, n)

def records_of(data):
    """Every record in one input, whatever its shape (best effort)."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    text = data.decode("utf-8", "replace")
    try:
        docs = [json.loads(text)]
    except ValueError:
        docs = []
        for line in text.splitlines():
            try:
                docs.append(json.loads(line))
            except ValueError:
                pass
    for doc in docs:
        items = doc if isinstance(doc, list) else None
        if isinstance(doc, dict):
            items = doc.get("Records") or doc.get("Events") or [doc]
        for r in items or []:
            if isinstance(r, dict) and isinstance(r.get("CloudTrailEvent"), str):
                try:
                    r = json.loads(r["CloudTrailEvent"])
                except ValueError:
                    continue
            if isinstance(r, dict):
                yield r

def policies_of(record):
    req = record.get("requestParameters")
    if isinstance(req, dict) and isinstance(req.get("policy"), str):
        yield req["policy"]

records = []
inputs = list(files(os.path.join(root, "sample-logs")))
if os.path.isdir(samples):
    inputs += list(files(samples))
else:
    print(f"seed.sh: `{samples}` is missing: seeding from the repository only", file=sys.stderr)
for path in inputs:
    with open(path, "rb") as f:
        data = f.read()
    save("decode", data)
    if "/policies/" in path:
        save("policy", data)
        continue
    recs = list(records_of(data))
    records += recs
    # Small versions of large inputs, in every shape decode reads.
    head = recs[:8]
    if head:
        env = json.dumps({"Records": head})
        save("decode", env)
        save("decode", gzip.compress(env.encode(), mtime=0))
        save("decode", json.dumps(head))
        save("decode", "\n".join(json.dumps(r) for r in head))
        lookup = [{"EventId": r.get("eventID"), "CloudTrailEvent": json.dumps(r)} for r in head]
        save("decode", json.dumps({"Events": lookup}))
        save("decode", "\n".join(json.dumps(i) for i in lookup))
        save("decode", json.dumps(head[0], indent=2))

# KMS records first: they reach the most code.
records.sort(key=lambda r: r.get("eventSource") != "kms.amazonaws.com")
for r in records[:MAX_RECORDS]:
    save("record", json.dumps(r))
    for p in policies_of(r):
        save("policy", p)

# JSON literals in the Rust sources and tests (`r#"..."#`): policies,
# records, requests.
for d in ("src", "tests"):
    for top, _, names in os.walk(os.path.join(root, d)):
        for n in names:
            if not n.endswith(".rs"):
                continue
            with open(os.path.join(top, n), encoding="utf-8") as f:
                src = f.read()
            for lit in re.findall(r'r#"(.*?)"#', src, re.S):
                try:
                    v = json.loads(lit)
                except ValueError:
                    continue
                if isinstance(v, dict) and "Statement" in v:
                    save("policy", lit)
                elif isinstance(v, dict):
                    save("record", lit)
                    save("decode", lit)

# Shapes that are not in any sample.
for text in [
    '{"Records": []}',
    '{"digestStartTime": "2026-11-10T00:00:00Z", "logFiles": []}',
    '{"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {}}]}',
    '{"Records": [1, "a", null, [], {}]}',
    '{"Events": [{"CloudTrailEvent": "not json"}, {}, 5]}',
]:
    save("decode", text)
# Policies over every operator family, qualifier and element form.
ops = {
    "StringNotEquals": ("aws:PrincipalArn", ["arn:aws:iam::111122223333:user/admin"]),
    "StringLike": ("kms:ViaService", ["*.amazonaws.com"]),
    "StringEqualsIgnoreCase": ("aws:PrincipalServiceName", ["BACKUP.amazonaws.com"]),
    "NumericLessThan": ("kms:GrantTokens", [10]),
    "DateGreaterThan": ("aws:CurrentTime", ["2026-01-01T00:00:00Z"]),
    "Bool": ("aws:PrincipalIsAWSService", "true"),
    "IpAddress": ("aws:SourceIp", ["203.0.113.0/24", "2001:db8::/32"]),
    "ArnLike": ("aws:PrincipalArn", ["arn:aws:iam::*:role/backup-*"]),
    "Null": ("aws:PrincipalTag/team", "true"),
    "BinaryEquals": ("kms:Recipient", "QmluYXJ5"),
}
for op, (key, values) in ops.items():
    for form in (op, op + "IfExists", "ForAnyValue:" + op, "ForAllValues:" + op):
        deny = {"Sid": form, "Effect": "Deny", "Principal": "*", "Action": "kms:*",
                "Resource": "*", "Condition": {form: {key: values}}}
        allow = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root",
                 "Service": "backup.amazonaws.com"}, "NotAction": ["kms:Delete*"],
                 "NotResource": "arn:aws:kms:*:${aws:PrincipalAccount}:alias/*"}
        save("policy", json.dumps({"Version": "2012-10-17", "Statement": [allow, deny]}))
save("policy", json.dumps({"Statement": {"Effect": "Deny", "NotPrincipal": {"AWS": ["111122223333"]},
                                         "Action": "kms:Decrypt", "Resource": "*"}}))
print("seeds: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
PY
