#!/usr/bin/env bash
# Runs every cargo-fuzz target for a while (60 s each unless told), growing the corpora kept
# in the repo under fuzz/corpus/<target>/:
#
#   bash scripts/fuzz.sh            # 60 s per target
#   bash scripts/fuzz.sh 600        # 10 minutes per target
#   bash scripts/fuzz.sh 60 ws_frames normalize   # some targets only
#
# Targets: normalize (kb::normalize), entities (bot::extract_entities), import_json and
# import_csv (gateway::import), ws_frames (the server's WebSocket codec and frame limit, each
# text frame read by gateway::events::ClientFrame::parse). What each checks beside "no panic,
# no AddressSanitizer report" is in fuzz/checks.rs; the replay test
# tests/tests/api/fuzz_corpora.rs runs the kept corpora through the same checks in CI.
#
# Needs a nightly toolchain (`cargo +nightly`) and cargo-fuzz (installed here when missing).
# A crash stops the run and leaves the input in fuzz/artifacts/<target>/; replay it with
# `cargo +nightly fuzz run <target> fuzz/artifacts/<target>/<file>`.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(normalize entities import_json import_csv ws_frames)
fi
if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "needs a nightly toolchain: rustup toolchain install nightly" >&2
  exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz" >&2
  cargo install --locked cargo-fuzz
fi
cd fuzz
# One build for every target first, so the clock below is fuzzing time only.
cargo +nightly fuzz build -O
for target in "${targets[@]}"; do
  before=$(ls "corpus/$target" | wc -l)
  echo "== $target: ${seconds}s from $before corpus inputs"
  # -max_len: the largest input the parsers see matters more than its count; 128 KiB
  # covers a frame over the 64 KiB limit and multi-row imports.
  mkdir -p artifacts
  log="artifacts/$target.log"
  set +e
  cargo +nightly fuzz run -O "$target" "corpus/$target" -- \
    -max_total_time="$seconds" -max_len=131072 -print_final_stats=1 >"$log" 2>&1
  status=$?
  set -e
  grep -E '^(Done [0-9]+ runs|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==|thread .* panicked|SUMMARY)' "$log" || true
  if [ "$status" -eq 0 ]; then
    # Keep only the inputs that add coverage, so the corpora in the repo stay small.
    cargo +nightly fuzz cmin -O "$target" "corpus/$target" -- -max_len=131072 >"$log.cmin" 2>&1
  fi
  after=$(ls "corpus/$target" | wc -l)
  echo "== $target: exit $status, corpus $before -> $after"
  if [ "$status" -ne 0 ]; then
    echo "== $target crashed: see fuzz/artifacts/$target/ and $log" >&2
    exit "$status"
  fi
done
