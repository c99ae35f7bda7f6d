import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Small builders for the Istio YAML that many tests share. Each returns one document
// (no leading `---`); join documents with `docs(...)`.

export function docs(...parts: string[]): string {
  return parts.map((p) => p.trim()).join('\n---\n') + '\n';
}

/** Gateway `istio-system/gw` selecting istio=ingressgateway with one HTTP server on port 80. */
export function gatewayYaml(hosts: string[]): string {
  return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [${hosts.map((h) => JSON.stringify(h)).join(', ')}]`;
}

/** Gateway istio-system/gw with an HTTP server on port 80 and a TCP server on port 9000, any host. */
export const HTTP_AND_TCP_GATEWAY = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - {port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}
  - {port: {number: 9000, name: tcp, protocol: TCP}, hosts: ["*"]}`;

/** ServiceEntry `<name>.default.svc.cluster.local`, HTTP port `servicePort` (80), loopback endpoints (one per port given). */
export function serviceEntryYaml(name: string, endpointPort?: number | number[], servicePort = 80): string {
  const ports = Array.isArray(endpointPort) ? endpointPort : [endpointPort];
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: default}
spec:
  hosts: [${name}.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: ${servicePort}, name: http, protocol: HTTP}]
  endpoints: [${ports.map((p) => `{address: 127.0.0.1${p !== undefined ? `, ports: {http: ${p}}` : ''}}`).join(', ')}]`;
}

/** DestinationRule istio-system/<name> for `<name>.default.svc.cluster.local`; `policy` is the indented trafficPolicy body. */
export function destinationRuleYaml(name: string, policy: string): string {
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: istio-system}
spec:
  host: ${name}.default.svc.cluster.local
  trafficPolicy:
${policy}`;
}

/** VirtualService default/<name> for `hosts` on istio-system/gw; `rules` is the indented http list. */
export function virtualServiceYaml(name: string, hosts: string[], rules: string): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: default}
spec:
  hosts: [${hosts.map((h) => JSON.stringify(h)).join(', ')}]
  gateways: [istio-system/gw]
  http:
${rules}`;
}

/** VirtualService istio-system/<name> on Gateway gw: every request goes to echo.default.svc.cluster.local:80. */
export function echoVirtualServiceYaml(name = 'vs'): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [gw]
  http: [{route: [{destination: {host: echo.default.svc.cluster.local, port: {number: 80}}}]}]`;
}

/**
 * The front most end-to-end tests share: Gateway istio-system/gw (HTTP 80, any host), the
 * VirtualService above, and ServiceEntry `echo` pointing at the echo backend's port.
 */
export function echoRouteYaml(backendPort: number): string {
  return docs(gatewayYaml(['*']), echoVirtualServiceYaml(), serviceEntryYaml('echo', backendPort));
}

/**
 * Istio's local rate limit task: EnvoyFilter istio-system/<name> inserting
 * envoy.filters.http.local_ratelimit (enabled and enforced for every request) before the
 * ingress gateway's router. `tokenBucket` is the content of the token_bucket flow mapping;
 * `extra` lines are added to the LocalRateLimit value.
 */
export function localRateLimitEnvoyFilterYaml(name: string, tokenBucket: string, extra: string[] = []): string {
  return `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: ${name}, namespace: istio-system}
spec:
  workloadSelector: {labels: {istio: ingressgateway}}
  configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: GATEWAY
      listener: {filterChain: {filter: {name: envoy.filters.network.http_connection_manager, subFilter: {name: envoy.filters.http.router}}}}
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.local_ratelimit
        typed_config:
          "@type": type.googleapis.com/udpa.type.v1.TypedStruct
          type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
          value:
            stat_prefix: http_local_rate_limiter
            token_bucket: {${tokenBucket}}
            filter_enabled: {runtime_key: local_rate_limit_enabled, default_value: {numerator: 100, denominator: HUNDRED}}
            filter_enforced: {runtime_key: local_rate_limit_enforced, default_value: {numerator: 100, denominator: HUNDRED}}
${extra.map((l) => `            ${l}\n`).join('')}`;
}

/** Writes `yaml` as `name` in a fresh temporary folder (or in `dir`); returns the file's path. */
export function configFile(yaml: string, name = 'config.yaml', dir = mkdtempSync(join(tmpdir(), 'sluice-test-'))): string {
  const file = join(dir, name);
  writeFileSync(file, yaml);
  return file;
}

/**
 * Istio's global rate limit task, unchanged but for `domain`, `failure_mode_deny` and a 2 s
 * timeout: the ratelimit filter (service `outbound|8081||ratelimit.default.svc.cluster.local`)
 * and a VIRTUAL_HOST patch with `rate_limits`, one entry per `actions` line given.
 */
export function globalRateLimitYaml(domain: string, failureModeDeny: boolean, actions: readonly string[]): string {
  return `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: filter-ratelimit, namespace: istio-system}
spec:
  workloadSelector: {labels: {istio: ingressgateway}}
  configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: GATEWAY
      listener: {filterChain: {filter: {name: "envoy.filters.network.http_connection_manager", subFilter: {name: "envoy.filters.http.router"}}}}
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.ratelimit
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit
          domain: ${domain}
          failure_mode_deny: ${failureModeDeny}
          timeout: 2s
          enable_x_ratelimit_headers: DRAFT_VERSION_03
          rate_limit_service:
            grpc_service:
              envoy_grpc: {cluster_name: outbound|8081||ratelimit.default.svc.cluster.local, authority: ratelimit.default.svc.cluster.local}
            transport_api_version: V3
---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: filter-ratelimit-svc, namespace: istio-system}
spec:
  workloadSelector: {labels: {istio: ingressgateway}}
  configPatches:
  - applyTo: VIRTUAL_HOST
    match: {context: GATEWAY, routeConfiguration: {vhost: {name: "", route: {action: ANY}}}}
    patch:
      operation: MERGE
      value:
        rate_limits:
${actions.map((a) => `        - actions: ${a}`).join('\n')}
`;
}

/**
 * CUSTOM authorization, both chains: Gateway gw (HTTP 80, TCP 9000), every request and
 * connection to echo (on `backend`), the ext-authz service (`servicePort`/`protocol`, on
 * `authzPort`) and a CUSTOM policy with `provider` on paths /protected/*.
 */
export function customAuthzYaml(backend: number, authzPort: number, servicePort: number, protocol: 'HTTP' | 'GRPC', provider: string): string {
  const portName = protocol.toLowerCase();
  return `${HTTP_AND_TCP_GATEWAY}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [gw]
  http: [{route: [{destination: {host: echo.default.svc.cluster.local, port: {number: 80}}}]}]
  tcp: [{match: [{port: 9000}], route: [{destination: {host: echo.default.svc.cluster.local, port: {number: 80}}}]}]
---
${serviceEntryYaml('echo', backend)}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext-authz, namespace: default}
spec:
  hosts: [ext-authz.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: ${servicePort}, name: ${portName}, protocol: ${protocol}}]
  endpoints: [{address: 127.0.0.1, ports: {${portName}: ${authzPort}}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ext-authz, namespace: istio-system}
spec:
  action: CUSTOM
  provider: {name: ${provider}}
  rules: [{to: [{operation: {paths: ["/protected/*"]}}]}]
`;
}
