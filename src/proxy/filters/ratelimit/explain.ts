// Rate-limit explain(): for the local_ratelimit / ratelimit instances EnvoyFilters placed at one
// position of the chain, what the filter would decide — bucket state read without taking a
// token, descriptors built with the data plane's own code, the rate limit service's limits
// and (in-memory backend) counts read without counting. Nothing is consumed or counted.

import type { FilterExplanation } from '../../http/filter.js';
import type { HeaderList } from '../../http/headers.js';
import type { HttpStream } from '../../http/stream.js';
import type { LocalRateLimitConfig } from '../local-ratelimit/config.js';
import { applyHeaderOptions, descriptorMatches, localConfigFor } from '../local-ratelimit/filter.js';
import { tokenBuckets, type TokenBucket, type TokenBucketSpec } from '../local-ratelimit/token-bucket.js';
import type { GlobalRateLimitConfig } from './config.js';
import { buildDescriptors, firstCluster, routeRateLimits, type Descriptor } from './descriptors.js';
import { rateLimitService, type PeekedDescriptor, type RateLimitService } from './service.js';
import { streamRateLimits, type GlobalRateLimitInstance, type LocalRateLimitInstance, type RateLimitPolicies } from './slots.js';

type Explained = FilterExplanation & { readonly verdict: 'continue' | 'reply' | 'unknown' | 'skip' };

function pct(perMillion: number): string {
  return `${perMillion / 10_000}%`;
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

function descriptorText(d: Descriptor): string {
  return `[${d.map((e) => `${e.key}=${e.value}`).join(', ')}]`;
}

function decider(c: { readonly origin: string; readonly source: { file: string; line: number; col: number } | null }): NonNullable<FilterExplanation['decidedBy']> {
  const m = / configPatches\[(\d+)\]$/.exec(c.origin);
  const resource = m === null ? c.origin : c.origin.slice(0, m.index);
  return { resource, ...(m !== null ? { rule: `spec.configPatches[${m[1]}]` } : {}), ...(c.source !== null ? { file: c.source.file, line: c.source.line, col: c.source.col } : {}) };
}

interface BucketView {
  readonly label: string;
  readonly spec: TokenBucketSpec;
  readonly remaining: number;
  readonly nextFillMs: number;
}

/** A bucket's state now, without taking a token; a bucket no request has used yet is full. */
function view(label: string, spec: TokenBucketSpec, key: string, shared: TokenBucket | null, perConnection: boolean, offline: boolean): BucketView {
  const now = performance.now();
  // A per-connection bucket belongs to the client's connection: a new one starts full. Offline,
  // this process's buckets are not the gateway's.
  const b = perConnection || offline ? null : (shared ?? tokenBuckets().peek?.(key) ?? null);
  return { label, spec, remaining: b === null ? spec.maxTokens : b.remaining(now), nextFillMs: b === null ? spec.fillIntervalMs : b.msToNextFill(now) };
}

function refill(spec: TokenBucketSpec): string {
  return `${spec.maxTokens} max, +${spec.tokensPerFill} every ${seconds(spec.fillIntervalMs)}`;
}

/** bucketsFor() in local-ratelimit/filter.ts, reading instead of taking. */
function localBuckets(s: HttpStream, rl: RateLimitPolicies, cfg: LocalRateLimitConfig, offline: boolean, steps: string[]): BucketView[] {
  const out: BucketView[] = [];
  if (cfg.descriptors.length > 0) {
    const limits = routeRateLimits(rl.routeRateLimits, s);
    if (limits === null) steps.push('descriptors configured, but the route and virtual host have no rate_limits: only the default bucket applies');
    else {
      const reqs = buildDescriptors(limits, cfg.stage, s, rl.trustedHops, firstCluster(s));
      steps.push(reqs.length === 0 ? 'rate_limits produce no descriptor for this request' : `request descriptors: ${reqs.map(descriptorText).join(' ')}`);
      for (const d of cfg.descriptors) {
        const r = reqs.find((x) => descriptorMatches(d, x));
        if (r !== undefined) out.push(view(`descriptor ${descriptorText(r)}`, d.bucket, d.bucketKey, d.slot.bucket, cfg.perConnection, offline));
      }
    }
    if (out.length > 0 && !cfg.alwaysConsumeDefaultTokenBucket) return out;
  }
  if (cfg.bucket !== null) out.push(view('the default token_bucket', cfg.bucket, cfg.bucketKey, cfg.slot.bucket, cfg.perConnection, offline));
  return out;
}

function explainLocal(s: HttpStream, rl: RateLimitPolicies, inst: LocalRateLimitInstance, offline: boolean): Explained {
  const cfg = localConfigFor(inst, s);
  if (cfg === null) return { verdict: 'skip', summary: `${inst.name}: no token bucket for this route (none on the filter, no per-route config)` };
  const perRoute = cfg !== inst.config ? ' (per-route config)' : '';
  const by = decider(cfg);
  if (cfg.enabledPerMillion === 0) {
    return { verdict: 'continue', summary: `${cfg.statPrefix}${perRoute}: filter_enabled is 0% (Envoy's default when unset): never counts nor limits`, decidedBy: by, fix: 'set filter_enabled and filter_enforced to 100% to enforce this limit' };
  }
  const steps: string[] = [];
  if (cfg.enabledPerMillion < 1_000_000) steps.push(`filter_enabled ${pct(cfg.enabledPerMillion)}: the other requests are not checked`);
  const buckets = localBuckets(s, rl, cfg, offline, steps);
  if (buckets.length === 0) return { verdict: 'continue', summary: `${cfg.statPrefix}${perRoute}: no bucket applies to this request`, decidedBy: by, steps };
  for (const b of buckets) steps.push(`${b.label}: ${b.remaining} token${b.remaining === 1 ? '' : 's'} left (${refill(b.spec)}; next fill in ${seconds(Math.ceil(b.nextFillMs))})${offline ? ' — as the proxy starts; offline, the live bucket is not known' : cfg.perConnection ? ' — per downstream connection: a new connection starts full' : ''}`);
  const empty = buckets.find((b) => b.remaining < 1);
  if (empty === undefined) {
    return { verdict: 'continue', summary: `${cfg.statPrefix}${perRoute}: ${buckets.map((b) => `${b.remaining}/${b.spec.maxTokens} tokens in ${b.label}`).join(', ')}: allowed (the request takes one)`, decidedBy: by, steps };
  }
  const summary = `${cfg.statPrefix}${perRoute}: ${empty.label} is empty (${refill(empty.spec)}; next fill in ${seconds(Math.ceil(empty.nextFillMs))})`;
  if (cfg.enforcedPerMillion === 0) {
    return { verdict: 'continue', summary: `${summary}, but filter_enforced is 0%: counted as rate_limited and let through`, decidedBy: by, steps, fix: 'set filter_enforced to enforce the limit' };
  }
  if (cfg.enforcedPerMillion < 1_000_000) {
    return { verdict: 'continue', summary: `${summary}: ${pct(cfg.enforcedPerMillion)} of such requests get ${cfg.status} (filter_enforced), the others pass`, decidedBy: by, steps };
  }
  const headers: HeaderList = [];
  if (!cfg.disableXEnvoyRateLimitedHeader) headers.push('x-envoy-ratelimited', 'true');
  if (cfg.xRateLimitHeaders) headers.push('x-ratelimit-limit', String(empty.spec.maxTokens), 'x-ratelimit-remaining', '0', 'x-ratelimit-reset', String(Math.ceil(empty.nextFillMs / 1000)));
  applyHeaderOptions(headers, cfg.responseHeadersToAdd);
  const pairs: [string, string][] = [];
  for (let i = 0; i < headers.length; i += 2) pairs.push([headers[i]!, headers[i + 1]!]);
  return {
    verdict: 'reply', summary: `${summary}: ${cfg.status} local_rate_limited`, status: cfg.status, body: 'local_rate_limited', responseFlag: 'RL', details: 'local_rate_limited', headers: pairs,
    decidedBy: by, steps, fix: `wait ${seconds(Math.ceil(empty.nextFillMs))} for the next fill, or raise token_bucket in ${cfg.origin}`,
  };
}

function explainGlobal(s: HttpStream, rl: RateLimitPolicies, inst: GlobalRateLimitInstance, offline: boolean): Explained | Promise<Explained> {
  const c: GlobalRateLimitConfig = inst.config;
  const by = decider(c);
  if (c.requestType === 'internal') return { verdict: 'skip', summary: `ratelimit domain ${c.domain}: request_type internal, and a gateway sees external requests only` };
  const limits = routeRateLimits(rl.routeRateLimits, s);
  if (limits === null) return { verdict: 'continue', summary: `ratelimit domain ${c.domain}: the route and virtual host have no rate_limits, so nothing is sent to the rate limit service`, decidedBy: by };
  const descriptors = buildDescriptors(limits, c.stage, s, rl.trustedHops, firstCluster(s));
  if (descriptors.length === 0) return { verdict: 'continue', summary: `ratelimit domain ${c.domain}: rate_limits (stage ${c.stage}) produce no descriptor for this request`, decidedBy: by };
  const steps = [`descriptors sent: ${descriptors.map(descriptorText).join(' ')}`, `the service must answer within ${c.timeoutMs} ms, else the request ${c.failureModeDeny ? `gets ${c.statusOnError} (failure_mode_deny)` : 'is allowed (fail open)'}`];
  if (offline) {
    return { verdict: 'unknown', summary: `ratelimit domain ${c.domain}: the gateway asks its rate limit service (in process with --ratelimit-config, else ${c.service || 'the filter\'s gRPC service'}) about ${descriptors.length} descriptor${descriptors.length === 1 ? '' : 's'}; an offline trace does not know its limits or counters`, decidedBy: by, steps };
  }
  const svc = rateLimitService();
  if (svc === null) {
    // Without --ratelimit-config the gateway calls the filter's service over gRPC.
    if (c.service !== '' && s.snapshot.clusters.has(c.service)) {
      return { verdict: 'unknown', summary: `ratelimit domain ${c.domain}: the gateway asks the rate limit service ${c.service} over gRPC about ${descriptors.length} descriptor${descriptors.length === 1 ? '' : 's'}; trace does not call it and goes on as if it allowed`, decidedBy: by, steps };
    }
    const fix = `add a ServiceEntry (or Service) for the rate limit service ${c.service || '(rate_limit_service.grpc_service.envoy_grpc.cluster_name)'}, or start sluice with --ratelimit-config FILE [--ratelimit-redis redis://HOST:PORT]`;
    const why = `the rate limit service ${c.service || '(none named)'} has no cluster and no --ratelimit-config is given`;
    return c.failureModeDeny
      ? { verdict: 'reply', summary: `ratelimit domain ${c.domain}: ${why}, and failure_mode_deny is set: ${c.statusOnError}`, status: c.statusOnError, responseFlag: 'RLSE', details: 'rate_limiter_error', decidedBy: by, fix, steps }
      : { verdict: 'continue', summary: `ratelimit domain ${c.domain}: ${why}: every check fails open (allowed)`, decidedBy: by, fix, steps };
  }
  if (!svc.hasDomain(c.domain)) return { verdict: 'continue', summary: `ratelimit domain ${c.domain} is not in the rate limit config (it has ${svc.domains.join(', ') || 'none'}): nothing is limited`, decidedBy: by, steps };
  // A running gateway's trace reads Redis's counters (MGET, nothing counted); a failed read leaves them unknown.
  if (svc.backend.peek === undefined && svc.backend.read !== undefined) {
    return svc.peekRemote(c.domain, descriptors, c.timeoutMs).then(
      (peeked) => globalVerdict(c, svc, descriptors, peeked, steps),
      (e: Error) => globalVerdict(c, svc, descriptors, svc.peek(c.domain, descriptors), [...steps, `reading the counters from ${svc.backend.name} failed: ${e.message}`]),
    );
  }
  return globalVerdict(c, svc, descriptors, svc.peek(c.domain, descriptors), steps);
}

function globalVerdict(c: GlobalRateLimitConfig, svc: RateLimitService, descriptors: readonly Descriptor[], peeked: readonly PeekedDescriptor[], steps: string[]): Explained {
  const by = decider(c);
  let over: string | null = null;
  let unknownCount = false;
  peeked.forEach((p, i) => {
    const d = descriptorText(descriptors[i]!);
    if (p.node === null) { steps.push(`${d}: no limit in domain ${c.domain}`); return; }
    const l = p.node.limit!;
    if (l.unlimited) { steps.push(`${d}: unlimited`); return; }
    const limit = `${l.requestsPerUnit} per ${l.unit}${p.node.shadowMode ? ' (shadow_mode: never enforced)' : ''}`;
    if (p.used === null) { unknownCount = true; steps.push(`${d}: ${limit}; the count is in ${svc.backend.name}, not read`); return; }
    steps.push(`${d}: ${p.used} of ${limit} used${svc.backend.peek === undefined ? ` (read from ${svc.backend.name})` : ''}, window resets in ${p.resetSeconds} s`);
    if (p.used + 1 > l.requestsPerUnit && !p.node.shadowMode) over ??= `${d} is at ${p.used} of ${limit}`;
  });
  if (over !== null) {
    const headers: [string, string][] = c.disableXEnvoyRateLimitedHeader ? [] : [['x-envoy-ratelimited', 'true']];
    return { verdict: 'reply', summary: `ratelimit domain ${c.domain}: ${over}: OVER_LIMIT`, status: c.rateLimitedStatus, responseFlag: 'RL', details: 'request_rate_limited', headers, decidedBy: by, steps, fix: `wait for the window to reset, or raise the limit in the rate limit config (domain ${c.domain})` };
  }
  if (unknownCount) return { verdict: 'unknown', summary: `ratelimit domain ${c.domain}: the gateway asks the rate limit service; the counters live in ${svc.backend.name}`, decidedBy: by, steps };
  return { verdict: 'continue', summary: `ratelimit domain ${c.domain}: under every limit: allowed (the request is counted)`, decidedBy: by, steps };
}

/** The instances at one slot, in order, as run() in slot-filter.ts takes them; the first reply ends it. */
export function explainRateLimitSlot(s: HttpStream, slot: number, offline: boolean): FilterExplanation | Promise<FilterExplanation> {
  const rl = streamRateLimits(s.conn.chain.policies.rateLimits, s.routeConfig);
  if (rl === null) return { verdict: 'skip', summary: s.conn.chain.policies.rateLimits === null ? 'no rate-limit EnvoyFilter applies to this chain' : `no rate-limit EnvoyFilter applies to the outbound listener for route configuration ${s.routeConfig?.name ?? '(none)'}` };
  const list = rl.slots[slot]!;
  if (list === null) return { verdict: 'skip', summary: 'no rate-limit filter inserted at this position' };
  const results: Explained[] = [];
  const from = (i: number): FilterExplanation | Promise<FilterExplanation> => {
    for (; i < list.length; i++) {
      const inst = list[i]!;
      const e = inst.kind === 'local' ? explainLocal(s, rl, inst, offline) : explainGlobal(s, rl, inst, offline);
      if (e instanceof Promise) {
        const next = i + 1;
        return e.then((r) => { results.push(r); return r.verdict === 'reply' ? combine(results) : from(next); });
      }
      results.push(e);
      if (e.verdict === 'reply') break;
    }
    return combine(results);
  };
  return from(0);
}

function combine(results: readonly Explained[]): FilterExplanation {
  if (results.length === 1) return results[0]!;
  const last = results[results.length - 1]!;
  const steps = results.flatMap((r) => [r.summary, ...(r.steps ?? []).map((x) => `  ${x}`)]);
  if (last.verdict === 'reply') return { ...last, steps };
  const verdict = results.some((r) => r.verdict === 'unknown') ? 'unknown' : results.every((r) => r.verdict === 'skip') ? 'skip' : 'continue';
  const first = results.find((r) => r.decidedBy !== undefined);
  return { verdict, summary: results.map((r) => r.summary).join('; '), ...(first?.decidedBy !== undefined ? { decidedBy: first.decidedBy } : {}), steps };
}
