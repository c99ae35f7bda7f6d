// Where rate-limit filters sit in the HTTP filter chain. An EnvoyFilter inserts
// local_ratelimit / ratelimit relative to Istio's filters (INSERT_BEFORE router, INSERT_FIRST,
// INSERT_BEFORE without subFilter = first, ...). Sluice's filters have fixed places, so the
// compiler maps each inserted instance to the slot just before the next Istio filter after it,
// and one small filter per slot runs the instances placed there.
//
//   slot 0 (order  50) … jwt_authn (100) … slot 1 (150) … ext_authz (200) … slot 2 (250) …
//   rbac (300) … slot 3 (400) … cors (500) … slot 4 (550) … fault (600) … slot 5 (650) … router

import type { RouteRateLimit } from './descriptors.js';
import type { GlobalRateLimitConfig } from './config.js';
import type { LocalRateLimitConfig } from '../local-ratelimit/config.js';

export const SLOT_ORDERS: readonly number[] = Object.freeze([50, 150, 250, 400, 550, 650]);

/** The slot an instance lands in when it sits right before this Istio HTTP filter. */
export const SLOT_BEFORE: Readonly<Record<string, number>> = Object.freeze({
  'envoy.filters.http.jwt_authn': 0,
  istio_authn: 1,
  'envoy.filters.http.ext_authz': 1,
  'envoy.filters.http.rbac': 2,
  'envoy.filters.http.grpc_stats': 3,
  'envoy.filters.http.fault': 3,
  'envoy.filters.http.cors': 4,
  'istio.stats': 5,
  'envoy.filters.http.router': 5,
});

/** Config keyed by Route / VirtualHost object (per-route `typed_per_filter_config`, `rate_limits`). */
export class ScopeMap<T> extends Map<object, T> {
  /** For config_dump: `vhost` / `route` names instead of object keys. */
  toJSON(): unknown {
    const out: Record<string, T> = {};
    for (const [k, v] of this) out[(k as { name?: string }).name ?? '?'] = v;
    return out;
  }
}

export interface LocalRateLimitInstance {
  readonly kind: 'local';
  /** The HTTP filter name it was inserted under (typed_per_filter_config is keyed by it). */
  readonly name: string;
  readonly config: LocalRateLimitConfig | null;
  readonly perRoute: ScopeMap<LocalRateLimitConfig> | null;
}

export interface GlobalRateLimitInstance {
  readonly kind: 'global';
  readonly name: string;
  readonly config: GlobalRateLimitConfig;
}

export type RateLimitInstance = LocalRateLimitInstance | GlobalRateLimitInstance;

export interface RateLimitPolicies {
  /** One entry per slot (SLOT_ORDERS); null = nothing there. */
  readonly slots: readonly (readonly RateLimitInstance[] | null)[];
  /** `rate_limits` of routes and virtual hosts (VIRTUAL_HOST / HTTP_ROUTE MERGE patches). */
  readonly routeRateLimits: ScopeMap<readonly RouteRateLimit[]> | null;
  /** x-forwarded-for hops to trust for `remote_address` (numTrustedProxies). */
  readonly trustedHops: number;
  /**
   * A sidecar's outbound proxy: the policies of the destination port's listener, by the
   * request's route configuration name ("80", ...); the fields above are then unused. Absent
   * elsewhere.
   */
  readonly byRouteConfig?: RouteConfigMap<RateLimitPolicies>;
}

/** Config by route configuration name (a sidecar's per-port outbound listeners). */
export class RouteConfigMap<T> extends Map<string, T> {
  toJSON(): unknown {
    return Object.fromEntries(this);
  }
}

/**
 * The policies a stream's rate-limit filters run: the chain's, or on a sidecar's outbound
 * proxy those of the listener for the request's destination port (null when that port has
 * none, as Istio's passthrough has no HTTP filters).
 */
export function streamRateLimits(rl: RateLimitPolicies | null, routeConfig: { readonly name: string } | null): RateLimitPolicies | null {
  if (rl === null || rl.byRouteConfig === undefined) return rl;
  return routeConfig === null ? null : (rl.byRouteConfig.get(routeConfig.name) ?? null);
}
