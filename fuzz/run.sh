#!/usr/bin/env bash
# Runs every libFuzzer target (or those named in $TARGETS) for <seconds> each, one after another,
# from its seeds (fuzz/seeds/<target>, real inputs) and what earlier runs kept (fuzz/corpus/<target>).
# Prints one line per target: executions, seconds, corpus size. A crash stops the script; the
# input that crashed is in fuzz/artifacts/<target>/ (reproduce with
# `cargo +nightly fuzz run -s none -a <target> <file>`), and it becomes a #[test] beside the code.
#
#   fuzz/run.sh 15      # every target 15 s (CI)
#   fuzz/run.sh 600     # every target 10 min
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-15}
# No sanitizer: the code under test is safe Rust, so the fuzzer's coverage is what finds panics,
# overflows (debug assertions on) and broken invariants; ASan would only slow it down.
flags=(-s none --debug-assertions)
targets=${TARGETS:-$(cargo +nightly fuzz list)}
nice cargo +nightly fuzz build "${flags[@]}"
for target in $targets; do
  mkdir -p "corpus/$target" "seeds/$target"
  log="$(mktemp)"
  if ! nice cargo +nightly fuzz run "${flags[@]}" "$target" "corpus/$target" "seeds/$target" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "fuzz: $target crashed (see fuzz/artifacts/$target)" >&2
    exit 1
  fi
  runs=$(awk -F: '/stat::number_of_executed_units/ { gsub(/ /, "", $2); print $2 }' "$log")
  took=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | awk '{ print $5 }')
  echo "fuzz: $target: $runs executions in ${took:-$seconds} s, 0 crashes, corpus $(ls "corpus/$target" | wc -l) inputs"
  rm -f "$log"
done
