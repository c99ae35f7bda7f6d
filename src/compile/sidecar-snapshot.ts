// The sidecar part of the Snapshot (`Snapshot.sidecar`, null in gateway mode): what `sluice run
// --mode sidecar` serves. Outbound is an explicit proxy (applications set http_proxy /
// https_proxy to it): HTTP requests use the route configuration named after the request's
// port ("80", "443", as Istio names a sidecar's), CONNECT tunnels use the per-port L4 tables
// below. Inbound terminates mesh mTLS per PeerAuthentication and forwards to the application.

import type { ClientTls, FilterChain, L4Route, Listener } from './snapshot.js';

/** `FilterChain.routeConfigName` of the outbound chain: pick the table by the request's port. */
export const ROUTE_CONFIG_BY_REQUEST_PORT = '~request_port';
/** Route configuration for ports no service or rule names: only the allow_any / block_all host. */
export const FALLBACK_ROUTE_CONFIG = '*';
/** Envoy's names for the two outbound traffic policy clusters. */
export const PASSTHROUGH_CLUSTER = 'PassthroughCluster';
export const BLACKHOLE_CLUSTER = 'BlackHoleCluster';

export type OutboundTrafficMode = 'ALLOW_ANY' | 'REGISTRY_ONLY';
export type PeerMtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';

export interface SidecarConfig {
  /** The Sidecar resource that scopes this proxy (`Sidecar ns/name`), null for the mesh default. */
  readonly scope: string | null;
  readonly outbound: OutboundConfig;
  /** Null without `--app-port`. */
  readonly inbound: InboundConfig | null;
}

export interface OutboundConfig {
  readonly listener: Listener;
  readonly chain: FilterChain;
  readonly mode: OutboundTrafficMode;
  /** Where unknown destinations go under ALLOW_ANY: PassthroughCluster or an egressProxy cluster. */
  readonly passthroughCluster: string;
  /** CONNECT tables by destination port; `anyPort` serves ports not listed. */
  readonly l4: ReadonlyMap<number, OutboundL4Table>;
  readonly anyPort: OutboundL4Table;
}

/** How a CONNECT tunnel to one port is routed (first hit wins, in this order). */
export interface OutboundL4Table {
  readonly port: number;
  /** Read the tunnelled ClientHello to route by SNI (tls rules, or TLS/HTTPS services here). */
  readonly inspectTls: boolean;
  /** VirtualService `tls` rules bound to mesh: by SNI. */
  readonly tlsRoutes: readonly OutboundL4Route[];
  /** VirtualService `tcp` rules bound to mesh: by the CONNECT host against the VS hosts. */
  readonly tcpRoutes: readonly OutboundL4Route[];
  /** Registry services on this port: host (exact or `*.suffix`) → cluster. */
  readonly services: readonly OutboundService[];
}

export interface OutboundL4Route {
  readonly route: L4Route;
  /** VirtualService hosts (normalised), matched against the CONNECT host for tcp rules. */
  readonly hosts: readonly string[];
  /** TLS the sidecar originates per destination (aligned with route.clusters); null = bytes as they are. */
  readonly upstreamTls: readonly (ClientTls | null)[];
}

export interface OutboundService {
  readonly host: string;
  readonly cluster: string;
  readonly upstreamTls: ClientTls | null;
}

export interface InboundConfig {
  readonly listener: Listener;
  /** Chains: plaintext and mTLS, each HTTP (route config `inbound|<port>||`) or TCP. */
  readonly httpChain: FilterChain;
  readonly tcpChain: FilterChain;
  readonly appPort: number;
  readonly mode: PeerMtlsMode;
  /** `PeerAuthentication ns/name` that decided the mode, null for the default (PERMISSIVE). */
  readonly modeFrom: string | null;
  /** Application protocol from the Service port that targets appPort; '' = detect per connection. */
  readonly protocol: 'http' | 'tcp' | '';
}
