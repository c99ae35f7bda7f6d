#!/usr/bin/env bash
# Sluice as the `--extra` contestant of ../shared/referee-bench/peers.sh:
#   ../shared/referee-bench/peers.sh --extra 'sluice=./bench/start-for-referee.sh' --only nginx,node-undici-pool
#
# Env from the harness: PORT (HTTP/1.1), UPSTREAM_HOST, UPSTREAM_PORT; optional TLS_PORT with
# TLS_CERT/TLS_KEY (HTTPS, terminated here), H2_PORT (h2c with prior knowledge).
# Serves a Gateway with hosts ["*"] and one VirtualService route to the upstream, as a user would
# write it, with Sluice's defaults (access log on, metrics on); one process (the harness pins
# the contestant to one core). SLUICE_ARGS adds flags (e.g. "--access-log off").
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
: "${PORT:?PORT is required}" "${UPSTREAM_PORT:?UPSTREAM_PORT is required}"
UPSTREAM_HOST=${UPSTREAM_HOST:-127.0.0.1}
[[ -f $HERE/../dist/cli/main.js ]] || (cd "$HERE/.." && npx tsc -p .)
# The harness wipes its RUN_DIR at the start of each run; elsewhere /tmp.
WORK=$(mktemp -d "${RUN_DIR:-/tmp}/sluice-referee.XXXXXX")

servers="  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [\"*\"]"
portmap="80=$PORT"
args=()
if [[ -n ${TLS_PORT:-} && -n ${TLS_CERT:-} && -n ${TLS_KEY:-} ]]; then
  mkdir -p "$WORK/credentials/referee-cert"
  cp "$TLS_CERT" "$WORK/credentials/referee-cert/tls.crt"
  cp "$TLS_KEY" "$WORK/credentials/referee-cert/tls.key"
  servers+="
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [\"*\"]
    tls: {mode: SIMPLE, credentialName: referee-cert}"
  portmap+=",443=$TLS_PORT"
  args+=(--credentials "$WORK/credentials")
fi
if [[ -n ${H2_PORT:-} ]]; then
  # A plain HTTP port speaks HTTP/1.1 and h2c with prior knowledge (Envoy's auto codec).
  servers+="
  - port: {number: 8080, name: http2, protocol: HTTP2}
    hosts: [\"*\"]"
  portmap+=",8080=$H2_PORT"
fi
cat >"$WORK/referee.yaml" <<EOF
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: referee-gateway, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
$servers
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: referee, namespace: default}
spec:
  hosts: ["*"]
  gateways: [istio-system/referee-gateway]
  http:
  - route: [{destination: {host: upstream, port: {number: 80}}}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: upstream, namespace: default}
spec:
  hosts: [upstream.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: $UPSTREAM_HOST, ports: {http: $UPSTREAM_PORT}}]
EOF
# shellcheck disable=SC2086
exec node "$HERE/../bin/sluice.js" run -c "$WORK/referee.yaml" --listen-host 127.0.0.1 --port-map "$portmap" \
  --admin-port $((PORT + 5)) --codec fast --concurrency 1 --log-level warn "${args[@]}" ${SLUICE_ARGS:-}
