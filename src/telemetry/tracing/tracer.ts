// Tracing on the data plane: `startTrace` runs when a request's headers are ready (the
// connection manager calls it only when the snapshot has a Telemetry config), `Tracer.finish`
// when the request is complete. Exporters live as long as the process and are shared by
// snapshots that name the same collector.

import type { TracingConfig, TracingProvider } from '../../compile/telemetry/types.js';
import type { HttpStream } from '../../proxy/http/stream.js';
import type { DnsResolver } from '../../proxy/upstream/dns.js';
import { log } from '../../util/log.js';
import type { TelemetryConfig } from '../../compile/telemetry/types.js';
import { telemetryMode } from '../mode.js';
import { beginSpan } from './context.js';
import { MAX_QUEUED_SPANS, type SpanExporter } from './exporter.js';
import { finishSpan, type FinishedSpan } from './finished-span.js';
import { ZipkinExporter } from './zipkin-exporter.js';

/** Starts the request's span when its workload mode traces (sets `s.span`, writes propagation headers). */
export function startTrace(s: HttpStream, t: TelemetryConfig): void {
  const cfg = telemetryMode(t, s.conn).tracing;
  if (cfg === null) return;
  s.span = beginSpan(s.headers, s.requestId, cfg);
}

function providerKey(p: TracingProvider): string {
  return `${p.kind}|${p.address}|${p.addressPort}|${p.path}|${p.timeoutMs}|${p.maxTagLength}|${p.headers.map(([k, v]) => `${k}=${v}`).join(',')}`;
}

/**
 * An exporter whose collector address is resolved first (`--resolve` overrides, then DNS):
 * spans finished meanwhile wait in a bounded queue.
 */
class ResolvingExporter implements SpanExporter {
  #real: SpanExporter | null = null;
  #pending: FinishedSpan[] = [];
  readonly #ready: Promise<void>;

  constructor(p: TracingProvider, dns: DnsResolver) {
    this.#ready = new Promise<{ host: string; port: number }>((resolve) => {
      dns.resolveEndpoint(p.address, p.addressPort, (err, eps) => {
        const ep = err === null ? eps[0] : undefined;
        if (ep === undefined) log('warn', 'tracing', `cannot resolve tracing collector ${p.address}:${p.addressPort} (${err?.message ?? 'no address'}); sending to it by name`);
        resolve({ host: ep?.address ?? p.address, port: ep?.port ?? p.addressPort });
      });
    }).then(async ({ host, port }) => {
      // The OpenTelemetry SDK (~100 ms and ~20 MB to load) is loaded only when a provider needs it.
      this.#real = p.kind === 'zipkin'
        ? new ZipkinExporter({ host, port, path: p.path, headers: p.headers, timeoutMs: p.timeoutMs, maxTagLength: p.maxTagLength })
        : new (await import('./otlp-exporter.js')).OtlpExporter({ url: `http://${host.includes(':') ? `[${host}]` : host}:${port}${p.path}`, headers: p.headers, timeoutMs: p.timeoutMs });
      log('info', 'tracing', `${p.name}: sending ${p.kind === 'zipkin' ? 'Zipkin v2 JSON' : 'OTLP/HTTP'} spans to http://${host}:${port}${p.path}`);
      for (const s of this.#pending) this.#real.export(s);
      this.#pending = [];
    });
  }

  export(span: FinishedSpan): void {
    if (this.#real !== null) { this.#real.export(span); return; }
    if (this.#pending.length < MAX_QUEUED_SPANS) this.#pending.push(span);
  }

  async flush(): Promise<void> {
    await this.#ready;
    await this.#real!.flush();
  }

  async close(): Promise<void> {
    await this.#ready;
    await this.#real!.close();
  }
}

export class Tracer {
  readonly #dns: DnsResolver;
  readonly #exporters = new Map<string, SpanExporter>();

  constructor(dns: DnsResolver) {
    this.#dns = dns;
  }

  /** The exporter for a provider, created on first use. */
  exporter(p: TracingProvider): SpanExporter {
    const key = providerKey(p);
    let e = this.#exporters.get(key);
    if (e === undefined) this.#exporters.set(key, (e = new ResolvingExporter(p, this.#dns)));
    return e;
  }

  /** Ends the request's span and hands it to the provider's exporter when sampled and reported. */
  finish(s: HttpStream, cfg: TracingConfig, kind: 'CLIENT' | 'SERVER'): void {
    const span = s.span!;
    s.span = null;
    if (!span.sampled || cfg.disableSpanReporting) return;
    this.exporter(cfg.provider).export(finishSpan(s, span, cfg, kind));
  }

  /** Sends every queued span (shutdown, tests). */
  async flush(): Promise<void> {
    await Promise.all([...this.#exporters.values()].map((e) => e.flush()));
  }

  async close(): Promise<void> {
    await Promise.all([...this.#exporters.values()].map((e) => e.close()));
  }
}
