import type { RetryPolicy } from '../../compile/snapshot.js';
import { getHeader, type HeaderList } from './headers.js';

/** grpc-status codes → the names `retryOn` uses for them. */
const GRPC_RETRY_NAMES: Record<string, string> = { '1': 'cancelled', '4': 'deadline-exceeded', '13': 'internal', '8': 'resource-exhausted', '14': 'unavailable' };

/**
 * Does the route's `retryOn` cover this upstream response (Envoy's retry_on: 5xx,
 * gateway-error, retriable-4xx, retriable-status-codes, envoy-ratelimited, and the gRPC
 * statuses by name)? Whether a retry is left to make is the router's question.
 */
export function retriableResponse(r: RetryPolicy, status: number, headers: HeaderList): boolean {
  const on = r.on;
  if (
    (on.fiveXx && status >= 500) ||
    (on.gatewayError && (status === 502 || status === 503 || status === 504)) ||
    (on.retriable4xx && status === 409) ||
    (on.retriableStatusCodes && r.statusCodes.includes(status)) ||
    (on.envoyRatelimited && getHeader(headers, 'x-envoy-ratelimited') !== undefined)
  ) return true;
  if (on.grpc.length === 0) return false;
  const g = getHeader(headers, 'grpc-status');
  return g !== undefined && on.grpc.includes(GRPC_RETRY_NAMES[g] ?? '');
}
