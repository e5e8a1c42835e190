#!/usr/bin/env bash
# Runs every libFuzzer target (or those named in $TARGETS) for <seconds> each, one after another,
# from its seeds (fuzz/seeds/<target>, real inputs) and what earlier runs kept (fuzz/corpus/<target>).
# Prints one line per target: executions, seconds, corpus size. A crash stops the script; the
# input that crashed is in fuzz/artifacts/<target>/ (reproduce with
# `RUSTC_BOOTSTRAP=1 cargo fuzz run -s none --debug-assertions <target> <file>`), and it becomes
# a #[test] beside the code.
#
#   fuzz/run.sh 15      # every target 15 s (CI)
#   fuzz/run.sh 600     # every target 10 min
#
# Needs `cargo install --locked cargo-fuzz` and a C++ compiler (libFuzzer), not a nightly
# toolchain: cargo-fuzz passes `-Z` flags to cargo and rustc, which RUSTC_BOOTSTRAP lets the
# stable toolchain take.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-15}
export RUSTC_BOOTSTRAP=1
# No sanitizer: the code under test is safe Rust, so the fuzzer's coverage is what finds panics,
# overflows (debug assertions on) and broken invariants; ASan would only slow it down.
flags=(-s none --debug-assertions)
targets=${TARGETS:-$(cargo fuzz list)}
nice cargo fuzz build "${flags[@]}"
for target in $targets; do
  mkdir -p "corpus/$target" "seeds/$target"
  log="$(mktemp)"
  if ! nice cargo fuzz run "${flags[@]}" "$target" "corpus/$target" "seeds/$target" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "fuzz: $target crashed (see fuzz/artifacts/$target)" >&2
    exit 1
  fi
  # libFuzzer's last line: "Done <runs> runs in <seconds> second(s)".
  runs=$(awk '/^Done [0-9]+ runs in [0-9]+ second/ { print $2 }' "$log")
  took=$(awk '/^Done [0-9]+ runs in [0-9]+ second/ { print $5 }' "$log")
  runs=${runs:-0} took=${took:-$seconds}
  corpus="$(find "corpus/$target" -type f | wc -l) inputs, $(du -sk "corpus/$target" | cut -f1) KiB"
  echo "fuzz: $target: $runs executions in $took s ($((runs / (took > 0 ? took : 1)))/s), 0 crashes, corpus $corpus"
  rm -f "$log"
done
