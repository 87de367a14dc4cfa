#!/usr/bin/env python3
"""Run Spark SQL files, as `spark-sql -f` would, in one local Spark session.

    python spark_sql.py [--master local[2]] [--driver-memory 2g] FILE.sql [FILE.sql ...]

Each file is split into statements at `;` ending a line, `--` comment lines
dropped; the statements run in order. One session serves every file, so the
JVM starts once. Prints `FILE seconds` for each file on stdout.
"""
import argparse
import sys
import time

from pyspark.sql import SparkSession


def statements(text):
    body = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("--"))
    parts, current = [], []
    for line in body.splitlines():
        current.append(line)
        if line.rstrip().endswith(";"):
            parts.append("\n".join(current).rstrip().rstrip(";"))
            current = []
    rest = "\n".join(current).strip()
    if rest:
        parts.append(rest)
    return [p for p in parts if p.strip()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--driver-memory", default="1g")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    spark = (
        SparkSession.builder.master(a.master)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", a.driver_memory)
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    for f in a.files:
        start = time.monotonic()
        for s in statements(open(f).read()):
            spark.sql(s).collect()
        print(f"{f} {time.monotonic() - start:.1f}", flush=True)
    spark.stop()


if __name__ == "__main__":
    sys.exit(main())
