// EnvoyFilter on a sidecar (`sluice run --mode sidecar`), with the listeners Istio gives a
// sidecar: patches with context SIDECAR_INBOUND (or ANY) edit the inbound listener
// (`virtualInbound`, whose HTTP chain matches `listener.portNumber` = the application port, as
// Istio's virtualInbound filter chains match the Service targetPort); patches with context
// SIDECAR_OUTBOUND (or ANY) edit the outbound HTTP listeners, one per destination port with
// a route configuration (`0.0.0.0_<port>`, route configuration "<port>", as Istio names them).
// Sluice's outbound side is one explicit proxy, so those per-port listeners exist at compile
// time only: their rate limits are kept by route configuration name on the proxy's chain
// (RateLimitPolicies.byRouteConfig) and chosen per request by its destination port.

import { RouteConfigMap, SLOT_ORDERS, type RateLimitPolicies } from '../../proxy/filters/ratelimit/slots.js';
import type { InboundConfig, OutboundConfig, SidecarConfig } from '../sidecar-snapshot.js';
import type { FilterChain, Listener } from '../snapshot.js';
import { applyEnvoyFiltersToSides, type EnvoyFilterCommon } from './envoy-filter.js';

/** The outbound HTTP listeners Istio would build for this sidecar: one per numbered route configuration. */
function outboundPortListeners(out: OutboundConfig, routeConfigNames: Iterable<string>): Listener[] {
  const ports = [...routeConfigNames].filter((n) => /^[0-9]+$/.test(n)).map(Number).sort((a, b) => a - b);
  return ports.map((port) => {
    const name = `0.0.0.0_${port}`;
    const chain: FilterChain = Object.freeze({ ...out.chain, name, routeConfigName: String(port) });
    return Object.freeze({ ...out.listener, name, port, bindPort: port, filterChains: Object.freeze([chain]) });
  });
}

export function applySidecarEnvoyFilters(common: EnvoyFilterCommon, sidecar: SidecarConfig, inboundHttpFilters: readonly string[], outboundHttpFilters: readonly string[]): SidecarConfig {
  const inbound = sidecar.inbound;
  const out = sidecar.outbound;
  const perPort = outboundPortListeners(out, common.routeConfigs.keys());
  const [inL, outL] = applyEnvoyFiltersToSides(common, [
    { context: 'SIDECAR_INBOUND', listeners: inbound === null ? [] : [inbound.listener], istioHttpFilters: inboundHttpFilters },
    { context: 'SIDECAR_OUTBOUND', listeners: perPort, istioHttpFilters: outboundHttpFilters, sharedConnection: true },
  ]) as [Listener[], Listener[]];

  let newInbound: InboundConfig | null = inbound;
  if (inbound !== null && inL[0] !== inbound.listener) {
    const l = inL[0]!;
    const chain = (c: FilterChain): FilterChain => l.filterChains.find((x) => x.name === c.name) ?? c;
    newInbound = Object.freeze({ ...inbound, listener: l, httpChain: chain(inbound.httpChain), tcpChain: chain(inbound.tcpChain) });
  }

  const byRouteConfig = new RouteConfigMap<RateLimitPolicies>();
  let connection: FilterChain | null = null;
  outL.forEach((l, i) => {
    if (l === perPort[i]) return;
    const c = l.filterChains[0]!;
    if (c.policies.rateLimits !== null) byRouteConfig.set(c.routeConfigName!, c.policies.rateLimits);
    // Connection settings come only from patches that pick no port: the same on every listener.
    connection ??= c;
  });
  let newOutbound: OutboundConfig = out;
  if (connection !== null) {
    const c = connection as FilterChain;
    const rateLimits: RateLimitPolicies | null = byRouteConfig.size === 0 ? null
      : Object.freeze({ slots: Object.freeze(SLOT_ORDERS.map(() => null)), routeRateLimits: null, trustedHops: common.trustedHops, byRouteConfig });
    const policies = Object.freeze({ ...out.chain.policies, idleTimeoutMs: c.policies.idleTimeoutMs, maxConnectionDurationMs: c.policies.maxConnectionDurationMs, rateLimits });
    const chain: FilterChain = Object.freeze({ ...out.chain, policies });
    newOutbound = Object.freeze({ ...out, chain, listener: Object.freeze({ ...out.listener, filterChains: Object.freeze([chain]) }) });
  }
  if (newInbound === inbound && newOutbound === out) return sidecar;
  return Object.freeze({ ...sidecar, inbound: newInbound, outbound: newOutbound });
}
