#!/usr/bin/env bash
# bench/profile.sh — where Sluice's time goes on the hot path: runs the origin and Sluice (on
# bench/configs/base) under `node --cpu-prof`, loads it with wrk, and prints the self time by
# area and the top functions (bench/tools/profile-top.mjs).
# usage: bench/profile.sh [--path /16k] [--https] [--duration S] [-- extra sluice run args]
# Env: RUN_DIR (/tmp/sluice-profile, wiped), BASE_PORT (19500).
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH")
RUN_DIR=${RUN_DIR:-/tmp/sluice-profile}
BASE_PORT=${BASE_PORT:-19500}
P=/ SCHEME=http DURATION=5 EXTRA=()
while (($#)); do
  case $1 in
    --path) P=$2; shift 2 ;;
    --https) SCHEME=https; shift ;;
    --duration) DURATION=$2; shift 2 ;;
    --) shift; EXTRA=("$@"); break ;;
    *) echo "unknown option $1" >&2; exit 1 ;;
  esac
done
[[ $RUN_DIR == /tmp/?* ]] || exit 1
rm -rf "$RUN_DIR"; mkdir -p "$RUN_DIR"/{www,upstream/tmp,configs/base,creds/bench-cert,prof}
head -c 16384 /dev/zero | tr '\0' 'x' >"$RUN_DIR/www/16k"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=127.0.0.1 \
  -keyout "$RUN_DIR/creds/bench-cert/tls.key" -out "$RUN_DIR/creds/bench-cert/tls.crt" 2>/dev/null
UP=$BASE_PORT PORT=$((BASE_PORT + 10))
sed -e "s|@UPSTREAM_PORT@|$UP|g" -e "s|@RUN_DIR@|$RUN_DIR|g" "$BENCH/conf/upstream.conf" >"$RUN_DIR/upstream/nginx.conf"
sed -e "s|@UPSTREAM_PORT@|$UP|g" "$BENCH/configs/base/gateway.yaml" >"$RUN_DIR/configs/base/gateway.yaml"
setsid taskset -c 1 nginx -e "$RUN_DIR/upstream/error.log" -c "$RUN_DIR/upstream/nginx.conf" &
UPID=$!
setsid taskset -c 0 node --cpu-prof --cpu-prof-dir "$RUN_DIR/prof" "$ROOT/bin/sluice.js" run -c "$RUN_DIR/configs/base" \
  --port-map 80=$PORT,443=$((PORT + 1)) --listen-host 127.0.0.1 --admin-port $((PORT + 3)) --credentials "$RUN_DIR/creds" \
  --access-log "$RUN_DIR/access.log" --log-level warn --concurrency 1 "${EXTRA[@]}" >"$RUN_DIR/sluice.log" 2>&1 &
SPID=$!
trap 'kill -TERM -- -$SPID -$UPID 2>/dev/null || true' EXIT
for _ in $(seq 100); do [[ $(curl -s --max-time 1 "http://127.0.0.1:$PORT/" 2>/dev/null) == ok ]] && break; sleep 0.1; done
URL="$SCHEME://127.0.0.1:$PORT$P"; [[ $SCHEME == https ]] && URL="https://127.0.0.1:$((PORT + 1))$P"
taskset -c 1 wrk -t1 -c64 -d2s "$URL" >/dev/null
taskset -c 1 wrk -t1 -c64 -d"${DURATION}s" --latency "$URL" | grep -E "Requests/sec|^ +(50|99)%"
kill -TERM "$SPID"; wait "$SPID" 2>/dev/null || true
node "$BENCH/tools/profile-top.mjs" "$RUN_DIR"/prof/*.cpuprofile 35
