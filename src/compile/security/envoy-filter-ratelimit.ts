// The rate-limit side of EnvoyFilter patches: the local_ratelimit and ratelimit HTTP filters a
// chain ends up with, compiled into instances in the slots of Istio's filter order, their
// per-route configs (typed_per_filter_config) and rate_limits, and the rate limit service's
// cluster. The patch pass itself lives in ./envoy-filter.ts.

import { resourceRef } from '../../config/resource.js';
import { compileLocalRateLimit, LOCAL_RATELIMIT_TYPE, type LocalRateLimitConfig } from '../../proxy/filters/local-ratelimit/config.js';
import { compileGlobalRateLimit } from '../../proxy/filters/ratelimit/config.js';
import type { RouteRateLimit } from '../../proxy/filters/ratelimit/descriptors.js';
import { ScopeMap, SLOT_BEFORE, SLOT_ORDERS, type RateLimitInstance, type RateLimitPolicies } from '../../proxy/filters/ratelimit/slots.js';
import { ensureCluster } from '../clusters.js';
import type { CompileContext } from '../context.js';
import type { FilterChain, Listener } from '../snapshot.js';
import type { EF, EnvoyFilterCommon, HttpFilterEntry, Patch, Reporter, ScopeAdditions } from './envoy-filter.js';
import { messageName, ProtoError, unwrapAny } from './envoy-proto.js';

function compileInstance(e: HttpFilterEntry, id: string, r: Reporter): RateLimitInstance | null {
  const p = e.patch!;
  const origin = `${resourceRef(p.ef)} configPatches[${p.index}]`;
  try {
    const tc = e.value!.typed_config ?? e.value!.typedConfig;
    if (tc === undefined) {
      p.effective = true;
      return { kind: 'local', name: e.name, config: null, perRoute: null };
    }
    const { value } = unwrapAny(tc, 'patch.value.typed_config');
    if (e.kind === 'global') {
      const g = compileGlobalRateLimit(value, 'patch.value.typed_config', origin, p.ef.pos(p.path));
      ensureServiceCluster(r.ctx, p.ef, g.service);
      p.effective = true;
      return { kind: 'global', name: e.name, config: g };
    }
    const cfg = compileLocalRateLimit(value, 'patch.value.typed_config', id, origin, p.ef.pos(p.path));
    p.effective = true;
    warnLocalDefaults(p, cfg, r);
    return { kind: 'local', name: e.name, config: cfg, perRoute: null };
  } catch (err) {
    r.report(p, ['patch', 'value'], 'SLU0523', 'warning', `${(err as Error).message}; this patch is not applied (Envoy would reject the listener)`);
    return null;
  }
}

/**
 * The rate limit service's cluster (`outbound|PORT|SUBSET|HOST`, as istiod names it), built
 * when its service is in the registry, so the filter can call it over gRPC. Without it the
 * in-process service (--ratelimit-config) answers, or the filter reports the missing cluster.
 */
function ensureServiceCluster(ctx: CompileContext, ef: EF, name: string): void {
  const m = /^outbound\|(\d+)\|([^|]*)\|(.+)$/.exec(name);
  if (m === null || ctx.clusters.has(name)) return;
  if (ctx.registry.lookup(m[3]!, ctx.workload.namespace) === undefined) return;
  ensureCluster(ctx, ef, ['spec'], { host: m[3]!, port: { number: Number(m[1]) }, ...(m[2] !== '' ? { subset: m[2]! } : {}) }, Number(m[1]));
}

function warnLocalDefaults(p: Patch, cfg: LocalRateLimitConfig, r: Reporter): void {
  if (cfg.bucket === null && cfg.descriptors.length === 0) return;
  if (cfg.enabledPerMillion === 0) {
    r.report(p, ['patch', 'value'], 'SLU0527', 'warning',
      `filter_enabled is not set, and Envoy defaults it to 0%: this local rate limit (${cfg.statPrefix}) never counts nor limits a request`,
      'add filter_enabled and filter_enforced: {runtime_key: local_rate_limit_enabled, default_value: {numerator: 100, denominator: HUNDRED}} (filter_enforced with its own runtime_key)');
  } else if (cfg.enforcedPerMillion === 0) {
    r.report(p, ['patch', 'value'], 'SLU0528', 'warning',
      `filter_enforced is not set, and Envoy defaults it to 0%: this local rate limit (${cfg.statPrefix}) only counts (stat ${cfg.statPrefix}.http_local_rate_limit.rate_limited) and never answers 429`,
      'add filter_enforced: {runtime_key: local_rate_limit_enforced, default_value: {numerator: 100, denominator: HUNDRED}}');
  }
}

/** A chain's rate-limit policies from its patched HTTP filter list and the VIRTUAL_HOST / HTTP_ROUTE additions; null when it has none. */
export function buildRateLimits(list: readonly HttpFilterEntry[], l: Listener, c: FilterChain, adds: Map<object, ScopeAdditions> | null, input: EnvoyFilterCommon, r: Reporter): RateLimitPolicies | null {
  const slots: (RateLimitInstance[] | null)[] = SLOT_ORDERS.map(() => null);
  let any = false;
  for (let i = 0; i < list.length; i++) {
    const e = list[i]!;
    if (e.kind !== 'local' && e.kind !== 'global') continue;
    // Before every Istio filter = first (slot 0); else the slot before the next Istio filter.
    const first = !list.slice(0, i).some((x) => x.kind === 'istio');
    let slot = first ? 0 : SLOT_ORDERS.length - 1;
    for (let j = i + 1; j < list.length && !first; j++) {
      const s = SLOT_BEFORE[list[j]!.name];
      if (list[j]!.kind === 'istio' && s !== undefined) { slot = s; break; }
    }
    const id = `${resourceRef(e.patch!.ef)}#${e.patch!.index}@${l.name}/${c.name}`;
    const inst = compileInstance(e, id, r);
    if (inst === null) continue;
    (slots[slot] ??= []).push(inst);
    any = true;
  }
  // Per-route configs and rate_limits from VIRTUAL_HOST / HTTP_ROUTE patches.
  let routeRateLimits: ScopeMap<readonly RouteRateLimit[]> | null = null;
  if (adds !== null) {
    for (const [scope, a] of adds) {
      if (a.rateLimits !== null) (routeRateLimits ??= new ScopeMap()).set(scope, Object.freeze(a.rateLimits));
      for (const [name, { value, patch }] of a.perFilter) {
        const targets = slots.flatMap((s) => s ?? []).filter((inst) => inst.name === name);
        if (targets.length === 0) {
          r.report(patch, ['patch', 'value'], 'SLU0536', 'warning', `typed_per_filter_config for ${name} has no effect here: no HTTP filter named ${name} is in the chain ${c.name}`, `insert the filter with an HTTP_FILTER patch (name: ${name}) for this workload`);
          continue;
        }
        for (const t of targets) {
          if (t.kind !== 'local') {
            r.report(patch, ['patch', 'value'], 'SLU0537', 'warning', `per-route config for the global ratelimit filter ${name} is not supported by Sluice; put rate_limits on the route or virtual host instead`);
            continue;
          }
          try {
            const { typeUrl, value: v } = unwrapAny(value, `typed_per_filter_config.${name}`);
            if (messageName(typeUrl) !== LOCAL_RATELIMIT_TYPE) throw new ProtoError(`typed_per_filter_config.${name}`, `@type ${typeUrl} is not ${LOCAL_RATELIMIT_TYPE}`);
            const id = `${resourceRef(patch.ef)}#${patch.index}@${l.name}/${c.name}/${(scope as { name: string }).name}`;
            const cfg = compileLocalRateLimit(v, `typed_per_filter_config.${name}`, id, `${resourceRef(patch.ef)} configPatches[${patch.index}]`, patch.ef.pos(patch.path));
            patch.effective = true;
            warnLocalDefaults(patch, cfg, r);
            const perRoute = t.perRoute ?? new ScopeMap<LocalRateLimitConfig>();
            perRoute.set(scope, cfg);
            if (t.perRoute === null) (t as { perRoute: ScopeMap<LocalRateLimitConfig> | null }).perRoute = perRoute;
          } catch (e) {
            r.report(patch, ['patch', 'value'], 'SLU0523', 'warning', `${(e as Error).message}; this patch is not applied`);
          }
        }
      }
    }
  }
  if (!any) return null;
  return Object.freeze({
    slots: Object.freeze(slots.map((s) => (s === null ? null : Object.freeze(s.map((i) => Object.freeze(i)))))),
    routeRateLimits,
    trustedHops: input.trustedHops,
  });
}

