#!/usr/bin/env python3
"""Run denydiff's Athena query for real, in DuckDB, over a table with the
Athena CloudTrail schema ("Create the table for CloudTrail logs in Athena
using partition projection") built from an S3-export tree; write the result
as Athena writes its CSV (header, every value quoted, null as nothing).

    python athena_duckdb.py AWSLogs_DIR QUERY.sql OUT.csv

The query is parsed with sqlglot in the Trino dialect (which Athena's engine
version 3 speaks) and transpiled to DuckDB. Fields as the SerDe gives them:
structs with lowercase names, the JSON fields (`requestparameters`, ...)
as their JSON text, a JSON string as its content, `timestamp` (the partition)
as `yyyy/MM/dd` from the file's path.
"""
import gzip
import json
import os
import re
import sys

import duckdb
import sqlglot

DDL = """
CREATE TABLE cloudtrail_logs_pp(
  eventversion VARCHAR,
  useridentity STRUCT(type VARCHAR, principalid VARCHAR, arn VARCHAR, accountid VARCHAR,
    invokedby VARCHAR, accesskeyid VARCHAR, username VARCHAR,
    sessioncontext STRUCT(sessionissuer STRUCT(type VARCHAR, principalid VARCHAR, arn VARCHAR,
      accountid VARCHAR, username VARCHAR))),
  eventtime VARCHAR, eventsource VARCHAR, eventname VARCHAR, awsregion VARCHAR,
  sourceipaddress VARCHAR, useragent VARCHAR, errorcode VARCHAR, errormessage VARCHAR,
  requestparameters VARCHAR, responseelements VARCHAR, additionaleventdata VARCHAR,
  requestid VARCHAR, eventid VARCHAR, readonly VARCHAR,
  resources STRUCT(arn VARCHAR, accountid VARCHAR, type VARCHAR)[],
  eventtype VARCHAR, apiversion VARCHAR, recipientaccountid VARCHAR, vpcendpointid VARCHAR,
  "timestamp" VARCHAR)
"""

DAY = re.compile(r"/CloudTrail/[^/]+/(\d{4}/\d{2}/\d{2})/")


def text(v):
    """A STRING column as the JSON SerDe gives it."""
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    return json.dumps(v, separators=(",", ":"))


def lower(d, fields):
    d = d if isinstance(d, dict) else {}
    low = {k.lower(): v for k, v in d.items()}
    return {f: text(low.get(f)) for f in fields}


def row(r, day):
    ui = r.get("userIdentity") if isinstance(r.get("userIdentity"), dict) else None
    ident = None
    if ui is not None:
        ident = lower(ui, ["type", "principalid", "arn", "accountid", "invokedby", "accesskeyid", "username"])
        sc = ui.get("sessionContext") if isinstance(ui.get("sessionContext"), dict) else {}
        si = sc.get("sessionIssuer")
        ident["sessioncontext"] = {
            "sessionissuer": lower(si, ["type", "principalid", "arn", "accountid", "username"]) if isinstance(si, dict) else None
        }
    res = r.get("resources")
    res = [lower(x, ["arn", "accountid", "type"]) for x in res if isinstance(x, dict)] if isinstance(res, list) else None
    g = lambda k: text(r.get(k))
    return [
        g("eventVersion"), ident, g("eventTime"), g("eventSource"), g("eventName"), g("awsRegion"),
        g("sourceIPAddress"), g("userAgent"), g("errorCode"), g("errorMessage"),
        g("requestParameters"), g("responseElements"), g("additionalEventData"),
        g("requestID"), g("eventID"), g("readOnly"), res, g("eventType"), g("apiVersion"),
        g("recipientAccountId"), g("vpcEndpointId"), day,
    ]


def main():
    logs, query_file, out = sys.argv[1:4]
    con = duckdb.connect()
    con.execute(DDL)
    rows = []
    for root, _, files in os.walk(logs):
        for f in sorted(files):
            path = os.path.join(root, f)
            m = DAY.search(path)
            if not m or not f.endswith(".json.gz"):
                continue
            with gzip.open(path, "rt") as fh:
                rows += [row(r, m.group(1)) for r in json.load(fh)["Records"]]
    con.executemany(f"INSERT INTO cloudtrail_logs_pp VALUES ({', '.join('?' * 22)})", rows)
    trino = open(query_file).read()
    sqlglot.parse_one(trino, read="trino")
    duck = sqlglot.transpile(trino, read="trino", write="duckdb")[0]
    cur = con.execute(duck)
    names = [d[0] for d in cur.description]
    with open(out, "w", newline="") as fh:
        fh.write(",".join(f'"{n}"' for n in names) + "\n")
        for values in cur.fetchall():
            cells = ["" if v is None else '"' + str(v).replace('"', '""') + '"' for v in values]
            fh.write(",".join(cells) + "\n")
    print(f"{len(rows)} records, transpiled:\n{duck}", file=sys.stderr)


if __name__ == "__main__":
    main()
