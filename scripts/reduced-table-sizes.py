#!/usr/bin/env python3
"""Sizes of the reduced table in each mode, and a large table to time ingest.

    python scripts/reduced-table-sizes.py ROWS.parquet OUT_DIR [--rows N]

ROWS.parquet is a row table (`denydiff analyze TRAIL --export-calls
ROWS.parquet`). Writes, with DuckDB, into OUT_DIR:

  aggregated.parquet/.csv  one row per (key, caller, event, outcome, encryption
                           context keys, hour) with a count, first and last
                           time and three sample event ids: the aggregated
                           mode the issue weighs (not a mode denydiff reads)
  large.parquet            the rows repeated, each with a fresh event id, up
                           to N rows (default 1,000,000): to time ingest

and prints each file's rows and bytes. Needs duckdb (the venv of .ci/run).
"""
import argparse
import os

import duckdb

CALLER = """coalesce(issuer_arn, identity_arn, identity_invoked_by, identity_type)"""
KEY = """coalesce(json_extract_string(resources, '$[0].ARN'),
                  json_extract_string(request_parameters, '$.keyId'))"""
CONTEXT_SHAPE = """array_to_string(list_sort(json_keys(json_extract(request_parameters, '$.encryptionContext'))), ',')"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("rows")
    ap.add_argument("out")
    ap.add_argument("--rows", type=int, default=1_000_000, dest="n")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{a.rows}')")
    out = lambda n: os.path.join(a.out, n)
    con.execute(f"""CREATE TABLE agg AS
        SELECT {KEY} AS key, {CALLER} AS caller, identity_type, identity_invoked_by,
               event_name, coalesce(error_code, '') AS outcome, {CONTEXT_SHAPE} AS context_shape,
               substr(event_time, 1, 13) AS hour,
               count(*) AS calls, min(event_time) AS first_time, max(event_time) AS last_time,
               array_to_string(list_slice(list(event_id ORDER BY event_time), 1, 3), ',') AS sample_event_ids
        FROM t WHERE row_kind = 'record' AND event_source = 'kms.amazonaws.com'
        GROUP BY ALL""")
    con.execute(f"COPY agg TO '{out('aggregated.parquet')}' (FORMAT parquet)")
    con.execute(f"COPY agg TO '{out('aggregated.csv')}' (HEADER)")
    have = con.execute("SELECT count(*) FROM t WHERE row_kind = 'record'").fetchone()[0]
    copies = -(-a.n // have)
    con.execute(f"""COPY (
        SELECT * REPLACE (CASE WHEN row_kind = 'record' THEN uuid()::VARCHAR END AS event_id)
        FROM t, range({copies}) WHERE row_kind = 'record' LIMIT {a.n}
      ) TO '{out('large.parquet')}' (FORMAT parquet)""")
    for name, rows in [
        (a.rows, "SELECT count(*) FROM t"),
        (out("aggregated.parquet"), "SELECT count(*) FROM agg"),
        (out("aggregated.csv"), "SELECT count(*) FROM agg"),
        (out("large.parquet"), f"SELECT count(*) FROM read_parquet('{out('large.parquet')}')"),
    ]:
        n = con.execute(rows).fetchone()[0]
        print(f"{name}\t{n} rows\t{os.path.getsize(name)} bytes")


if __name__ == "__main__":
    main()
