#!/usr/bin/env bash
# The seed's Part 2 on one machine, end to end: external stand-ins, the mesh CA, the egress
# gateway, an application sidecar, and curl as the application (http_proxy / https_proxy).
# Run from the repository root after `npm run build`:  examples/seed-egress/try.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
sluice="node $here/../../bin/sluice.js"
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
[ -n "${KEEP:-}" ] && echo "work dir: $work"

echo "## external services (stand-ins on 127.0.0.1) and their test CA"
node "$here/external-servers.mjs" "$work/external" > "$work/external.log" 2>&1 & pids+=($!)
for _ in $(seq 50); do grep -q ready "$work/external.log" 2>/dev/null && break; sleep 0.1; done
mkdir -p "$work/credentials/external-api-ca" && cp "$work/external/external-ca.crt" "$work/credentials/external-api-ca/ca.crt"

echo "## the mesh CA"
$sluice ca init --dir "$work/mesh-ca" > "$work/ca-init.txt" && head -1 "$work/ca-init.txt"

config=(-c "$here/istio.yaml" -c "$here/mesh-install.yaml" -c "$here/additions.yaml")
echo "## the egress gateway (istio=egressgateway), binding outbound connections to 127.0.0.2"
$sluice run "${config[@]}" --labels istio=egressgateway --namespace istio-system \
  --service-account istio-egressgateway-service-account \
  --port-map 80=15080,443=15443,5432=15432 --listen-host 127.0.0.1 --admin-port 15000 \
  --mesh-ca-dir "$work/mesh-ca" --credentials "$work/credentials" --mesh "$here/audit-mesh.yaml" \
  --source-address 127.0.0.2 \
  --resolve httpbin.external-service.com:80=127.0.0.1:9080,api.external-service.com:443=127.0.0.1:9443 \
  --resolve www.googleapis.com:443=127.0.0.1:9444,db.external-service.com:5432=127.0.0.1:9432 \
  > "$work/gateway.access.log" 2> "$work/gateway.log" & pids+=($!)
echo "## the application's sidecar (namespace default, service account sleep)"
$sluice run --mode sidecar "${config[@]}" --labels app=sleep --namespace default --service-account sleep \
  --outbound-port 15001 --listen-host 127.0.0.1 --admin-port 15010 --mesh-ca-dir "$work/mesh-ca" \
  > "$work/sidecar.access.log" 2> "$work/sidecar.log" & pids+=($!)
for port in 15000 15010; do
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/ready" >/dev/null && break; sleep 0.1; done
done

export http_proxy=http://127.0.0.1:15001 https_proxy=http://127.0.0.1:15001
show() { echo; echo "\$ $*"; "$@" || echo "(curl exit $?)"; }
echo; echo "## the application's calls"
show curl -s http://api.external-service.com:443/v1/users                      # Steps 2-5: mTLS to the gateway, TLS origination there
show curl -s http://httpbin.external-service.com/get                           # plain HTTP through the gateway
show curl -s --cacert "$work/external/external-ca.crt" https://storage.googleapis.com/b/o   # Pattern 3: SNI passthrough
show node "$here/tcp-client.mjs" 15001 db.external-service.com:5432 "SELECT 1;" whoami     # Pattern 2: TCP
show curl -s -o /dev/null -w '%{http_code}\n' http://unknown.example.org/      # REGISTRY_ONLY: 502
show curl -s -o /dev/null https://unknown.example.org/                         # REGISTRY_ONLY: tunnel closed
unset http_proxy https_proxy
sleep 0.3
echo; echo "## sidecar access log (Istio's default format)"; cat "$work/sidecar.access.log"
echo; echo "## egress gateway access log (the auditor's format from audit-mesh.yaml)"; cat "$work/gateway.access.log"
echo; echo "## the gateway's workload certificate"; curl -s http://127.0.0.1:15000/certs | grep -E '"identity"|"serial_number"|"uri"|"expiration_time"' | head -5
