#!/usr/bin/env bash
# Offline speed: how long `sluice analyze` and `sluice test` take on a large generated config.
# Issue targets: validation stays cheap on reloads of thousands of resources; a thousand
# routing-test cases run well under a second. Usage: bench/offline.sh [N]   (N VirtualServices,
# N DestinationRules, N ServiceEntries and N test cases; default 1000). Needs `npm run build` first.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-1000}"
dir="$(mktemp -d)"
trap "rm -rf \"$dir\"" EXIT; [ -n "${KEEP:-}" ] && trap "echo kept $dir" EXIT
mkdir -p "$dir/config"
{
  cat <<'YAML'
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*/*"]}]
YAML
  for ((i = 0; i < n; i++)); do
    cat <<YAML
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs-$i, namespace: default}
spec:
  hosts: [app-$i.example.com]
  gateways: [istio-system/gw]
  http:
  - match: [{uri: {prefix: /api}, headers: {x-canary: {exact: "true"}}}, {uri: {regex: "^/v[0-9]+/.*"}}]
    route:
    - {destination: {host: api-$i, subset: v1, port: {number: 8080}}, weight: 90}
    - {destination: {host: api-$i, subset: v2, port: {number: 8080}}, weight: 10}
    retries: {attempts: 3, perTryTimeout: 2s, retryOn: "5xx,connect-failure"}
    timeout: 10s
  - route: [{destination: {host: web-$i, port: {number: 80}}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: dr-$i, namespace: default}
spec:
  host: api-$i
  trafficPolicy: {connectionPool: {tcp: {maxConnections: 100}}}
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: se-$i, namespace: default}
spec:
  hosts: [api-$i.default.svc.cluster.local, web-$i.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 8080, name: http, protocol: HTTP}, {number: 80, name: http-web, protocol: HTTP}]
  endpoints: [{address: 127.0.0.1, labels: {version: v1}}, {address: 127.0.0.2, labels: {version: v2}}]
YAML
  done
} > "$dir/config/all.yaml"
{
  echo "config: [config/]"
  echo "gateway: istio=ingressgateway"
  echo "namespace: istio-system"
  echo "tests:"
  for ((i = 0; i < n; i++)); do
    echo "- {name: case-$i, request: GET http://app-$i.example.com/other, expect: {destination: web-$i:80}}"
  done
} > "$dir/cases.test.yaml"

ms() { local s e; s=$(date +%s%N); "$@" > "$dir/out" 2>&1 || true; e=$(date +%s%N); echo $(((e - s) / 1000000)); }
echo "config: $n VirtualServices + $n DestinationRules + $n ServiceEntries ($(wc -c < "$dir/config/all.yaml") bytes)"
echo "sluice analyze:            $(ms node bin/sluice.js analyze -c "$dir/config") ms wall (process start included)"
echo "sluice test, $n cases:   $(ms node bin/sluice.js test "$dir/cases.test.yaml") ms wall (process start included)"
tail -n 2 "$dir/out"

# The same thousand cases against a team-sized config: the seed's ingress (examples/seed-ingress).
{
  echo "config: [$PWD/examples/seed-ingress/]"
  echo "gateway: istio=ingressgateway"
  echo "namespace: istio-system"
  echo "placeholderCredentials: true"
  echo "tests:"
  for ((i = 0; i < n; i++)); do
    echo "- {name: seed-$i, request: GET https://api.example.com/api/v1/users/$i, expect: {destination: api-service:8080}}"
  done
} > "$dir/seed.test.yaml"
echo "sluice test, $n cases on examples/seed-ingress: $(ms node bin/sluice.js test "$dir/seed.test.yaml") ms wall (process start included)"
tail -n 1 "$dir/out"
