import type { Snapshot } from '../../compile/snapshot.js';
import { setJwksHostOverride } from '../../security/jwks.js';
import { log } from '../../util/log.js';
import { registerHttpFilter } from '../http/connection-manager.js';
import { corsFilter } from './cors/filter.js';
import { extAuthzFilter } from './ext-authz/filter.js';
import { faultFilter } from './fault/filter.js';
import { jwtAuthnFilter } from './jwt-authn/filter.js';
import { rateLimitService } from './ratelimit/service.js';
import { rateLimitSlotFilter } from './ratelimit/slot-filter.js';
import { SLOT_ORDERS } from './ratelimit/slots.js';
import { rbacFilter } from './rbac/filter.js';

// Istio's HTTP filter order at a gateway: jwt_authn (100) → ext_authz (200) → rbac (300) →
// rate limits (400) → cors (500) → fault (600) → router. Each filter registers at its place.
// Rate-limit filters inserted by EnvoyFilters run in slots around them (ratelimit/slots.ts).
registerHttpFilter(jwtAuthnFilter, 100);
registerHttpFilter(extAuthzFilter, 200);
registerHttpFilter(rbacFilter, 300);
SLOT_ORDERS.forEach((order, slot) => registerHttpFilter(rateLimitSlotFilter(slot), order));
registerHttpFilter(corsFilter, 500);
registerHttpFilter(faultFilter, 600);

const warned = new Set<string>();

/**
 * Called by the runtime when a snapshot goes live: starts fetching the JWKS its
 * RequestAuthentications name (so the first request does not wait), and says once when a
 * global rate limit has no service to ask.
 */
export function onSnapshotApplied(s: Snapshot, dnsOverride: (host: string) => string[] | undefined): void {
  setJwksHostOverride(dnsOverride);
  const sc = s.sidecar ?? null;
  const sidecarListeners = sc === null ? [] : sc.inbound === null ? [sc.outbound.listener] : [sc.outbound.listener, sc.inbound.listener];
  for (const l of [...s.listeners, ...sidecarListeners]) {
    for (const c of l.filterChains) {
      const jwt = c.policies.jwt;
      if (jwt !== null) for (const p of jwt.providers) p.keys.start();
      const chainRl = c.policies.rateLimits;
      if (chainRl === null) continue;
      for (const rl of chainRl.byRouteConfig?.values() ?? [chainRl]) for (const slot of rl.slots) for (const inst of slot ?? []) {
        if (inst.kind !== 'global') continue;
        const svc = rateLimitService();
        const why = svc === null ? 'no rate limit service is configured (--ratelimit-config FILE --ratelimit-redis URL)'
          : !svc.hasDomain(inst.config.domain) ? `--ratelimit-config has no domain "${inst.config.domain}" (it has ${svc.domains.join(', ') || 'none'})` : null;
        if (why !== null && !warned.has(`${inst.config.origin}|${why}`)) {
          warned.add(`${inst.config.origin}|${why}`);
          log('warn', 'ratelimit', `${inst.config.origin}: ${why}; ${svc === null ? `every check fails ${inst.config.failureModeDeny ? 'closed (500)' : 'open (allowed)'}` : 'nothing is limited for it'}`);
        }
      }
    }
  }
}
