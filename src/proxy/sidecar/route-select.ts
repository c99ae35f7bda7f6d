import { FALLBACK_ROUTE_CONFIG } from '../../compile/sidecar-snapshot.js';
import type { RouteConfiguration, Snapshot } from '../../compile/snapshot.js';
import type { HttpStream } from '../http/stream.js';

/** The port of `host:port` (IPv6 `[::1]:port` too); `dflt` when there is none. */
export function authorityPort(authority: string, dflt: number): number {
  const colon = authority.lastIndexOf(':');
  if (colon < 0 || authority.charCodeAt(authority.length - 1) === 93 /* ] */) return dflt;
  let n = 0;
  for (let i = colon + 1; i < authority.length; i++) {
    const c = authority.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return dflt;
    n = n * 10 + c;
  }
  return colon === authority.length - 1 || n > 65535 ? dflt : n;
}

/**
 * Sidecar outbound: the route configuration for the request's destination port ("80",
 * "443", ... as Istio names a sidecar's), else the fallback that only knows allow_any /
 * block_all. The port comes from the absolute-form URI or the Host header.
 */
export function outboundRouteConfig(s: HttpStream, current: Snapshot): RouteConfiguration | null {
  const port = authorityPort(s.authority, s.scheme === 'https' ? 443 : 80);
  const rcs = current.routeConfigs;
  return rcs.get(String(port)) ?? rcs.get(FALLBACK_ROUTE_CONFIG) ?? null;
}
