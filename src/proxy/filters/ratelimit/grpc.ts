// The rate limit service over gRPC, as Envoy's ratelimit filter calls it:
// `envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit` on the filter's
// `rate_limit_service.grpc_service.envoy_grpc.cluster_name` (envoyproxy/ratelimit and its
// kin). The messages are the fields of Envoy's protos this uses, with Envoy's field numbers.

import { UnaryMethod, type GrpcTarget } from '../../upstream/grpc-unary.js';
import type { Descriptor } from './descriptors.js';
import type { DescriptorStatus, RateLimitResponse } from './service.js';

const RLS_PROTO = `
syntax = "proto3";
package envoy.service.ratelimit.v3;

message Entry { string key = 1; string value = 2; }
message RateLimitDescriptor { repeated Entry entries = 1; }
message RateLimitRequest { string domain = 1; repeated RateLimitDescriptor descriptors = 2; uint32 hits_addend = 3; }

message Duration { int64 seconds = 1; int32 nanos = 2; }
message HeaderValue { string key = 1; string value = 2; }
message RateLimit { uint32 requests_per_unit = 1; int32 unit = 2; string name = 3; }
message DescriptorStatus { int32 code = 1; RateLimit current_limit = 2; uint32 limit_remaining = 3; Duration duration_until_reset = 4; }
message RateLimitResponse {
  int32 overall_code = 1;
  repeated DescriptorStatus statuses = 2;
  repeated HeaderValue response_headers_to_add = 3;
  repeated HeaderValue request_headers_to_add = 4;
  bytes raw_body = 5;
}

service RateLimitService { rpc ShouldRateLimit(RateLimitRequest) returns (RateLimitResponse); }
`;

interface RlsRequest { domain: string; descriptors: { entries: { key: string; value: string }[] }[]; hitsAddend: number }
interface RlsResponse {
  overallCode?: number;
  statuses?: { code?: number; currentLimit?: { requestsPerUnit?: number; unit?: number; name?: string }; limitRemaining?: number; durationUntilReset?: { seconds?: number } }[];
  responseHeadersToAdd?: { key?: string; value?: string }[];
  requestHeadersToAdd?: { key?: string; value?: string }[];
  rawBody?: Uint8Array;
}

const shouldRateLimit = new UnaryMethod<RlsRequest, RlsResponse>(RLS_PROTO, '/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit', 'envoy.service.ratelimit.v3.RateLimitRequest', 'envoy.service.ratelimit.v3.RateLimitResponse');

/** RateLimitResponse.RateLimit.Unit → seconds (SECOND=1 … YEAR=6, WEEK=7). */
const UNIT_SECONDS = [0, 1, 60, 3600, 86400, 30 * 86400, 365 * 86400, 7 * 86400];
const UNIT_NAMES = ['unknown', 'second', 'minute', 'hour', 'day', 'month', 'year', 'week'];

/** What the service adds besides its verdict: headers for the response and the upstream request, a body for the 429. */
export interface RateLimitExtras {
  readonly responseHeaders: readonly [string, string][];
  readonly requestHeaders: readonly [string, string][];
  readonly body: string;
}

/**
 * Asks the rate limit service at `target` (an endpoint of its cluster). Codes: OK (1) and UNKNOWN (0, which
 * Envoy treats as OK) allow; OVER_LIMIT (2) limits; a gRPC failure is an error (the filter's
 * failure_mode_deny decides).
 */
export async function shouldRateLimitOverGrpc(target: GrpcTarget, domain: string, descriptors: readonly Descriptor[], timeoutMs: number): Promise<RateLimitResponse & { extras: RateLimitExtras }> {
  const r = await shouldRateLimit.call(target, { domain, descriptors: descriptors.map((d) => ({ entries: d.map((e) => ({ key: e.key, value: e.value })) })), hitsAddend: 1 }, timeoutMs);
  const statuses = (r.statuses ?? []).map((st): DescriptorStatus => {
    const l = st.currentLimit;
    const unit = l?.unit ?? 0;
    return {
      code: st.code === 2 ? 'OVER_LIMIT' : 'OK',
      limit: l !== undefined ? { unit: UNIT_NAMES[unit] ?? 'unknown', unitSeconds: UNIT_SECONDS[unit] ?? 0, requestsPerUnit: l.requestsPerUnit ?? 0, unlimited: false } : null,
      remaining: st.limitRemaining ?? 0,
      resetSeconds: st.durationUntilReset?.seconds ?? 0,
    };
  });
  const pairs = (hs: { key?: string; value?: string }[] | undefined): [string, string][] => (hs ?? []).filter((h) => (h.key ?? '') !== '').map((h) => [h.key!.toLowerCase(), h.value ?? '']);
  return {
    code: r.overallCode === 2 ? 'OVER_LIMIT' : 'OK',
    statuses,
    error: null,
    extras: { responseHeaders: pairs(r.responseHeadersToAdd), requestHeaders: pairs(r.requestHeadersToAdd), body: r.rawBody !== undefined ? Buffer.from(r.rawBody).toString('utf8') : '' },
  };
}
