import { log } from '../../../util/log.js';
import { FilterStatus, watchResponse, type HttpFilter } from '../../http/filter.js';
import type { HeaderList } from '../../http/headers.js';
import { sendLocalReply } from '../../http/local-reply.js';
import { ResponseFlag } from '../../http/response-flags.js';
import type { HttpStream } from '../../http/stream.js';
import type { GlobalRateLimitConfig } from './config.js';
import { buildDescriptors, firstCluster, routeRateLimits } from './descriptors.js';
import { rateLimitService, type RateLimitResponse } from './service.js';
import { shouldRateLimitOverGrpc, type RateLimitExtras } from './grpc.js';
import { setHeader } from '../../http/headers.js';
import type { GlobalRateLimitInstance, RateLimitPolicies } from './slots.js';

let warnedNoService = false;

function timeout(ms: number): Promise<RateLimitResponse> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms, { code: 'ERROR', statuses: [], error: `no answer within the filter timeout (${ms} ms)` } satisfies RateLimitResponse);
    t.unref();
  });
}

interface XRateLimit {
  limit: number;
  remaining: number;
  reset: number;
}

const headersFilter: HttpFilter = {
  name: 'envoy.filters.http.ratelimit.headers',
  onRequest: () => FilterStatus.Continue,
  onResponseHeaders(s, _status, headers) {
    const x = s.filterState?.rateLimitHeaders as XRateLimit | undefined;
    if (x !== undefined) headers.push('x-ratelimit-limit', String(x.limit), 'x-ratelimit-remaining', String(x.remaining), 'x-ratelimit-reset', String(x.reset));
    const add = s.filterState?.rateLimitResponseHeaders as readonly [string, string][] | undefined;
    if (add !== undefined) for (const [n, v] of add) headers.push(n, v);
  },
};

/** DRAFT_VERSION_03 headers from the descriptor closest to its limit. */
function xRateLimit(r: RateLimitResponse): XRateLimit | null {
  let best: XRateLimit | null = null;
  for (const st of r.statuses) {
    if (st.limit === null || st.limit.unlimited) continue;
    if (best === null || st.remaining < best.remaining) best = { limit: st.limit.requestsPerUnit, remaining: st.remaining, reset: st.resetSeconds };
  }
  return best;
}

function onAnswer(s: HttpStream, c: GlobalRateLimitConfig, r: RateLimitResponse & { extras?: RateLimitExtras }): FilterStatus {
  if (s.completed) return FilterStatus.Stop;
  const extras = r.extras;
  if (r.code === 'OK') {
    c.stats.ok.inc();
    let watch = false;
    if (c.xRateLimitHeaders) {
      const x = xRateLimit(r);
      if (x !== null) { (s.filterState ??= {}).rateLimitHeaders = x; watch = true; }
    }
    // A gRPC service's request_headers_to_add go upstream, response_headers_to_add to the client.
    if (extras !== undefined) {
      for (const [n, v] of extras.requestHeaders) setHeader(s.headers, n, n, v);
      if (extras.responseHeaders.length > 0) { (s.filterState ??= {}).rateLimitResponseHeaders = extras.responseHeaders; watch = true; }
    }
    if (watch) watchResponse(s, headersFilter);
    return FilterStatus.Continue;
  }
  if (r.code === 'OVER_LIMIT') {
    c.stats.overLimit.inc();
    const extra: HeaderList = [];
    if (extras !== undefined) for (const [n, v] of extras.responseHeaders) extra.push(n, v);
    if (!c.disableXEnvoyRateLimitedHeader) extra.push('x-envoy-ratelimited', 'true');
    if (c.xRateLimitHeaders) {
      const x = xRateLimit(r);
      if (x !== null) extra.push('x-ratelimit-limit', String(x.limit), 'x-ratelimit-remaining', '0', 'x-ratelimit-reset', String(x.reset));
    }
    sendLocalReply(s, c.rateLimitedStatus, extras?.body ?? '', ResponseFlag.RL, 'request_rate_limited', extra);
    return FilterStatus.Stop;
  }
  c.stats.error.inc();
  if (c.failureModeDeny) {
    log('warn', 'ratelimit', `domain ${c.domain}: ${r.error ?? 'rate limit service error'}; failure_mode_deny: answering ${c.statusOnError}`);
    sendLocalReply(s, c.statusOnError, '', ResponseFlag.RLSE, 'rate_limiter_error');
    return FilterStatus.Stop;
  }
  c.stats.failureModeAllowed.inc();
  log('warn', 'ratelimit', `domain ${c.domain}: ${r.error ?? 'rate limit service error'}; request allowed (failure_mode_deny is false)`);
  return FilterStatus.Continue;
}

/**
 * Envoy's ratelimit filter: descriptors from the route's (else virtual host's) `rate_limits`
 * of this stage go to the rate limit service — in process with --ratelimit-config, else the
 * filter's gRPC service; OVER_LIMIT → 429 with x-envoy-ratelimited and flag RL; an
 * unreachable or slow service → allowed, or with `failure_mode_deny` → 500 RLSE.
 */
export function checkGlobalRateLimit(s: HttpStream, rl: RateLimitPolicies, inst: GlobalRateLimitInstance): FilterStatus | Promise<FilterStatus> {
  const c = inst.config;
  if (c.requestType === 'internal') return FilterStatus.Continue; // gateways see external requests only
  const limits = routeRateLimits(rl.routeRateLimits, s);
  if (limits === null) return FilterStatus.Continue;
  const descriptors = buildDescriptors(limits, c.stage, s, rl.trustedHops, firstCluster(s));
  if (descriptors.length === 0) return FilterStatus.Continue;
  const svc = rateLimitService();
  if (svc !== null) return Promise.race([svc.shouldRateLimit(c.domain, descriptors), timeout(c.timeoutMs)]).then((r) => onAnswer(s, c, r));
  // No in-process service (--ratelimit-config): call the filter's service over gRPC, as Envoy does.
  const cluster = c.service !== '' ? s.conn.proxy.clusters.get(c.service) : undefined;
  if (cluster === undefined) {
    if (!warnedNoService) {
      warnedNoService = true;
      log('warn', 'ratelimit', `${c.origin}: the rate limit service ${c.service || '(none named)'} has no cluster (add a ServiceEntry or Service for it), and no in-process service is configured (--ratelimit-config FILE [--ratelimit-redis redis://HOST:PORT]); every check fails`);
    }
    return onAnswer(s, c, { code: 'ERROR', statuses: [], error: `no cluster ${c.service || '(none named)'}` });
  }
  const ask = (): Promise<RateLimitResponse> => {
    const host = cluster.pick(null, null);
    if (host === null) return Promise.resolve({ code: 'ERROR', statuses: [], error: `no healthy endpoint in ${c.service}` });
    return shouldRateLimitOverGrpc({ cluster, host, authority: cluster.config.serviceHost }, c.domain, descriptors, c.timeoutMs).catch((e: Error): RateLimitResponse => ({ code: 'ERROR', statuses: [], error: `${c.service}: ${e.message}` }));
  };
  const answer = cluster.ready ? ask() : new Promise<RateLimitResponse>((resolve) => cluster.whenReady(() => { void ask().then(resolve); }));
  return answer.then((r) => onAnswer(s, c, r));
}
