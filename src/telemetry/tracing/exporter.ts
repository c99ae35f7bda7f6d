import type { FinishedSpan } from './finished-span.js';

/** Sends finished spans to a collector, batched; never blocks or throws on the request path. */
export interface SpanExporter {
  export(span: FinishedSpan): void;
  /** Sends what is queued; resolves when the collector answered (or gave up). */
  flush(): Promise<void>;
  /** Flushes and releases the exporter. */
  close(): Promise<void>;
}

/** Envoy's Zipkin collector flushes at 5 spans or 5 s; Sluice sends at most every second, or at 100 spans. */
export const FLUSH_INTERVAL_MS = 1000;
export const FLUSH_SPANS = 100;
/** Spans kept while a collector is unreachable; older ones are dropped (and counted). */
export const MAX_QUEUED_SPANS = 2048;
