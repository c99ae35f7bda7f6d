import RE2 from 're2';
import type { CorsPolicy, Destination, HTTPFaultInjection, HTTPRetry, HTTPRoute, Percent } from '../api/types.js';
import type { Resource } from '../config/resource.js';
import { ensureCluster } from './clusters.js';
import type { CompileContext } from './context.js';
import { parseDurationMs } from './duration.js';
import { compileHeaderMutation } from './header-mutation.js';
import type { RouteMatch } from './match/route-match.js';
import { compileStringMatch } from './match/string-match.js';
import type { CorsConfig, FaultConfig, HttpFilterConfigs } from './policies.js';
import { NO_ROUTE_FILTERS } from './policies.js';
import type { Mirror, RetryOn, RetryPolicy, Rewrite, RouteAction, WeightedCluster } from './snapshot.js';

type VS = Resource<'VirtualService'>;
type Path = (string | number)[];

/** Compiles the action of one HTTP rule for one match block (the rewrite depends on the match). */
export function compileRouteAction(ctx: CompileContext, vs: VS, at: Path, rule: HTTPRoute, match: RouteMatch, listenerPort: number): RouteAction {
  if (rule.redirect !== undefined) {
    const r = rule.redirect;
    return Object.freeze({
      kind: 'redirect',
      uri: r.uri ?? null,
      authority: r.authority ?? null,
      scheme: r.scheme ?? null,
      port: r.port ?? null,
      derivePort: r.derivePort ?? null,
      code: r.redirectCode ?? 301,
    });
  }
  if (rule.directResponse !== undefined) {
    const b = rule.directResponse.body;
    const body = b?.string ?? (b?.bytes !== undefined ? Buffer.from(b.bytes, 'base64').toString('latin1') : '');
    return Object.freeze({ kind: 'direct', status: rule.directResponse.status, body });
  }
  const dests = rule.route ?? [];
  let cumulative = 0;
  const clusters: WeightedCluster[] = dests.map((d, i) => {
    const resolved = ensureCluster(ctx, vs, [...at, 'route', i, 'destination'], d.destination, listenerPort);
    const weight = dests.length === 1 ? 100 : (d.weight ?? 0);
    cumulative += weight;
    return Object.freeze({
      cluster: resolved.cluster,
      weight,
      cumulative,
      host: resolved.host,
      subset: d.destination.subset ?? '',
      port: resolved.port,
      requestHeaders: compileHeaderMutation(d.headers?.request),
      responseHeaders: compileHeaderMutation(d.headers?.response),
    });
  });
  return Object.freeze({
    kind: 'route',
    clusters: Object.freeze(clusters),
    totalWeight: cumulative,
    timeoutMs: rule.timeout !== undefined ? (parseDurationMs(rule.timeout) ?? 0) : 0,
    retry: compileRetryPolicy(rule.retries, ctx.mesh.defaultHttpRetryPolicy),
    rewrite: compileRewrite(rule, match),
    mirrors: compileMirrors(ctx, vs, at, rule, listenerPort),
  });
}

// ---------------------------------------------------------------- retries

const NO_RETRY_ON: RetryOn = Object.freeze({
  fiveXx: false, gatewayError: false, reset: false, resetBeforeRequest: false, connectFailure: false,
  retriable4xx: false, refusedStream: false, retriableStatusCodes: false, envoyRatelimited: false, grpc: Object.freeze([]),
});

/** Istio's default when a route has no `retries`: 2 attempts on these conditions, 503 retriable. */
const ISTIO_DEFAULT_RETRY_ON = 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes';

export function parseRetryOn(text: string): { on: RetryOn; statusCodes: number[] } {
  const on: { -readonly [K in keyof RetryOn]: RetryOn[K] } = { ...NO_RETRY_ON, grpc: [] };
  const statusCodes: number[] = [];
  const grpc: string[] = [];
  for (const raw of text.split(',')) {
    const t = raw.trim();
    if (t === '') continue;
    if (/^\d{3}$/.test(t)) { statusCodes.push(Number(t)); on.retriableStatusCodes = true; continue; }
    switch (t) {
      case '5xx': on.fiveXx = true; break;
      case 'gateway-error': on.gatewayError = true; break;
      case 'reset': on.reset = true; break;
      case 'reset-before-request': on.resetBeforeRequest = true; break;
      case 'connect-failure': on.connectFailure = true; break;
      case 'retriable-4xx': on.retriable4xx = true; break;
      case 'refused-stream': on.refusedStream = true; break;
      case 'retriable-status-codes': on.retriableStatusCodes = true; break;
      case 'envoy-ratelimited': on.envoyRatelimited = true; break;
      case 'cancelled': case 'deadline-exceeded': case 'internal': case 'resource-exhausted': case 'unavailable':
        grpc.push(t); break;
      default: break; // validation reports unknown conditions
    }
  }
  on.grpc = grpc;
  return { on: Object.freeze(on), statusCodes };
}

export function compileRetryPolicy(spec: HTTPRetry | undefined, meshDefault: HTTPRetry | undefined): RetryPolicy | null {
  const base = spec ?? meshDefault;
  const attempts = base === undefined ? 2 : (base.attempts ?? 2);
  if (attempts <= 0) return null;
  const { on, statusCodes } = parseRetryOn(base?.retryOn ?? ISTIO_DEFAULT_RETRY_ON);
  // Istio always lists 503 as a retriable status code in its default policy.
  const codes = base?.retryOn === undefined ? [503] : statusCodes;
  const backoff = base?.backoff !== undefined ? (parseDurationMs(base.backoff) ?? 25) : 25;
  return Object.freeze({
    attempts,
    perTryTimeoutMs: base?.perTryTimeout !== undefined ? (parseDurationMs(base.perTryTimeout) ?? 0) : 0,
    on,
    statusCodes: Object.freeze(codes),
    ignorePreviousHosts: base?.retryIgnorePreviousHosts ?? true,
    backoffBaseMs: backoff,
    backoffMaxMs: backoff * 10,
  });
}

// ---------------------------------------------------------------- rewrite

/** Envoy regex_rewrite substitutions use `\1`; RE2's replace uses `$1`. */
function toRe2Substitution(s: string): string {
  return s.replace(/\$/g, '$$$$').replace(/\\(\d)/g, '$$$1');
}

function compileRewrite(rule: HTTPRoute, match: RouteMatch): Rewrite | null {
  const rw = rule.rewrite;
  let authority: string | null = rw?.authority ?? null;
  // `headers.request.set[":authority"]` is also an authority rewrite.
  const hdrAuthority = compileHeaderMutation(rule.headers?.request)?.authority ?? null;
  if (authority === null && hdrAuthority !== null) authority = hdrAuthority;
  if (rw === undefined && authority === null) return null;
  let regex: Rewrite['regex'] = null;
  if (rw?.uriRegexRewrite?.match !== undefined) {
    const re = new RE2(rw.uriRegexRewrite.match, 'g');
    const sub = toRe2Substitution(rw.uriRegexRewrite.rewrite ?? '');
    regex = Object.freeze({ test: (p: string) => re.test(p), replace: (p: string) => { re.lastIndex = 0; return p.replace(re as unknown as RegExp, sub); }, pattern: rw.uriRegexRewrite.match, substitution: rw.uriRegexRewrite.rewrite ?? '' });
  }
  const uri = rw?.uri ?? null;
  // With no uri match Istio emits `prefix: /`, so a uri rewrite replaces that leading "/".
  const hasPathCondition = match.conditions.some((c) => c.kind === 'path');
  const prefix = uri === null ? null : match.pathPrefix ?? (hasPathCondition ? null : '/');
  return Object.freeze({ uri, prefix, prefixIgnoreCase: match.pathPrefixIgnoreCase, regex, authority });
}

/** Applies a rewrite to a path (query kept). Exact/regex matches replace the whole path. */
export function rewritePath(rw: Rewrite, path: string): string {
  if (rw.uri === null && rw.regex === null) return path;
  const q = path.indexOf('?');
  const pathOnly = q < 0 ? path : path.slice(0, q);
  const query = q < 0 ? '' : path.slice(q);
  let out: string;
  if (rw.regex !== null) out = rw.regex.replace(pathOnly);
  else if (rw.prefix !== null) out = rw.uri! + pathOnly.slice(rw.prefix.length);
  else out = rw.uri!;
  return out + query;
}

// ---------------------------------------------------------------- mirror

function percentToPerMillion(p: Percent | undefined, dflt: number): number {
  if (p === undefined) return dflt;
  return Math.round((p.value ?? 0) * 10_000);
}

function compileMirrors(ctx: CompileContext, vs: VS, at: Path, rule: HTTPRoute, listenerPort: number): readonly Mirror[] {
  const out: Mirror[] = [];
  const add = (d: Destination, perMillion: number, path: Path): void => {
    const resolved = ensureCluster(ctx, vs, path, d, listenerPort);
    out.push(Object.freeze({ cluster: resolved.cluster, host: resolved.host, fractionPerMillion: perMillion }));
  };
  if (rule.mirror !== undefined) {
    const pm = rule.mirrorPercentage !== undefined ? percentToPerMillion(rule.mirrorPercentage, 1_000_000) : rule.mirrorPercent !== undefined ? rule.mirrorPercent * 10_000 : 1_000_000;
    add(rule.mirror, pm, [...at, 'mirror']);
  }
  (rule.mirrors ?? []).forEach((m, i) => add(m.destination, percentToPerMillion(m.percentage, 1_000_000), [...at, 'mirrors', i, 'destination']));
  return Object.freeze(out);
}

// ---------------------------------------------------------------- per-route filters

export function compileRouteFilters(rule: HTTPRoute): HttpFilterConfigs {
  const fault = compileFault(rule.fault);
  const cors = compileCors(rule.corsPolicy);
  if (fault === null && cors === null) return NO_ROUTE_FILTERS;
  return Object.freeze({ fault, cors });
}

const GRPC_CODES: Record<string, number> = {
  OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, DATA_LOSS: 15, UNAUTHENTICATED: 16,
};

function compileFault(f: HTTPFaultInjection | undefined): FaultConfig | null {
  if (f === undefined) return null;
  const delayMs = f.delay?.fixedDelay !== undefined ? (parseDurationMs(f.delay.fixedDelay) ?? 0) : 0;
  // An unset percentage means 0 % (istio/api#2522); the deprecated integer `percent` still counts.
  const delayPerMillion = f.delay === undefined ? 0 : f.delay.percentage !== undefined ? percentToPerMillion(f.delay.percentage, 0) : (f.delay.percent ?? 0) * 10_000;
  const grpc = f.abort?.grpcStatus;
  const abortGrpcStatus = grpc !== undefined ? (GRPC_CODES[grpc] ?? Number(grpc)) : null;
  const abortStatus = f.abort?.httpStatus ?? (abortGrpcStatus !== null ? 200 : 0);
  const abortPerMillion = f.abort === undefined ? 0 : percentToPerMillion(f.abort.percentage, 0);
  return Object.freeze({ delayMs, delayPerMillion, abortStatus, abortGrpcStatus, abortPerMillion });
}

function compileCors(c: CorsPolicy | undefined): CorsConfig | null {
  if (c === undefined) return null;
  const origins = [
    ...(c.allowOrigins ?? []).map((m) => compileStringMatch(m)),
    ...(c.allowOrigin ?? []).map((o) => (o === '*' ? { test: () => true, describe: 'any' } : compileStringMatch({ exact: o }))),
  ];
  return Object.freeze({
    allowOrigins: Object.freeze(origins),
    allowMethods: (c.allowMethods ?? []).join(','),
    allowHeaders: (c.allowHeaders ?? []).join(','),
    exposeHeaders: (c.exposeHeaders ?? []).join(','),
    maxAge: c.maxAge !== undefined ? String(Math.round((parseDurationMs(c.maxAge) ?? 0) / 1000)) : '',
    allowCredentials: c.allowCredentials === true,
    forwardUnmatchedPreflights: c.unmatchedPreflights !== 'IGNORE',
  });
}
