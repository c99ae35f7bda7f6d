// Zipkin v2 JSON over HTTP (POST /api/v2/spans), what Envoy's Zipkin tracer sends with
// collector_endpoint_version HTTP_JSON. Spans are queued and posted in batches.

import { Agent, request } from 'node:http';
import { log } from '../../util/log.js';
import { FLUSH_INTERVAL_MS, FLUSH_SPANS, MAX_QUEUED_SPANS, type SpanExporter } from './exporter.js';
import type { FinishedSpan } from './finished-span.js';

export interface ZipkinTarget {
  readonly host: string;
  readonly port: number;
  readonly path: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly timeoutMs: number;
  readonly maxTagLength: number;
}

interface ZipkinSpan {
  traceId: string;
  parentId?: string;
  id: string;
  kind: 'CLIENT' | 'SERVER';
  name: string;
  timestamp: number;
  duration: number;
  localEndpoint: { serviceName: string; ipv4?: string; ipv6?: string };
  tags: Record<string, string>;
}

export function toZipkin(s: FinishedSpan, maxTagLength: number): ZipkinSpan {
  const tags: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.tags)) tags[k] = v.length > maxTagLength ? v.slice(0, maxTagLength) : v;
  const local: ZipkinSpan['localEndpoint'] = { serviceName: s.serviceName };
  if (s.localAddress.includes(':')) local.ipv6 = s.localAddress;
  else if (s.localAddress !== '') local.ipv4 = s.localAddress;
  const z: ZipkinSpan = {
    traceId: s.traceId,
    id: s.spanId,
    kind: s.kind,
    name: s.name,
    timestamp: Math.round(s.startMs * 1000),
    duration: Math.max(1, Math.round((s.endMs - s.startMs) * 1000)),
    localEndpoint: local,
    tags,
  };
  if (s.parentId !== '') z.parentId = s.parentId;
  return z;
}

export class ZipkinExporter implements SpanExporter {
  readonly #target: ZipkinTarget;
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 2 });
  #queue: ZipkinSpan[] = [];
  #timer: NodeJS.Timeout | null = null;
  #inflight: Promise<void> = Promise.resolve();
  #dropped = 0;
  #failing = false;

  constructor(target: ZipkinTarget) {
    this.#target = target;
  }

  export(span: FinishedSpan): void {
    if (this.#queue.length >= MAX_QUEUED_SPANS) { this.#queue.shift(); this.#dropped++; }
    this.#queue.push(toZipkin(span, this.#target.maxTagLength));
    if (this.#queue.length >= FLUSH_SPANS) { void this.flush(); return; }
    if (this.#timer === null) {
      this.#timer = setTimeout(() => { this.#timer = null; void this.flush(); }, FLUSH_INTERVAL_MS);
      this.#timer.unref();
    }
  }

  flush(): Promise<void> {
    if (this.#timer !== null) { clearTimeout(this.#timer); this.#timer = null; }
    if (this.#queue.length === 0) return this.#inflight;
    const batch = this.#queue;
    this.#queue = [];
    // One POST at a time, in order.
    this.#inflight = this.#inflight.then(() => this.#post(batch));
    return this.#inflight;
  }

  #post(batch: ZipkinSpan[]): Promise<void> {
    const t = this.#target;
    const body = Buffer.from(JSON.stringify(batch));
    return new Promise((resolve) => {
      const headers: Record<string, string> = { 'content-type': 'application/json', 'content-length': String(body.length) };
      for (const [k, v] of t.headers) headers[k] = v;
      const req = request({ host: t.host, port: t.port, path: t.path, method: 'POST', headers, agent: this.#agent, timeout: t.timeoutMs }, (res) => {
        res.resume();
        res.on('end', () => {
          const ok = res.statusCode !== undefined && res.statusCode < 300;
          this.#report(ok, ok ? '' : `HTTP ${res.statusCode}`, batch.length);
          resolve();
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e) => { this.#report(false, e.message, batch.length); resolve(); });
      req.end(body);
    });
  }

  #report(ok: boolean, why: string, n: number): void {
    // Say it once when the collector starts failing, once when it is back.
    if (!ok && !this.#failing) log('warn', 'tracing', `zipkin collector ${this.#target.host}:${this.#target.port}${this.#target.path}: ${why}; ${n} span(s) dropped`);
    if (ok && this.#failing) log('info', 'tracing', `zipkin collector ${this.#target.host}:${this.#target.port} reachable again`);
    this.#failing = !ok;
    if (this.#dropped > 0 && ok) { log('warn', 'tracing', `${this.#dropped} span(s) dropped while the queue was full`); this.#dropped = 0; }
  }

  async close(): Promise<void> {
    await this.flush();
    this.#agent.destroy();
  }
}
