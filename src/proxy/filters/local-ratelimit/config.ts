// envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit → a frozen config checked
// as Envoy checks it (token bucket present with max_tokens > 0 and fill_interval >= 50 ms).
// `filter_enabled` / `filter_enforced` default to 0 %: Envoy's "safe" default, the seed's
// egress filter trap — a filter without them counts nothing and limits nothing.

import {
  boolField,
  durationField,
  headerValueOptions,
  listField,
  objectField,
  ProtoError,
  runtimeFractionalPercent,
  stringField,
  uintField,
  isObject,
  type HeaderValueOption,
  type ProtoObject,
} from '../../../compile/security/envoy-proto.js';
import type { SourcePos } from '../../../config/diagnostic.js';
import type { DescriptorEntry } from '../ratelimit/descriptors.js';
import { counter, type Counter } from '../stats.js';
import { bucketKey, type TokenBucket, type TokenBucketSpec } from './token-bucket.js';

export const LOCAL_RATELIMIT_TYPE = 'envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';

/** Bucket handles resolved on first use (not part of the config dump). */
export class BucketSlot {
  bucket: TokenBucket | null = null;
  toJSON(): undefined {
    return undefined;
  }
}

export interface LocalDescriptor {
  /** Entries to match; an empty value matches any value of that key. */
  readonly entries: readonly DescriptorEntry[];
  readonly bucket: TokenBucketSpec;
  readonly bucketKey: string;
  readonly slot: BucketSlot;
}

export interface LocalRateLimitStats {
  readonly enabled: Counter;
  readonly enforced: Counter;
  readonly rateLimited: Counter;
  readonly ok: Counter;
}

export interface LocalRateLimitConfig {
  readonly statPrefix: string;
  /** The default bucket; null = no limit at this level (a per-route config may set one). */
  readonly bucket: TokenBucketSpec | null;
  readonly bucketKey: string;
  readonly slot: BucketSlot;
  /** filter_enabled / filter_enforced in millionths (0 when unset, as Envoy). */
  readonly enabledPerMillion: number;
  readonly enforcedPerMillion: number;
  readonly status: number;
  readonly responseHeadersToAdd: readonly HeaderValueOption[];
  readonly requestHeadersToAddWhenNotEnforced: readonly HeaderValueOption[];
  readonly descriptors: readonly LocalDescriptor[];
  readonly stage: number;
  readonly perConnection: boolean;
  readonly xRateLimitHeaders: boolean;
  readonly disableXEnvoyRateLimitedHeader: boolean;
  readonly alwaysConsumeDefaultTokenBucket: boolean;
  readonly rateLimitedAsResourceExhausted: boolean;
  readonly stats: LocalRateLimitStats;
  /** `EnvoyFilter ns/name configPatches[i]`. */
  readonly origin: string;
  /** Where that patch is written (for trace); null when unknown. */
  readonly source: SourcePos | null;
}

function tokenBucket(o: ProtoObject | undefined, path: string): TokenBucketSpec | null {
  if (o === undefined) return null;
  const maxTokens = uintField(o, 'max_tokens', path);
  if (maxTokens === undefined || maxTokens === 0) throw new ProtoError(`${path}.max_tokens`, 'must be set and greater than 0');
  const tokensPerFill = uintField(o, 'tokens_per_fill', path) ?? 1;
  if (tokensPerFill === 0) throw new ProtoError(`${path}.tokens_per_fill`, 'must be greater than 0');
  const fillIntervalMs = durationField(o, 'fill_interval', path);
  if (fillIntervalMs === undefined) throw new ProtoError(`${path}.fill_interval`, 'must be set, e.g. "60s"');
  if (fillIntervalMs < 50) throw new ProtoError(`${path}.fill_interval`, `local rate limit token bucket fill timer must be >= 50ms (it is ${fillIntervalMs}ms)`);
  return Object.freeze({ maxTokens, tokensPerFill, fillIntervalMs });
}

const STATUS_CODES: Readonly<Record<string, number>> = { TooManyRequests: 429, ServiceUnavailable: 503, Forbidden: 403, BadRequest: 400, Unauthorized: 401, InternalServerError: 500 };

/**
 * Compiles one LocalRateLimit message. `id` names its buckets across reloads (the EnvoyFilter
 * and patch, plus route/vhost for per-route configs): a reload that keeps the same bucket
 * parameters keeps the bucket and its remaining tokens.
 */
export function compileLocalRateLimit(v: ProtoObject, path: string, id: string, origin: string, source: SourcePos | null = null): LocalRateLimitConfig {
  const statPrefix = stringField(v, 'stat_prefix', path);
  if (statPrefix === undefined || statPrefix === '') throw new ProtoError(`${path}.stat_prefix`, 'must be set (Envoy requires it)');
  const bucket = tokenBucket(objectField(v, 'token_bucket', path), `${path}.token_bucket`);
  const statusObj = objectField(v, 'status', path);
  let status = 429;
  if (statusObj !== undefined) {
    const code = statusObj.code;
    status = typeof code === 'number' ? code : typeof code === 'string' ? (STATUS_CODES[code] ?? Number(code)) : 429;
    if (!(status >= 200 && status < 600)) throw new ProtoError(`${path}.status.code`, `${String(code)} is not an HTTP status`);
  }
  const descriptors = listField(v, 'descriptors', path).map((d, i): LocalDescriptor => {
    const p = `${path}.descriptors[${i}]`;
    if (!isObject(d)) throw new ProtoError(p, 'expected {entries, token_bucket}');
    const entries = listField(d, 'entries', p).map((e, j) => {
      if (!isObject(e)) throw new ProtoError(`${p}.entries[${j}]`, 'expected {key, value}');
      const key = stringField(e, 'key', `${p}.entries[${j}]`);
      if (key === undefined || key === '') throw new ProtoError(`${p}.entries[${j}].key`, 'must be set');
      return Object.freeze({ key, value: stringField(e, 'value', `${p}.entries[${j}]`) ?? '' });
    });
    if (entries.length === 0) throw new ProtoError(`${p}.entries`, 'a descriptor needs at least one entry');
    const b = tokenBucket(objectField(d, 'token_bucket', p), `${p}.token_bucket`);
    if (b === null) throw new ProtoError(`${p}.token_bucket`, 'must be set');
    return Object.freeze({ entries: Object.freeze(entries), bucket: b, bucketKey: bucketKey(`${id}#${entries.map((e) => `${e.key}=${e.value}`).join(',')}`, b), slot: new BucketSlot() });
  });
  const xrl = stringField(v, 'enable_x_ratelimit_headers', path);
  const stats = {
    enabled: counter(`${statPrefix}.http_local_rate_limit.enabled`),
    enforced: counter(`${statPrefix}.http_local_rate_limit.enforced`),
    rateLimited: counter(`${statPrefix}.http_local_rate_limit.rate_limited`),
    ok: counter(`${statPrefix}.http_local_rate_limit.ok`),
  };
  return Object.freeze({
    statPrefix,
    bucket,
    bucketKey: bucket === null ? '' : bucketKey(id, bucket),
    slot: new BucketSlot(),
    enabledPerMillion: runtimeFractionalPercent(v, 'filter_enabled', path) ?? 0,
    enforcedPerMillion: runtimeFractionalPercent(v, 'filter_enforced', path) ?? 0,
    status,
    responseHeadersToAdd: Object.freeze(headerValueOptions(v, 'response_headers_to_add', path)),
    requestHeadersToAddWhenNotEnforced: Object.freeze(headerValueOptions(v, 'request_headers_to_add_when_not_enforced', path)),
    descriptors: Object.freeze(descriptors),
    stage: uintField(v, 'stage', path) ?? 0,
    perConnection: boolField(v, 'local_rate_limit_per_downstream_connection', path) ?? false,
    xRateLimitHeaders: xrl === 'DRAFT_VERSION_03',
    disableXEnvoyRateLimitedHeader: boolField(v, 'disable_x_envoy_ratelimited_header', path) ?? false,
    alwaysConsumeDefaultTokenBucket: boolField(v, 'always_consume_default_token_bucket', path) ?? true,
    rateLimitedAsResourceExhausted: boolField(v, 'rate_limited_as_resource_exhausted', path) ?? false,
    stats: Object.freeze(stats),
    origin,
    source,
  });
}
