import type { FetchedKeySet, JwksSource } from '../../security/jwks.js';
import type { HeaderList } from './headers.js';
import type { HttpStream } from './stream.js';

/** A filter's verdict: go on to the next filter, or stop (it replied, or it will resume). */
export const FilterStatus = Object.freeze({ Continue: 0, Stop: 1 } as const);
export type FilterStatus = (typeof FilterStatus)[keyof typeof FilterStatus];

/**
 * An HTTP filter, as in Envoy's decoder/encoder filters. Filters are stateless singletons:
 * per-request state lives on the stream, configuration on the snapshot (route or listener).
 * `onRequest` runs synchronously; a filter that must wait (JWKS fetch, ext_authz, Redis)
 * returns Stop and later calls `continueFilters(s)` or sends a local reply.
 */
export interface HttpFilter {
  readonly name: string;
  onRequest(s: HttpStream): FilterStatus;
  /** Response headers on their way to the client (only for streams that registered). */
  onResponseHeaders?(s: HttpStream, status: number, headers: HeaderList): void;
  /**
   * For `sluice trace` and /debug/trace: what `onRequest` would decide for this stream, with no
   * side effect outside the traced stream (no token taken, no counter, no call to a service).
   * The stream's route is already chosen. It may set on the stream what `onRequest` would set
   * for the filters after it (request principal, JWT claims, headers). A promise only when
   * `x.async` allows it and the answer truly needs one (a JWT signature check).
   */
  explain?(s: HttpStream, x: ExplainContext): FilterExplanation | Promise<FilterExplanation>;
}

/** What a trace lets `explain` do. */
export interface ExplainContext {
  /** The trace awaits a promise (sluice trace, /debug/trace); false: answer now, `unknown` if that is impossible. */
  readonly async: boolean;
  /**
   * An offline trace (`sluice trace -c`, `sluice test`): this process is not the gateway, so
   * process-wide state (rate limit service, buckets, JWKS cache) says nothing about it.
   */
  readonly offline: boolean;
  /**
   * Offline trace: remote JWKS with no keys in this process may be fetched once (with the
   * rule's timeout) into this per-trace cache. null: live trace, use only the keys the
   * gateway already holds (never fetch).
   */
  readonly fetchedKeys: Map<JwksSource, Promise<FetchedKeySet>> | null;
  /**
   * Signature checks already made in this run, by key set and token (`sluice test` sends the
   * same token in many cases; a signature's validity does not change, and exp/nbf are checked
   * every time). null: not kept.
   */
  readonly signatures?: WeakMap<object, Map<string, string | null>> | null;
}

/** A synchronous trace on a running gateway's keys (tests, the sync API). */
export const SYNC_EXPLAIN: ExplainContext = Object.freeze({ async: false, offline: false, fetchedKeys: null });

/** A filter's decision as trace shows it: the verdict, and the resource and rule that made it. */
export interface FilterExplanation {
  /** `skip`: nothing configured for this stream; `continue`: checked and passed; `reply`: it would answer itself. */
  readonly verdict: 'skip' | 'continue' | 'reply' | 'unknown';
  /** One line: what was checked and the outcome ("JWT from issuer X verified", "RBAC: access denied"). */
  readonly summary: string;
  /** For `reply`: the local reply the filter would send. */
  readonly status?: number;
  readonly responseFlag?: string;
  readonly details?: string;
  readonly body?: string;
  /** Extra headers of that local reply. */
  readonly headers?: readonly (readonly [string, string])[];
  /** The policy that decided (`AuthorizationPolicy ns/name`), with its rule and position. */
  readonly decidedBy?: { readonly resource: string; readonly rule?: string; readonly file?: string; readonly line?: number; readonly col?: number };
  /** What to add or change to get a different outcome. */
  readonly fix?: string;
  /** Further lines (each condition tried, bucket state, ...). */
  readonly steps?: readonly string[];
}

/** Registers `f` to see this stream's response headers. */
export function watchResponse(s: HttpStream, f: HttpFilter): void {
  if (s.responseFilters === null) s.responseFilters = [f];
  else if (!s.responseFilters.includes(f)) s.responseFilters.push(f);
}

export function runResponseFilters(s: HttpStream, status: number, headers: HeaderList): void {
  const fs = s.responseFilters;
  if (fs === null) return;
  for (let i = 0; i < fs.length; i++) fs[i]!.onResponseHeaders!(s, status, headers);
}
