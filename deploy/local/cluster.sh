#!/usr/bin/env bash
# Distributed mode on one machine: the four gridloop services as separate processes against the
# Postgres and NATS (with JetStream) named by GRIDLOOP_DATABASE_URL and GRIDLOOP_NATS_URL.
#
#   GRIDLOOP_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
#   GRIDLOOP_NATS_URL=nats://127.0.0.1:4222 deploy/local/cluster.sh
#
# gRPC: intake :50061, dispatch :50062, mediation :50063, evaluation :50064 (GRIDLOOP_BASE_PORT
# moves them); Prometheus metrics on :9461..:9464. Logs in $GRIDLOOP_LOG_DIR (default
# ./gridloop-cluster-logs). Ctrl-C or SIGTERM stops the four gracefully (drain, flush, exit 0).
# Any other GRIDLOOP_* setting (schema prefix, stream, jurisdiction, …) is passed through.
set -euo pipefail

: "${GRIDLOOP_DATABASE_URL:?set GRIDLOOP_DATABASE_URL to a Postgres URL, e.g. postgres://postgres@127.0.0.1:5432/postgres}"
: "${GRIDLOOP_NATS_URL:?set GRIDLOOP_NATS_URL to a NATS server with JetStream, e.g. nats://127.0.0.1:4222}"
export GRIDLOOP_DATABASE_URL GRIDLOOP_NATS_URL
base_port="${GRIDLOOP_BASE_PORT:-50061}"
log_dir="${GRIDLOOP_LOG_DIR:-./gridloop-cluster-logs}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

if [[ -n "${GRIDLOOP_BIN:-}" ]]; then
    bin="$GRIDLOOP_BIN"
else
    cargo build --release --locked -p gridloop --manifest-path "$repo/Cargo.toml" >&2
    bin="${CARGO_TARGET_DIR:-$repo/target}/release/gridloop"
fi
mkdir -p "$log_dir"

# Schemas and streams first, once, so the four processes do not race to create them.
"$bin" migrate >&2

services=(intake dispatch mediation evaluation)
pids=()
stop() {
    echo "stopping: SIGTERM to ${pids[*]}" >&2
    kill -TERM "${pids[@]}" 2>/dev/null || true
    status=0
    for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
    exit "$status"
}
trap stop INT TERM

for i in "${!services[@]}"; do
    service="${services[$i]}"
    port=$((base_port + i))
    GRIDLOOP_LISTEN="127.0.0.1:$port" GRIDLOOP_METRICS_LISTEN="127.0.0.1:$((9461 + i))" \
        "$bin" serve "$service" >"$log_dir/$service.log" 2>&1 &
    pids+=($!)
    echo "$service: grpc 127.0.0.1:$port, metrics http://127.0.0.1:$((9461 + i))/metrics, log $log_dir/$service.log, pid $!" >&2
done

cat >&2 <<HELP

The CLI reaches them with:
  export GRIDLOOP_INTAKE_ADDR=http://127.0.0.1:$base_port GRIDLOOP_DISPATCH_ADDR=http://127.0.0.1:$((base_port + 1)) \\
         GRIDLOOP_MEDIATION_ADDR=http://127.0.0.1:$((base_port + 2)) GRIDLOOP_EVALUATION_ADDR=http://127.0.0.1:$((base_port + 3))
  gridloop catalog
HELP

# Exit (stopping the rest) as soon as one service dies.
set +e
wait -n "${pids[@]}"
status=$?
echo "a service exited with status $status; stopping the others" >&2
kill -TERM "${pids[@]}" 2>/dev/null
wait
exit "$status"
