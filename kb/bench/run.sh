#!/usr/bin/env bash
# The kb search benchmark in one command: kb (Rust) vs rank_bm25 + jieba (Python) on the same
# generated data (1 000 and 100 000 articles) and the same queries, side by side.
#
#   bash kb/bench/run.sh
#
# 1. installs kb/bench/requirements.txt into a venv under target/ (once; later runs find it),
# 2. runs the Rust bench in release (`cargo bench -p kb --bench search`), which generates the
#    article sets and writes them, the queries and its results to $KB_BENCH_OUT,
# 3. runs the Python baseline on those files (a fixed 200-query subset at 100 000 articles,
#    where rank_bm25's per-query full scan takes a few hundred ms),
# 4. prints the side-by-side table (kb/bench/report.py).
#
# Environment: KB_BENCH_OUT (default target/kb-bench), KB_BENCH_SIZES (default 1000,100000),
# KB_BENCH_SEARCHES (Rust measured searches per size, default 5000), PYTHON (default python3).
# Takes about 5 minutes on 2 cores once built. Nothing here asserts on time.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
out="${KB_BENCH_OUT:-$root/target/kb-bench}"
venv="$root/target/kb-bench-venv"
py="$venv/bin/python"

if ! "$py" -c 'import rank_bm25, jieba, numpy' 2>/dev/null; then
  echo "== installing the Python baseline's requirements into $venv"
  "${PYTHON:-python3}" -m venv "$venv"
  "$py" -m pip install --quiet --disable-pip-version-check -r kb/bench/requirements.txt
fi

# Latency numbers on a 2-core machine are only meaningful when nothing else is busy.
load() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?"; }
echo "== load average before: $(load) on $(nproc) cores"

echo "== Rust: cargo bench -p kb --bench search"
KB_BENCH_OUT="$out" cargo bench -p kb --bench search

echo
echo "== Python: rank_bm25 + jieba baseline"
"$py" kb/bench/baseline.py --data "$out"

"$py" kb/bench/report.py --data "$out"
echo "load average after: $(load) on $(nproc) cores (above ~1 means other work shared the CPU)"
