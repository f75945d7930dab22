#!/usr/bin/env bash
# Our models and a scikit-learn baseline on identical splits, side by side, in one command:
#
#   bash models/baseline/run.sh
#
# 1. installs scikit-learn into target/models-baseline-venv if it is missing (PyPI);
# 2. runs the Rust eval on the shipped weights, which also writes the split files
#    target/models-splits/{intent,sentiment}.tsv (the same deterministic split training used);
# 3. trains TF-IDF over character n-grams + LogisticRegression on the same fit split (C chosen
#    on the same validation split), tests it on the same test split and prints both.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
splits="$root/target/models-splits"
venv="$root/target/models-baseline-venv"
mkdir -p "$splits"
if ! "$venv/bin/python" -c "import sklearn" >/dev/null 2>&1; then
    echo "installing scikit-learn into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet scikit-learn
fi
cd "$root"
cargo run --quiet --release -p models --example eval -- \
    --splits "$splits" --json "$splits/ours.json" | tee "$splits/ours.txt"
echo
"$venv/bin/python" "$root/models/baseline/baseline.py" \
    --splits "$splits" --ours "$splits/ours.json" \
    --sentiment-metrics "$root/models/weights/sentiment/metrics.json"
