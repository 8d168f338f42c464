#!/usr/bin/env bash
# Retrieval quality on LoCoMo (five conversations in ../shared/data/locomo-dev, or LOCOMO_DIR):
# builds the gateway (debug is enough: quality, not speed), starts it on a private PostgreSQL and
# prints measure.py's JSON (hit@1/5/10, MRR, per category). Usage: Benchmarks/locomo/run.sh [K]
#   MG_LOCOMO_BIN=<path>: measure that memory-gateway binary instead (e.g. a baseline build)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/postgres.sh
mg_swift_path
data=${LOCOMO_DIR:-../shared/data/locomo-dev}
if [ -n "${MG_LOCOMO_BIN:-}" ]; then
    bin=$MG_LOCOMO_BIN
else
    swift build --product memory-gateway >/dev/null
    bin="$(swift build --show-bin-path)/memory-gateway"
fi
tmp=$(mktemp -d /tmp/mg-locomo.XXXXXX)
pg_port=$(mg_free_port); port=$(mg_free_port)
token=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
gw=""
cleanup() { [ -n "$gw" ] && kill "$gw" 2>/dev/null; wait 2>/dev/null || true; mg_pg_stop "$tmp"; rm -rf "$tmp"; }
trap cleanup EXIT
mg_pg_start "$tmp" "$pg_port"
export DATABASE_URL="${MG_LOCOMO_DATABASE_URL:-$(mg_pg_url "$tmp" "$pg_port")}"
HOST=127.0.0.1 PORT=$port ACCESS_LOG=false GATEWAY_OPERATOR_TOKEN=$token "$bin" serve >"$tmp/gw.log" 2>&1 &
gw=$!
for _ in $(seq 1 150); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
python3 Benchmarks/locomo/measure.py "http://127.0.0.1:$port" "$token" "$data" --k "${1:-10}"
