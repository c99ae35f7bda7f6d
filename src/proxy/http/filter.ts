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
