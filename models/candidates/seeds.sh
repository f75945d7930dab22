#!/usr/bin/env bash
# Trains the sentiment model (or the intent model) with several seeds, fit split only (no
# refit), and prints the figures of each seed on the validation split of models/data as
# committed: the split to choose on, measured on the same lines whatever data DIR trained.
# One network's validation figures move by about ±0.02 (chat) and ±0.008 (intent) from seed
# to seed, so a choice made on one run is a coin toss; compare the means of a few seeds.
#
#   bash models/candidates/seeds.sh NAME [DATA_DIR] [TASK] [SEED...] -- [train options]
#   bash models/candidates/seeds.sh pooling models/data sentiment 20260101 1 2 -- --pooling mean-max
#
# Writes target/models-seeds/NAME_SEED/ (weights, train log) and appends one line per seed
# to target/models-seeds/results.txt. Uses $CARGO_TARGET_DIR when set.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
name=$1; shift
data=${1:-models/data}; [ $# -gt 0 ] && shift
task=${1:-sentiment}; [ $# -gt 0 ] && shift
seeds=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do seeds+=("$1"); shift; done
[ $# -gt 0 ] && shift
[ ${#seeds[@]} -gt 0 ] || seeds=(20260101 1 2)
cd "$root"
cargo build --quiet --release -p models --examples
bin="${CARGO_TARGET_DIR:-$root/target}/release/examples"
out="$root/target/models-seeds"
mkdir -p "$out"
for seed in "${seeds[@]}"; do
    dir="$out/${name}_$seed"
    rm -rf "$dir"
    mkdir -p "$dir"
    # The other task's shipped model, so that the directory loads as a whole.
    other=intent; [ "$task" = intent ] && other=sentiment
    cp -r "models/weights/$other" "$dir/"
    "$bin/train" --task "$task" --refit 0 --seed "$seed" --data "$data" --out "$dir" \
        --splits "$dir/splits" "$@" > "$dir/train.txt" 2>&1
    if [ "$task" = sentiment ]; then
        figures=$("$bin/eval" --weights "$dir" --splits "$dir/splits-eval" --split validation \
            | grep -E '^chat negative')
    else
        figures=$("$bin/eval" --weights "$dir" --splits "$dir/splits-eval" --split validation \
            | grep -E '^INTENT validation, all')
    fi
    echo "$name $task seed $seed: $figures" | tee -a "$out/results.txt"
done
