// envoy.extensions.filters.http.ratelimit.v3.RateLimit (global rate limiting) → frozen config.
// Envoy sends descriptors to a rate limit service over gRPC; so does Sluice (./grpc.ts), unless
// --ratelimit-config has it answer them in process with the envoyproxy/ratelimit algorithm
// against Redis (./service.ts), so the limits are shared by every replica on the same Redis.

import { boolField, durationField, objectField, ProtoError, stringField, uintField, type ProtoObject } from '../../../compile/security/envoy-proto.js';
import type { SourcePos } from '../../../config/diagnostic.js';
import { counter, type Counter } from '../stats.js';

export const RATELIMIT_TYPE = 'envoy.extensions.filters.http.ratelimit.v3.RateLimit';

export interface GlobalRateLimitConfig {
  readonly domain: string;
  readonly stage: number;
  /** Which requests: `internal` (x-envoy-internal), `external`, `both`. */
  readonly requestType: 'internal' | 'external' | 'both';
  /** Envoy's default is 20 ms: the service must answer within it or the request fails open/closed. */
  readonly timeoutMs: number;
  /** true: the service unreachable → 500 RLSE (fail closed); false (default): allowed (fail open). */
  readonly failureModeDeny: boolean;
  readonly rateLimitedStatus: number;
  readonly statusOnError: number;
  readonly xRateLimitHeaders: boolean;
  readonly disableXEnvoyRateLimitedHeader: boolean;
  /** The rate limit service's cluster (`outbound|port||host`), called over gRPC without --ratelimit-config. */
  readonly service: string;
  readonly stats: { readonly ok: Counter; readonly overLimit: Counter; readonly error: Counter; readonly failureModeAllowed: Counter };
  readonly origin: string;
  /** Where that patch is written (for trace); null when unknown. */
  readonly source: SourcePos | null;
}

function statusCode(o: ProtoObject | undefined, name: string, path: string, dflt: number): number {
  const v = objectField(o, name, path);
  if (v === undefined) return dflt;
  const c = v.code;
  const n = typeof c === 'number' ? c : typeof c === 'string' ? ({ TooManyRequests: 429, ServiceUnavailable: 503, InternalServerError: 500, Forbidden: 403 } as Record<string, number>)[c] ?? Number(c) : NaN;
  if (!(n >= 200 && n < 600)) throw new ProtoError(`${path}.${name}.code`, `${String(c)} is not an HTTP status`);
  return n;
}

export function compileGlobalRateLimit(v: ProtoObject, path: string, origin: string, source: SourcePos | null = null): GlobalRateLimitConfig {
  const domain = stringField(v, 'domain', path);
  if (domain === undefined || domain === '') throw new ProtoError(`${path}.domain`, 'must be set (the ratelimit service config domain)');
  const rt = stringField(v, 'request_type', path) ?? 'both';
  if (rt !== 'internal' && rt !== 'external' && rt !== 'both') throw new ProtoError(`${path}.request_type`, 'must be internal, external or both');
  const svc = objectField(v, 'rate_limit_service', path);
  const grpc = objectField(svc, 'grpc_service', `${path}.rate_limit_service`);
  const envoyGrpc = objectField(grpc, 'envoy_grpc', `${path}.rate_limit_service.grpc_service`);
  const service = stringField(envoyGrpc, 'cluster_name', `${path}.rate_limit_service.grpc_service.envoy_grpc`) ?? '';
  const xrl = stringField(v, 'enable_x_ratelimit_headers', path);
  return Object.freeze({
    domain,
    stage: uintField(v, 'stage', path) ?? 0,
    requestType: rt,
    timeoutMs: durationField(v, 'timeout', path) ?? 20,
    failureModeDeny: boolField(v, 'failure_mode_deny', path) ?? false,
    rateLimitedStatus: statusCode(v, 'rate_limited_status', path, 429),
    statusOnError: statusCode(v, 'status_on_error', path, 500),
    xRateLimitHeaders: xrl === 'DRAFT_VERSION_03',
    disableXEnvoyRateLimitedHeader: boolField(v, 'disable_x_envoy_ratelimited_header', path) ?? false,
    service,
    stats: Object.freeze({
      ok: counter(`ratelimit.${domain}.ok`),
      overLimit: counter(`ratelimit.${domain}.over_limit`),
      error: counter(`ratelimit.${domain}.error`),
      failureModeAllowed: counter(`ratelimit.${domain}.failure_mode_allowed`),
    }),
    origin,
    source,
  });
}
