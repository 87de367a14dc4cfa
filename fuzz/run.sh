#!/usr/bin/env bash
# Runs one fuzz target for a given time, one process, at low priority.
#
#   fuzz/run.sh TARGET SECONDS [libFuzzer flags...]
#   fuzz/run.sh decode 60
#   fuzz/run.sh policy 1800 -runs=10000000    # stop at 10M executions
#
# TARGET is decode, fast, record or policy (fast takes decode's seeds). Seeds are built first if missing
# (fuzz/seed.sh); new inputs go to fuzz/corpus/TARGET, crashes to
# fuzz/artifacts/TARGET, libFuzzer's log to fuzz/logs/TARGET.log (all
# git-ignored). Needs cargo-fuzz (`cargo install cargo-fuzz`); on stable Rust
# RUSTC_BOOTSTRAP=1 lets it pass its nightly flags. No sanitizer (`-s none`):
# the crate's only unsafe code calls pointer-free SSE2 intrinsics, so ASan
# adds build time and finds nothing more (fuzz/README.md).
set -euo pipefail
if [ $# -lt 2 ]; then
  sed -n '2,14p' "$0" >&2
  exit 2
fi
target=$1 seconds=$2
shift 2
here="$(cd "$(dirname "$0")" && pwd)"
seeds=$target
[ "$target" = fast ] && seeds=decode
[ -d "$here/seeds/$seeds" ] || "$here/seed.sh"
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/denydiff-fuzz-target}"
mkdir -p "$here/corpus/$target" "$here/artifacts/$target" "$here/logs/$target"
cd "$here/logs/$target"   # libFuzzer writes fuzz-0.log here (-jobs=1)
rm -f fuzz-0.log
status=0
nice -n 10 cargo fuzz run --fuzz-dir "$here" -s none "$target" \
  "$here/corpus/$target" "$here/seeds/$seeds" -- \
  -max_total_time="$seconds" -jobs=1 -workers=1 -print_final_stats=1 \
  "$@" || status=$?
cp fuzz-0.log "$here/logs/$target.log" 2>/dev/null || true
# The summary: executions, coverage (last `cov:`/`ft:`), crashes.
grep -E '^#[0-9]+.*(DONE|cov:)' "$here/logs/$target.log" | tail -1 || true
grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$here/logs/$target.log" || true
ls "$here/artifacts/$target"
exit "$status"
