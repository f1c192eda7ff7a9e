#!/bin/bash
# bench/pg/ab.sh A B [rounds] [n]: alternates 10,000-job drains (drain.mjs fill, then run with one
# thread, concurrency 10) between two built checkouts A and B (e.g. a `git worktree` of the old
# commit with node_modules linked, and this one), and prints each run's line, then each side's
# jobs/s sorted. The machine's drift is larger than most changes: compare medians of several rounds.
set -euo pipefail
A=${1:?usage: ab.sh checkoutA checkoutB [rounds] [n]}; B=${2:?usage: ab.sh checkoutA checkoutB [rounds] [n]}
R=${3:-5}; N=${4:-10000}
out=$(mktemp)
for _ in $(seq 1 "$R"); do
  for w in "$A" "$B"; do
    (cd "$w" && node bench/pg/drain.mjs fill "$N" >/dev/null 2>&1 && echo "$w $(node bench/pg/drain.mjs run "$N" 10 2>/dev/null | tail -1)") | tee -a "$out"
  done
done
for w in "$A" "$B"; do echo "$w: $(grep "^$w " "$out" | grep -o '"jobs_per_s":[0-9]*' | cut -d: -f2 | sort -n | tr '\n' ' ')"; done
rm -f "$out"
