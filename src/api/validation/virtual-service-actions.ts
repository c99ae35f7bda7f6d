// The per-route building blocks of a VirtualService http rule — redirect, directResponse,
// rewrite, retries, fault, CORS, mirrors, header operations, weighted destinations — each with
// its istio/istio check as a schema hook (none needs to know about the rest of the resource).

import type { CorsPolicy, HTTPDirectResponse, HTTPFaultInjection, HTTPRedirect, HTTPRetry, HTTPRewrite, HTTPRouteDestination, RouteDestination } from '../types.js';
import type { Path, ValidationContext } from './context.js';
import { destinationSchema, percentSchema, portNumberSchema } from './common.js';
import { didYouMean } from './did-you-mean.js';
import { parseGoDuration } from './duration.js';
import { checkHeaderOperations, headerNameError } from './headers.js';
import { CODE_INVALID_REGEXP, re2Error } from './regex.js';
import { bool, duration, enumOf, int32, list, map, obj, str, stringList, uint32, type ObjectSchema } from './schema.js';
import { checkStringMatch, stringMatchSchema } from './string-match.js';

/** Accepted as written, but does nothing (e.g. a fault without percentage). */
export const CODE_NO_EFFECT = 'SLU0104';

const headerOpsSchema = obj({ set: map(str()), add: map(str()), remove: stringList() });
export const headersSchema = obj({ request: headerOpsSchema, response: headerOpsSchema }, { check: checkHeaderOperations });

// ------------------------------------------------------------------ destinations and weights

export const httpRouteDestinationSchema = obj({ destination: destinationSchema, weight: int32(), headers: headersSchema }, { required: ['destination'] });
export const routeDestinationSchema = obj({ destination: destinationSchema, weight: int32() }, { required: ['destination'] });

/** validateHTTPRouteDestinations / validateRouteDestinations: weights ≥ 0, not all zero. */
export function checkWeights(routes: readonly (HTTPRouteDestination | RouteDestination)[], path: Path, ctx: ValidationContext): void {
  let total = 0;
  routes.forEach((r, i) => {
    const w = r.weight ?? 0;
    if (w < 0) ctx.error([...path, i, 'weight'], `weight ${w} < 0`, 'weights are relative shares ≥ 0');
    total += w;
  });
  if (routes.length > 1 && total === 0) {
    ctx.error(path, 'total destination weight = 0', 'give at least one destination a positive weight (weights are relative, e.g. 90 and 10)');
  }
}

// ------------------------------------------------------------------ redirect / directResponse

const REDIRECT_CODES = [301, 302, 303, 307, 308];

function checkRedirect(r: HTTPRedirect, path: Path, ctx: ValidationContext): void {
  if (!r.uri && !r.authority && r.port === undefined && r.derivePort === undefined && !r.scheme) {
    ctx.error(path, 'redirect must specify URI, authority, scheme, or port', 'add e.g. scheme: https, or uri: /new-path');
  }
  if (r.redirectCode !== undefined && r.redirectCode !== 0 && !REDIRECT_CODES.includes(r.redirectCode)) {
    ctx.error([...path, 'redirectCode'], `${r.redirectCode} is not a valid redirect code`, `use one of ${REDIRECT_CODES.join(', ')} (default 301)`);
  }
  if (r.scheme !== undefined && r.scheme !== '' && r.scheme !== 'http' && r.scheme !== 'https') {
    ctx.error([...path, 'scheme'], `invalid redirect scheme "${r.scheme}", must be "http" or "https"`, r.scheme.toLowerCase() === 'https' || r.scheme.toLowerCase() === 'http' ? `write it in lower case: ${r.scheme.toLowerCase()}` : undefined);
  }
}

export const redirectSchema = obj(
  {
    uri: str(),
    authority: str(),
    port: portNumberSchema,
    derivePort: enumOf(['FROM_PROTOCOL_DEFAULT', 'FROM_REQUEST_PORT']),
    scheme: str(),
    redirectCode: uint32(),
  },
  { oneOf: [['port', 'derivePort']], check: checkRedirect },
);

const KB = 1024;
const MB = 1024 * KB;

function checkDirectResponse(d: HTTPDirectResponse, path: Path, ctx: ValidationContext): void {
  if (d.status < 200 || d.status > 599) ctx.error([...path, 'status'], `HTTP status ${d.status} is not in range 200-599`, 'use a final status such as 200, 404 or 503');
  const body = d.body;
  if (body === undefined) return;
  if (body.bytes !== undefined && !/^[A-Za-z0-9+/]*={0,2}$/.test(body.bytes.replace(/\s/g, ''))) {
    ctx.error([...path, 'body', 'bytes'], 'body.bytes must be base64-encoded', 'base64-encode the body, or use body.string for text');
  }
  const size = body.string !== undefined ? Buffer.byteLength(body.string) : body.bytes !== undefined ? Math.floor((body.bytes.length * 3) / 4) : 0;
  if (size > MB) ctx.error([...path, 'body'], `direct response body is ${size} bytes; it must be less than 1MB`, 'serve large bodies from a backend');
  else if (size > 100 * KB) ctx.warning([...path, 'body'], 'large direct_responses may impact control plane performance');
}

export const directResponseSchema = obj(
  { status: uint32(), body: obj({ string: str(), bytes: str() }, { oneOf: [['string', 'bytes']] }) },
  { required: ['status'], check: checkDirectResponse },
);

export const delegateSchema = obj({ name: str(), namespace: str() });

// ------------------------------------------------------------------ rewrite

function checkRewrite(r: HTTPRewrite, path: Path, ctx: ValidationContext): void {
  if (r.uri !== undefined && r.uri !== '' && r.uriRegexRewrite !== undefined) {
    ctx.error([...path, 'uriRegexRewrite'], 'rewrite may only contain one of uri or uriRegexRewrite', 'keep uri (prefix replacement) or uriRegexRewrite (regex substitution)');
  }
  if (!r.uri && r.uriRegexRewrite === undefined && !r.authority) {
    ctx.error(path, 'rewrite must specify at least one of uri, uriRegexRewrite, or authority', 'add uri: /new-prefix, or remove the empty rewrite');
  }
  const rr = r.uriRegexRewrite;
  if (rr === undefined) return;
  if (!rr.match || !rr.rewrite) {
    ctx.error([...path, 'uriRegexRewrite'], 'uriRegexRewrite requires both rewrite and match fields to be specified', 'e.g. {match: "^/service/([^/]+)(/.*)$", rewrite: "\\\\2/instance/\\\\1"}');
    return;
  }
  const e = re2Error(rr.match);
  if (e !== undefined) ctx.error([...path, 'uriRegexRewrite', 'match'], `invalid regex "${rr.match}": ${e}`, undefined, CODE_INVALID_REGEXP);
}

export const rewriteSchema = obj({ uri: str(), authority: str(), uriRegexRewrite: obj({ match: str(), rewrite: str() }) }, { check: checkRewrite });

// ------------------------------------------------------------------ retries

// Envoy's x-envoy-retry-on and x-envoy-retry-grpc-on policies (supportedRetryOnPolicies).
const RETRY_ON = [
  '5xx', 'gateway-error', 'reset', 'reset-before-request', 'connect-failure', 'retriable-4xx', 'refused-stream',
  'retriable-status-codes', 'retriable-headers', 'envoy-ratelimited', 'http3-post-connect-failure',
  'cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable',
];
// Go's http.StatusText table: a bare status number is accepted when Go knows it.
const KNOWN_STATUS = new Set([
  100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 307, 308,
  400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418, 421, 422, 423,
  424, 425, 426, 428, 429, 431, 451, 500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
]);

function checkRetries(r: HTTPRetry, path: Path, ctx: ValidationContext): void {
  const attempts = r.attempts ?? 0;
  if (attempts < 0) ctx.error([...path, 'attempts'], 'attempts cannot be negative', 'use 0 to disable retries');
  if (attempts === 0 && (r.perTryTimeout !== undefined || (r.retryOn ?? '') !== '' || r.retryRemoteLocalities !== undefined)) {
    ctx.error(r.attempts === undefined ? [...path, 'attempts'] : [...path, 'attempts'], 'http retry policy configured when attempts are set to 0 (disabled)', 'set attempts (e.g. attempts: 3); an omitted attempts means 0');
  }
  if (r.retryOn !== undefined && r.retryOn !== '') {
    for (const policy of r.retryOn.split(',')) {
      if (RETRY_ON.includes(policy) || (/^\d+$/.test(policy) && KNOWN_STATUS.has(Number(policy)))) continue;
      const trimmed = policy.trim();
      const fix = trimmed !== policy && (RETRY_ON.includes(trimmed) || KNOWN_STATUS.has(Number(trimmed))) ? 'remove the spaces: policies are separated by "," only' : `valid policies: ${RETRY_ON.join(', ')}, or an HTTP status code`;
      ctx.error([...path, 'retryOn'], `"${policy}" is not a valid retryOn policy${didYouMean(trimmed, RETRY_ON)}`, fix);
    }
  }
}

export const retriesSchema = obj(
  { attempts: int32(), perTryTimeout: duration(), retryOn: str(), retryRemoteLocalities: bool(), retryIgnorePreviousHosts: bool(), backoff: duration() },
  { check: checkRetries },
);

// ------------------------------------------------------------------ fault injection

const GRPC_STATUS = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE',
  'DATA_LOSS', 'UNAUTHENTICATED',
];

function checkFault(f: HTTPFaultInjection, path: Path, ctx: ValidationContext): void {
  if (f.abort === undefined && f.delay === undefined) ctx.error(path, 'HTTP fault injection must have an abort and/or a delay', 'add abort: {httpStatus: 503, percentage: {value: 10}} or delay: {fixedDelay: 5s, percentage: {value: 10}}');
  const a = f.abort;
  if (a !== undefined) {
    if (a.http2Error !== undefined) ctx.error([...path, 'abort', 'http2Error'], 'HTTP/2 abort fault injection not supported yet', 'use httpStatus or grpcStatus');
    if (a.httpStatus !== undefined && (a.httpStatus < 200 || a.httpStatus > 599)) ctx.error([...path, 'abort', 'httpStatus'], `HTTP status ${a.httpStatus} is not in range 200-599`);
    if (a.httpStatus === undefined && a.grpcStatus === undefined && a.http2Error === undefined) ctx.warning([...path, 'abort'], 'abort configured, but error type not set', 'add httpStatus (e.g. 503) or grpcStatus');
    if (a.percentage === undefined) ctx.warning([...path, 'abort'], 'abort has no percentage: an unset percentage means 0%, so nothing is aborted', 'add percentage: {value: 100} (or the share you want)', CODE_NO_EFFECT);
  }
  const d = f.delay;
  if (d !== undefined) {
    if (d.exponentialDelay !== undefined) ctx.error([...path, 'delay', 'exponentialDelay'], 'exponentialDelay not supported yet', 'use fixedDelay');
    if (d.fixedDelay === undefined && d.exponentialDelay === undefined) ctx.warning([...path, 'delay'], 'delay configured without fixedDelay; nothing is delayed', 'add fixedDelay, e.g. 5s');
    if (d.percent !== undefined && (d.percent < 0 || d.percent > 100)) ctx.error([...path, 'delay', 'percent'], `percentage ${d.percent} is not in range 0..100`);
    if (d.percentage === undefined && d.percent === undefined) ctx.warning([...path, 'delay'], 'delay has no percentage: an unset percentage means 0%, so nothing is delayed', 'add percentage: {value: 100} (or the share you want)', CODE_NO_EFFECT);
  }
}

export const faultSchema = obj(
  {
    delay: obj(
      { fixedDelay: duration(), exponentialDelay: duration(), percentage: percentSchema, percent: int32({ deprecated: 'fault.delay.percent is deprecated; use percentage: {value: N}' }) },
      { oneOf: [['fixedDelay', 'exponentialDelay']] },
    ),
    abort: obj(
      { httpStatus: int32(), grpcStatus: enumOf(GRPC_STATUS), http2Error: str(), percentage: percentSchema },
      { oneOf: [['httpStatus', 'grpcStatus', 'http2Error']] },
    ),
  },
  { check: checkFault },
);

// ------------------------------------------------------------------ CORS

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE'];

function checkCors(c: CorsPolicy, path: Path, ctx: ValidationContext): void {
  (c.allowOrigins ?? []).forEach((o, i) => {
    const p = [...path, 'allowOrigins', i];
    if (!o.exact && !o.prefix && !o.regex) ctx.error(p, 'empty allowOrigins match is not valid', 'use exact: https://example.com, prefix, or regex');
    else checkStringMatch(o, p, ctx);
  });
  (c.allowMethods ?? []).forEach((m, i) => {
    if (!METHODS.includes(m)) ctx.error([...path, 'allowMethods', i], `"${m}" is not a supported HTTP method${didYouMean(m, METHODS)}`, `use upper-case methods: ${METHODS.join(', ')}`);
  });
  for (const f of ['allowHeaders', 'exposeHeaders'] as const) {
    (c[f] ?? []).forEach((h, i) => {
      const e = h === '*' ? undefined : headerNameError(h);
      if (e !== undefined) ctx.error([...path, f, i], e);
    });
  }
  const age = c.maxAge !== undefined ? parseGoDuration(c.maxAge) : 0n;
  if (typeof age === 'bigint' && age % 1_000_000_000n !== 0n) {
    ctx.error([...path, 'maxAge'], `max_age duration ${c.maxAge} is accurate only to seconds precision`, 'use whole seconds, e.g. 24h or 600s');
  }
}

export const corsSchema = obj(
  {
    allowOrigin: stringList({ deprecated: 'corsPolicy.allowOrigin is deprecated; use allowOrigins: [{exact: ...}]' }),
    allowOrigins: list(stringMatchSchema),
    allowMethods: stringList(),
    allowHeaders: stringList(),
    exposeHeaders: stringList(),
    maxAge: duration(),
    allowCredentials: bool(),
    unmatchedPreflights: enumOf(['UNSPECIFIED', 'FORWARD', 'IGNORE']),
  },
  { check: checkCors },
);

// ------------------------------------------------------------------ mirrors

export const mirrorPolicySchema: ObjectSchema = obj({ destination: destinationSchema, percentage: percentSchema }, { required: ['destination'] });
