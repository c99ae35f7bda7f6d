import { log } from '../../../util/log.js';
import { continueFilters } from '../../http/connection-manager.js';
import { FilterStatus, type HttpFilter } from '../../http/filter.js';
import { sendLocalReply } from '../../http/local-reply.js';
import type { HttpStream } from '../../http/stream.js';
import { checkLocalRateLimit } from '../local-ratelimit/filter.js';
import { explainRateLimitSlot } from './explain.js';
import { checkGlobalRateLimit } from './filter.js';
import { streamRateLimits, type RateLimitInstance, type RateLimitPolicies } from './slots.js';

function run(s: HttpStream, rl: RateLimitPolicies, list: readonly RateLimitInstance[], from: number): FilterStatus {
  for (let i = from; i < list.length; i++) {
    const inst = list[i]!;
    const r = inst.kind === 'local' ? checkLocalRateLimit(s, rl, inst) : checkGlobalRateLimit(s, rl, inst);
    if (r === FilterStatus.Continue) continue;
    if (r === FilterStatus.Stop) return FilterStatus.Stop;
    // Waiting for a remote answer (rate limit service, worker-mode bucket): resume afterwards.
    r.then((st) => {
      if (s.completed || st === FilterStatus.Stop) return;
      if (run(s, rl, list, i + 1) === FilterStatus.Continue) continueFilters(s);
    }, (e: Error) => {
      log('error', 'ratelimit', `rate limit check failed: ${e.stack ?? e.message}`);
      sendLocalReply(s, 500, 'internal error', 0, 'filter_failed{ratelimit}');
    });
    return FilterStatus.Stop;
  }
  return FilterStatus.Continue;
}

/** The rate-limit instances EnvoyFilters placed at one position of the chain (see slots.ts). */
export function rateLimitSlotFilter(slot: number): HttpFilter {
  return {
    name: `envoy.filters.http.local_ratelimit@${slot}`,
    onRequest(s) {
      let rl = s.conn.chain.policies.rateLimits;
      if (rl === null) return FilterStatus.Continue;
      if (rl.byRouteConfig !== undefined && (rl = streamRateLimits(rl, s.routeConfig)) === null) return FilterStatus.Continue;
      const list = rl.slots[slot]!;
      if (list === null) return FilterStatus.Continue;
      return run(s, rl, list, 0);
    },
    explain: (s, x) => explainRateLimitSlot(s, slot, x.offline),
  };
}
