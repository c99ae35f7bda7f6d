// OTLP over HTTP (JSON) through the OpenTelemetry SDK: what Envoy's OpenTelemetry tracer sends
// when Istio's `opentelemetry` provider has `http: {path}`. The data plane decides sampling
// and ids itself (they are propagated before the request goes upstream); at the end of the
// request the SDK records a span with exactly those ids (a preset IdGenerator) and batches it
// to the collector.

import { context, SpanKind, SpanStatusCode, trace, TraceFlags, type Attributes as OtelAttributes } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider, type IdGenerator } from '@opentelemetry/sdk-trace-node';
import { FLUSH_INTERVAL_MS, FLUSH_SPANS, MAX_QUEUED_SPANS, type SpanExporter } from './exporter.js';
import type { FinishedSpan } from './finished-span.js';

export interface OtlpTarget {
  /** `http://host:port/path`. */
  readonly url: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly timeoutMs: number;
}

/** Hands the SDK the ids the data plane already chose (set just before each startSpan). */
class PresetIds implements IdGenerator {
  traceId = '';
  spanId = '';
  generateTraceId(): string { return this.traceId; }
  generateSpanId(): string { return this.spanId; }
}

export class OtlpExporter implements SpanExporter {
  readonly #ids = new PresetIds();
  readonly #providers = new Map<string, NodeTracerProvider>();
  readonly #target: OtlpTarget;
  readonly #processor: BatchSpanProcessor;

  constructor(target: OtlpTarget) {
    this.#target = target;
    const exporter = new OTLPTraceExporter({ url: target.url, headers: Object.fromEntries(target.headers), timeoutMillis: target.timeoutMs });
    this.#processor = new BatchSpanProcessor(exporter, { scheduledDelayMillis: FLUSH_INTERVAL_MS, maxExportBatchSize: FLUSH_SPANS, maxQueueSize: MAX_QUEUED_SPANS });
  }

  get url(): string {
    return this.#target.url;
  }

  /** One SDK provider per service name (its resource), all feeding the one batch processor. */
  #tracer(serviceName: string): ReturnType<NodeTracerProvider['getTracer']> {
    let p = this.#providers.get(serviceName);
    if (p === undefined) {
      p = new NodeTracerProvider({
        resource: resourceFromAttributes({ 'service.name': serviceName }),
        idGenerator: this.#ids,
        spanProcessors: [this.#processor],
      });
      this.#providers.set(serviceName, p);
    }
    return p.getTracer('sluice');
  }

  export(s: FinishedSpan): void {
    const tracer = this.#tracer(s.serviceName);
    let parent = context.active();
    if (s.parentId !== '') {
      parent = trace.setSpanContext(parent, { traceId: s.traceId.padStart(32, '0'), spanId: s.parentId, traceFlags: TraceFlags.SAMPLED, isRemote: true });
    }
    this.#ids.traceId = s.traceId.padStart(32, '0');
    this.#ids.spanId = s.spanId;
    const attributes: OtelAttributes = { ...s.tags };
    const span = tracer.startSpan(s.name, { kind: s.kind === 'CLIENT' ? SpanKind.CLIENT : SpanKind.SERVER, startTime: s.startMs, attributes }, parent);
    if (s.error) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end(s.endMs);
  }

  async flush(): Promise<void> {
    await this.#processor.forceFlush();
  }

  async close(): Promise<void> {
    await this.#processor.forceFlush();
    await this.#processor.shutdown();
  }
}
