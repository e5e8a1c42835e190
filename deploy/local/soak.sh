#!/usr/bin/env bash
# A soak of the four-process deployment: deploy/local/cluster.sh against the Postgres and NATS
# named by GRIDLOOP_DATABASE_URL and GRIDLOOP_NATS_URL, loaded by `gridloop bench` at a steady rate
# for a long window while each service's resident memory is sampled. At the end it compares the
# first ten minutes with the last: median of the per-second p99 report → dispatched, and each
# service's RSS.
#
#   GRIDLOOP_DATABASE_URL=postgres://postgres@127.0.0.1:5432/soak GRIDLOOP_NATS_URL=nats://127.0.0.1:4222 \
#   GRIDLOOP_BIN=target/release/gridloop deploy/local/soak.sh [rate=200] [duration=3600s] [out=soak-out]
#
# The output directory holds the bench's JSON and SVG, rss.csv (seconds, service, KiB) and the
# services' logs. The database should be a fresh one: the soak's cases stay in it.
set -euo pipefail

rate="${1:-200}"
duration="${2:-3600s}"
out="$(mkdir -p "${3:-soak-out}" && cd "${3:-soak-out}" && pwd)"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [[ -z "${GRIDLOOP_BIN:-}" ]]; then
    cargo build --release --locked -p gridloop --manifest-path "$repo/Cargo.toml" >&2
    GRIDLOOP_BIN="${CARGO_TARGET_DIR:-$repo/target}/release/gridloop"
fi
bin="$(cd "$(dirname "$GRIDLOOP_BIN")" && pwd)/$(basename "$GRIDLOOP_BIN")"
export GRIDLOOP_BIN="$bin"
base_port="${GRIDLOOP_BASE_PORT:-50061}"

# One principal drives the whole load: per-principal limits off, duplicates not linked.
export GRIDLOOP_RATE_LIMIT=0 GRIDLOOP_MAX_IN_FLIGHT=4096 GRIDLOOP_DUPLICATE_RADIUS_M=0
cd "$out"
GRIDLOOP_LOG_DIR="$out/logs" "$repo/deploy/local/cluster.sh" &
cluster=$!
trap 'kill -TERM "$cluster" 2>/dev/null; wait "$cluster" 2>/dev/null || true' EXIT
for port in $(seq "$base_port" $((base_port + 3))); do
    for _ in $(seq 1 120); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.5; done
done

# Resident memory of each service every 30 s, while the bench runs.
echo "seconds,service,rss_kib" >rss.csv
(
    start=$(date +%s)
    while kill -0 "$cluster" 2>/dev/null; do
        for service in intake dispatch mediation evaluation; do
            pid=$(pgrep -f "gridloop serve $service" | head -n1 || true)
            [[ -n "$pid" ]] && echo "$(($(date +%s) - start)),$service,$(ps -o rss= -p "$pid" | tr -d ' ')" >>rss.csv
        done
        sleep 30
    done
) &
sampler=$!

"$bin" bench --rate "$rate" --duration "$duration" --warmup 30s --json --plot soak.svg \
    --intake "http://127.0.0.1:$base_port" --dispatch "http://127.0.0.1:$((base_port + 1))" \
    --mediation "http://127.0.0.1:$((base_port + 2))" --evaluation "http://127.0.0.1:$((base_port + 3))" \
    >bench.json
kill "$sampler" 2>/dev/null || true

python3 - "$out" <<'PY'
import csv, json, statistics, sys
out = sys.argv[1]
bench = json.load(open(f"{out}/bench.json"))
p99 = bench["p99_report_to_dispatched_ms_per_second"]
window = min(600, len(p99) // 2)
first, last = p99[:window], p99[-window:]
print(f"soak: offered {bench.get('offered_per_second')} cases/s, achieved {bench['achieved_per_second']:.1f} cases/s over {len(p99)} s")
whole = bench["latency_ms"]["report_to_dispatched"]
print(f"cases {bench['cases_started']} started, {bench['cases_completed']} completed, errors {sum(bench['errors'].values())} {bench['errors']}")
print(f"report->dispatched over the window: p50 {whole['p50']} ms, p99 {whole['p99']} ms, max {whole['max']} ms")
print(f"p99 report->dispatched, median of each second's p99: first {window} s {statistics.median(first):.1f} ms, last {window} s {statistics.median(last):.1f} ms")
rss = {}
for row in csv.DictReader(open(f"{out}/rss.csv")):
    rss.setdefault(row["service"], []).append((int(row["seconds"]), int(row["rss_kib"])))
for service, samples in sorted(rss.items()):
    end = samples[-1][0]
    early = [k for s, k in samples if s <= 600 + 30]
    late = [k for s, k in samples if s >= end - 600]
    print(f"rss {service}: first 10 min max {max(early) / 1024:.0f} MB, last 10 min max {max(late) / 1024:.0f} MB")
PY
