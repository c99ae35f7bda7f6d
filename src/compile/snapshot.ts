// The Snapshot: everything the data plane needs, computed once per config version by
// compile(). Requests only read it. Field names follow Envoy's config_dump where one exists,
// so `sluice proxy-config` and /config_dump read like istioctl's. Functions (compiled
// matchers) are non-enumerable or skipped by the dump's replacer, so the snapshot serialises
// to plain JSON.

import type { Diagnostic } from '../config/diagnostic.js';
import type { SourcePos } from '../config/diagnostic.js';
import type { RouteMatch } from './match/route-match.js';
import type { HeaderMutation } from './header-mutation.js';
import type { HttpFilterConfigs, ListenerPolicies } from './policies.js';
import type { SidecarConfig } from './sidecar-snapshot.js';

export type Mode = 'gateway' | 'sidecar';

export interface Workload {
  readonly mode: Mode;
  readonly labels: Readonly<Record<string, string>>;
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly trustDomain: string;
  readonly domainSuffix: string;
  readonly rootNamespace: string;
  /** Gateway server port → local bind port (`--port-map`). */
  readonly portMap: ReadonlyMap<number, number>;
  readonly listenHost: string;
  /** Sidecar mode: `--outbound-port`, `--inbound-port`, `--app-port` (null without one). */
  readonly sidecarPorts?: { readonly outboundPort: number; readonly inboundPort: number; readonly appPort: number | null } | null;
}

export interface Snapshot {
  readonly version: number;
  readonly createdAt: string;
  readonly workload: Workload;
  readonly listeners: readonly Listener[];
  readonly routeConfigs: ReadonlyMap<string, RouteConfiguration>;
  readonly clusters: ReadonlyMap<string, Cluster>;
  readonly secrets: ReadonlyMap<string, TlsSecret>;
  readonly outboundTrafficPolicy: 'ALLOW_ANY' | 'REGISTRY_ONLY';
  /** Sidecar mode: the outbound explicit proxy and inbound listener; null for a gateway. */
  readonly sidecar?: SidecarConfig | null;
  /** meshConfig.accessLogFormat (Envoy command operators); null/absent = Istio's default TEXT line. */
  readonly accessLogFormat?: string | null;
  readonly diagnostics: readonly Diagnostic[];
  /** What compile did with each EnvoyFilter patch that reached this workload (`sluice analyze` SLU0310 reads it). */
  readonly envoyFilterPatches?: readonly EnvoyFilterPatchOutcome[];
}

/** One EnvoyFilter patch on one workload: applied, not applied by Sluice (and why), or no effect here (as in Istio). */
export interface EnvoyFilterPatchOutcome {
  /** `EnvoyFilter ns/name`. */
  readonly resource: string;
  /** Index in spec.configPatches. */
  readonly index: number;
  readonly outcome: 'applied' | 'not_applied' | 'no_effect';
  /** For not_applied: compile's diagnostic code (SLU052x), its message and fix. */
  readonly code: string | null;
  readonly reason: string | null;
  readonly fix: string | null;
}

// ---------------------------------------------------------------- listeners

export type FilterChainKind = 'http' | 'tcp' | 'tls_passthrough';

export interface Listener {
  /** `0.0.0.0_8080`, named after the bind port as Istio does. */
  readonly name: string;
  readonly address: string;
  /** Gateway server (Service) port: what routes match `port:` against. */
  readonly port: number;
  readonly bindPort: number;
  readonly filterChains: readonly FilterChain[];
  /** Any chain needs the ClientHello (TLS termination or passthrough). */
  readonly inspectsTls: boolean;
}

export interface FilterChain {
  readonly name: string;
  /** Lower-case SNI names this chain serves; empty = any (the fallback chain). */
  readonly serverNames: readonly string[];
  /** TLS terminated here; null = plaintext (or passthrough). */
  readonly tls: ServerTls | null;
  readonly kind: FilterChainKind;
  /** For `http`: the route configuration name (`http.80`, `https.443.https.gw.ns`). */
  readonly routeConfigName: string | null;
  /** For `tcp` / `tls_passthrough`: L4 routes, first match wins. */
  readonly l4Routes: readonly L4Route[];
  /** Plain HTTP server with `httpsRedirect`: every request answers 301 to https. */
  readonly httpsRedirect: boolean;
  readonly policies: ListenerPolicies;
  /** How `x-forwarded-client-cert` is handled on this chain's HTTP requests (absent = SANITIZE_SET). */
  readonly forwardClientCertDetails?: ForwardClientCertDetails;
  /** Gateway/server this chain came from, for trace and logs. */
  readonly origin: { readonly gateway: string; readonly server: number; readonly portName: string; readonly source: SourcePos } | null;
}

export interface ServerTls {
  readonly mode: 'SIMPLE' | 'MUTUAL' | 'OPTIONAL_MUTUAL' | 'ISTIO_MUTUAL';
  /** Secret names in `secrets`. */
  readonly certificates: readonly string[];
  readonly caSecret: string | null;
  readonly subjectAltNames: readonly string[];
  readonly verifyCertificateSpki: readonly string[];
  readonly verifyCertificateHash: readonly string[];
  readonly minVersion: string;
  readonly maxVersion: string;
  readonly cipherSuites: readonly string[];
  readonly alpn: readonly string[];
  /** Hash of the parameters and of every secret's material: the runtime's context cache key. */
  readonly fingerprint?: string;
}

/** `meshConfig.defaultConfig.gatewayTopology.forwardClientCertDetails` (Istio's gateway default SANITIZE_SET). */
export type ForwardClientCertDetails = 'SANITIZE' | 'FORWARD_ONLY' | 'APPEND_FORWARD' | 'SANITIZE_SET' | 'ALWAYS_FORWARD_ONLY';

export interface TlsSecret {
  readonly name: string;
  readonly cert: string | null;
  readonly key: string | null;
  readonly ca: string | null;
  /** Where it came from: `kubernetes://ns/name`, `file://...`, `--credentials DIR`. */
  readonly origin: string;
  readonly error: string | null;
  /** Short hash of the material: runtimes rebuild TLS contexts only when it changes (rotation). */
  readonly fingerprint?: string;
}

// ---------------------------------------------------------------- L4 routes

export interface L4Route {
  readonly name: string;
  /** Lower-case SNI patterns (`tls` routes); empty = any. */
  readonly sniHosts: readonly string[];
  /** CIDRs the connection's destination (local) address must be in; empty = any. */
  readonly destinationSubnets: readonly string[];
  /** Compiled `destinationSubnets` (non-enumerable); null = any destination. */
  readonly destinationMatcher?: ((address: string) => boolean) | null;
  readonly clusters: readonly WeightedCluster[];
  readonly totalWeight: number;
  readonly source: RouteSource;
}

// ---------------------------------------------------------------- HTTP routes

export interface RouteConfiguration {
  readonly name: string;
  readonly virtualHosts: readonly VirtualHost[];
  /** Index: exact lower-case domain → vhost. */
  readonly exact: ReadonlyMap<string, VirtualHost>;
  /** `*.example.com` domains as `.example.com` suffixes, longest first. */
  readonly suffixes: readonly { readonly suffix: string; readonly vhost: VirtualHost }[];
  readonly any: VirtualHost | null;
}

export interface VirtualHost {
  readonly name: string;
  readonly domains: readonly string[];
  readonly routes: readonly Route[];
  /** Plain-HTTP server with httpsRedirect: redirect everything to https (Envoy require_tls). */
  readonly requireTls: boolean;
}

export interface RouteSource {
  /** `VirtualService ns/name`. */
  readonly resource: string;
  readonly file: string;
  readonly line: number;
  readonly col: number;
  /** Position in spec.http / spec.tls / spec.tcp and in its match list. */
  readonly rule: number;
  readonly match: number;
}

export interface Route {
  /** Envoy route name: the HTTPRoute `name`, else `ns.vs-name.rule.match` style, for %ROUTE_NAME%. */
  readonly name: string;
  readonly match: RouteMatch;
  readonly action: RouteAction;
  readonly requestHeaders: HeaderMutation | null;
  readonly responseHeaders: HeaderMutation | null;
  readonly filters: HttpFilterConfigs;
  readonly source: RouteSource;
}

export type RouteAction = ForwardAction | RedirectAction | DirectResponseAction;

export interface WeightedCluster {
  readonly cluster: string;
  readonly weight: number;
  /** Running sum of weights up to and including this one. */
  readonly cumulative: number;
  readonly host: string;
  readonly subset: string;
  readonly port: number;
  readonly requestHeaders: HeaderMutation | null;
  readonly responseHeaders: HeaderMutation | null;
}

export interface RetryPolicy {
  readonly attempts: number;
  readonly perTryTimeoutMs: number;
  /** Envoy retry conditions, parsed. */
  readonly on: RetryOn;
  readonly statusCodes: readonly number[];
  readonly ignorePreviousHosts: boolean;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
}

export interface RetryOn {
  readonly fiveXx: boolean;
  readonly gatewayError: boolean;
  readonly reset: boolean;
  readonly resetBeforeRequest: boolean;
  readonly connectFailure: boolean;
  readonly retriable4xx: boolean;
  readonly refusedStream: boolean;
  readonly retriableStatusCodes: boolean;
  readonly envoyRatelimited: boolean;
  readonly grpc: readonly string[];
}

export interface Rewrite {
  /** Replace the matched prefix (prefix match) or the whole path. */
  readonly uri: string | null;
  /** Prefix the route matched on, when the rewrite replaces only that. */
  readonly prefix: string | null;
  readonly prefixIgnoreCase: boolean;
  readonly regex: { readonly test: (path: string) => boolean; readonly replace: (path: string) => string; readonly pattern: string; readonly substitution: string } | null;
  readonly authority: string | null;
}

export interface Mirror {
  readonly cluster: string;
  readonly host: string;
  /** 0..1e6 (millionths) of requests mirrored. */
  readonly fractionPerMillion: number;
}

export interface ForwardAction {
  readonly kind: 'route';
  readonly clusters: readonly WeightedCluster[];
  readonly totalWeight: number;
  /** 0 = no timeout (Istio's default). */
  readonly timeoutMs: number;
  readonly retry: RetryPolicy | null;
  readonly rewrite: Rewrite | null;
  readonly mirrors: readonly Mirror[];
}

export interface RedirectAction {
  readonly kind: 'redirect';
  readonly uri: string | null;
  readonly authority: string | null;
  readonly scheme: string | null;
  readonly port: number | null;
  readonly derivePort: 'FROM_PROTOCOL_DEFAULT' | 'FROM_REQUEST_PORT' | null;
  readonly code: number;
}

export interface DirectResponseAction {
  readonly kind: 'direct';
  readonly status: number;
  readonly body: string;
}

// ---------------------------------------------------------------- clusters

export type UpstreamProtocol = 'http1' | 'http2' | 'auto';

export interface Endpoint {
  /** IP address, or a DNS name for DNS-resolved clusters. */
  readonly address: string;
  readonly port: number;
  readonly weight: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly locality: string;
  readonly serviceAccount: string;
}

export interface ClientTls {
  readonly mode: 'SIMPLE' | 'MUTUAL' | 'ISTIO_MUTUAL';
  readonly sni: string | null;
  readonly autoSni: boolean;
  readonly subjectAltNames: readonly string[];
  readonly caSecret: string | null;
  readonly certSecret: string | null;
  readonly insecureSkipVerify: boolean;
}

export interface ConnectionPool {
  readonly maxConnections: number;
  readonly connectTimeoutMs: number;
  readonly maxPendingRequests: number;
  readonly maxRequests: number;
  readonly maxRequestsPerConnection: number;
  readonly maxRetries: number;
  readonly idleTimeoutMs: number;
  readonly maxConnectionDurationMs: number;
  readonly h2Upgrade: boolean;
  readonly useClientProtocol: boolean;
  /** HTTP/2 streams per upstream connection (`maxConcurrentStreams`), also capped by the peer's SETTINGS. */
  readonly maxConcurrentStreams?: number;
}

export interface OutlierDetectionConfig {
  readonly consecutive5xx: number;
  readonly consecutiveGatewayErrors: number;
  readonly consecutiveLocalOriginFailures: number;
  readonly splitExternalLocalOriginErrors: boolean;
  readonly intervalMs: number;
  readonly baseEjectionTimeMs: number;
  readonly maxEjectionPercent: number;
  readonly minHealthPercent: number;
}

export interface LoadBalancer {
  readonly policy: 'LEAST_REQUEST' | 'ROUND_ROBIN' | 'RANDOM' | 'PASSTHROUGH' | 'RING_HASH' | 'MAGLEV';
  readonly hash: { readonly header?: string; readonly cookie?: { name: string; path: string; ttlMs: number }; readonly sourceIp?: boolean; readonly queryParameter?: string } | null;
}

export interface Cluster {
  /** `outbound|8080|v1|reviews.default.svc.cluster.local`. */
  readonly name: string;
  readonly serviceHost: string;
  readonly subset: string;
  readonly port: number;
  /** `eds` (addresses known), `strict_dns` (names resolved by the data plane), `original_dst`. */
  readonly type: 'eds' | 'strict_dns' | 'original_dst';
  readonly endpoints: readonly Endpoint[];
  readonly protocol: UpstreamProtocol;
  readonly lb: LoadBalancer;
  readonly pool: ConnectionPool;
  readonly outlier: OutlierDetectionConfig | null;
  readonly tls: ClientTls | null;
  readonly meshExternal: boolean;
  /** `Kind ns/name` of the objects that shaped this cluster, for trace. */
  readonly origins: readonly string[];
}
