import type { HeaderValueOption } from '../../../compile/security/envoy-proto.js';
import { FilterStatus, watchResponse, type HttpFilter } from '../../http/filter.js';
import { hasHeader, setHeader, type HeaderList } from '../../http/headers.js';
import { sendLocalReply } from '../../http/local-reply.js';
import { ResponseFlag } from '../../http/response-flags.js';
import type { DownstreamConnection, HttpStream } from '../../http/stream.js';
import { buildDescriptors, firstCluster, routeRateLimits, type Descriptor } from '../ratelimit/descriptors.js';
import type { LocalRateLimitInstance, RateLimitPolicies } from '../ratelimit/slots.js';
import type { BucketSlot, LocalDescriptor, LocalRateLimitConfig } from './config.js';
import { LocalTokenBucket, tokenBuckets, type TokenBucket, type TokenBucketSpec } from './token-bucket.js';

/** A draw against a fraction in millionths (Envoy's runtime featureEnabled). */
export function fractionHit(perMillion: number): boolean {
  return perMillion >= 1_000_000 || (perMillion > 0 && Math.random() * 1_000_000 < perMillion);
}

export function applyHeaderOptions(h: HeaderList, opts: readonly HeaderValueOption[]): void {
  for (let i = 0; i < opts.length; i++) {
    const o = opts[i]!;
    switch (o.action) {
      case 'append': h.push(o.name, o.value); break;
      case 'addIfAbsent': if (!hasHeader(h, o.name)) h.push(o.name, o.value); break;
      case 'overwrite': setHeader(h, o.name, o.name, o.value); break;
      case 'overwriteIfExists': if (hasHeader(h, o.name)) setHeader(h, o.name, o.name, o.value); break;
    }
  }
}

// Buckets of `local_rate_limit_per_downstream_connection` configs, per connection.
const perConnection = new WeakMap<DownstreamConnection, Map<string, TokenBucket>>();

function bucketFor(s: HttpStream, cfg: LocalRateLimitConfig, slot: BucketSlot, key: string, spec: TokenBucketSpec): TokenBucket {
  if (cfg.perConnection) {
    let m = perConnection.get(s.conn);
    if (m === undefined) perConnection.set(s.conn, (m = new Map()));
    let b = m.get(key);
    // A per-connection bucket is private to its connection: always in this process.
    if (b === undefined) m.set(key, (b = new LocalTokenBucket(spec, performance.now())));
    return b;
  }
  let b = slot.bucket;
  if (b === null) slot.bucket = b = tokenBuckets().bucket(key, spec);
  return b;
}

export function descriptorMatches(d: LocalDescriptor, req: Descriptor): boolean {
  const e = d.entries;
  if (e.length !== req.length) return false;
  for (let i = 0; i < e.length; i++) {
    const a = e[i]!;
    const b = req[i]!;
    if (a.key !== b.key || (a.value !== '' && a.value !== b.value)) return false;
  }
  return true;
}

/** The buckets this request draws from: matched descriptors (and the default one), or the default. */
function bucketsFor(s: HttpStream, rl: RateLimitPolicies, cfg: LocalRateLimitConfig): TokenBucket[] {
  const out: TokenBucket[] = [];
  if (cfg.descriptors.length > 0) {
    const limits = routeRateLimits(rl.routeRateLimits, s);
    if (limits !== null) {
      const reqs = buildDescriptors(limits, cfg.stage, s, rl.trustedHops, firstCluster(s));
      for (const d of cfg.descriptors) {
        for (const r of reqs) if (descriptorMatches(d, r)) { out.push(bucketFor(s, cfg, d.slot, d.bucketKey, d.bucket)); break; }
      }
    }
    if (out.length > 0 && !cfg.alwaysConsumeDefaultTokenBucket) return out;
  }
  if (cfg.bucket !== null) out.push(bucketFor(s, cfg, cfg.slot, cfg.bucketKey, cfg.bucket));
  return out;
}

interface RateLimitHeaders {
  limit: number;
  remaining: number;
  resetSeconds: number;
}

const headersFilter: HttpFilter = {
  name: 'envoy.filters.http.local_ratelimit.headers',
  onRequest: () => FilterStatus.Continue,
  onResponseHeaders(s, _status, headers) {
    const x = (s.filterState?.localRateLimitHeaders as RateLimitHeaders | undefined);
    if (x !== undefined) headers.push('x-ratelimit-limit', String(x.limit), 'x-ratelimit-remaining', String(x.remaining), 'x-ratelimit-reset', String(x.resetSeconds));
  },
};

function rememberHeaders(s: HttpStream, b: TokenBucket): RateLimitHeaders {
  const now = performance.now();
  const x = { limit: b.spec.maxTokens, remaining: b.remaining(now), resetSeconds: Math.ceil(b.msToNextFill(now) / 1000) };
  (s.filterState ??= {}).localRateLimitHeaders = x;
  watchResponse(s, headersFilter);
  return x;
}

function limited(s: HttpStream, cfg: LocalRateLimitConfig, buckets: readonly TokenBucket[]): FilterStatus {
  cfg.stats.rateLimited.inc();
  if (!fractionHit(cfg.enforcedPerMillion)) {
    // Enabled but not enforced (shadow mode): count, mark the request, let it through.
    applyHeaderOptions(s.headers, cfg.requestHeadersToAddWhenNotEnforced);
    return FilterStatus.Continue;
  }
  cfg.stats.enforced.inc();
  const extra: HeaderList = [];
  if (!cfg.disableXEnvoyRateLimitedHeader) extra.push('x-envoy-ratelimited', 'true');
  if (cfg.xRateLimitHeaders && buckets.length > 0) {
    const x = rememberHeaders(s, buckets[0]!);
    extra.push('x-ratelimit-limit', String(x.limit), 'x-ratelimit-remaining', '0', 'x-ratelimit-reset', String(x.resetSeconds));
    s.filterState!.localRateLimitHeaders = undefined;
  }
  applyHeaderOptions(extra, cfg.responseHeadersToAdd);
  sendLocalReply(s, cfg.status, 'local_rate_limited', ResponseFlag.RL, 'local_rate_limited', extra);
  return FilterStatus.Stop;
}

/** The config for this request: route, then virtual host typed_per_filter_config, then the filter's own. */
export function localConfigFor(inst: LocalRateLimitInstance, s: HttpStream): LocalRateLimitConfig | null {
  const pr = inst.perRoute;
  if (pr !== null) {
    if (s.route !== null) { const c = pr.get(s.route); if (c !== undefined) return c; }
    if (s.vhost !== null) { const c = pr.get(s.vhost); if (c !== undefined) return c; }
  }
  return inst.config;
}

/**
 * Envoy's local_ratelimit decodeHeaders: not enabled → pass; a token from every bucket the
 * request draws from → pass; otherwise count it and, when enforced, answer 429 (or `status`)
 * `local_rate_limited` with flag RL. Returns a promise only when a remote bucket store answers
 * asynchronously (worker mode).
 */
export function checkLocalRateLimit(s: HttpStream, rl: RateLimitPolicies, inst: LocalRateLimitInstance): FilterStatus | Promise<FilterStatus> {
  const cfg = localConfigFor(inst, s);
  if (cfg === null || !fractionHit(cfg.enabledPerMillion)) return FilterStatus.Continue;
  const buckets = bucketsFor(s, rl, cfg);
  if (buckets.length === 0) return FilterStatus.Continue;
  cfg.stats.enabled.inc();
  const now = performance.now();
  let allowed = true;
  let pending: Promise<boolean>[] | null = null;
  for (let i = 0; i < buckets.length; i++) {
    const r = buckets[i]!.tryTake(now);
    if (r === false) allowed = false;
    else if (r !== true) (pending ??= []).push(r);
  }
  const finish = (ok: boolean): FilterStatus => {
    if (!ok) return limited(s, cfg, buckets);
    cfg.stats.ok.inc();
    if (cfg.xRateLimitHeaders) rememberHeaders(s, buckets[0]!);
    return FilterStatus.Continue;
  };
  if (pending === null) return finish(allowed);
  return Promise.all(pending).then((rs) => finish(allowed && rs.every(Boolean)));
}
