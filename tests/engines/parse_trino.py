#!/usr/bin/env python3
"""Parse SQL files with sqlglot in the Trino dialect (Athena engine v3 and
CloudTrail Lake speak Trino's SQL); print each file's output column names,
one file a line, tab-separated; exit 1 naming the file that does not parse.

    python parse_trino.py FILE.sql [FILE.sql ...]
"""
import sys

import sqlglot
from sqlglot import exp


def main():
    for f in sys.argv[1:]:
        try:
            tree = sqlglot.parse_one(open(f).read(), read="trino", error_level=sqlglot.ErrorLevel.RAISE)
        except sqlglot.errors.ParseError as e:
            sys.exit(f"{f}: {e}")
        selects = list(tree.find_all(exp.Select))
        for s in selects:
            print(f + "\t" + "\t".join(s.named_selects))


if __name__ == "__main__":
    main()
