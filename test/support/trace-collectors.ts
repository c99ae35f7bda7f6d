import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

// Trace collectors on loopback that record what a proxy reports: a Zipkin v2 JSON receiver
// (POST /api/v2/spans) and an OTLP/HTTP JSON receiver (POST /v1/traces). Spans are kept in
// arrival order, flattened to one shape.

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentId: string;
  name: string;
  kind: string;
  /** ms since the epoch. */
  startMs: number;
  durationMs: number;
  serviceName: string;
  tags: Record<string, string>;
  /** OTLP: status code (0 unset, 1 ok, 2 error); Zipkin: error tag. */
  error: boolean;
}

export interface TraceCollector {
  readonly port: number;
  readonly spans: ReceivedSpan[];
  /** Requests as received: path, content-type, headers. */
  readonly requests: { path: string; contentType: string; headers: Record<string, string> }[];
  /** Resolves when at least `n` spans matching `pred` arrived (polls; rejects after `timeoutMs`). */
  waitFor(n: number, pred?: (s: ReceivedSpan) => boolean, timeoutMs?: number): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function start(path: string, parse: (body: string) => ReceivedSpan[]): Promise<TraceCollector> {
  const spans: ReceivedSpan[] = [];
  const requests: TraceCollector['requests'] = [];
  const server: Server = createServer((req, res) => {
    void readBody(req).then((body) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      requests.push({ path: req.url ?? '', contentType: req.headers['content-type'] ?? '', headers });
      if (req.method !== 'POST' || req.url !== path) { res.writeHead(404).end(); return; }
      try {
        spans.push(...parse(body));
      } catch (e) {
        res.writeHead(400).end(String(e));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    spans,
    requests,
    waitFor: async (n, pred = () => true, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hits = spans.filter(pred);
        if (hits.length >= n) return hits;
        if (Date.now() > deadline) throw new Error(`collector on ${port}: ${hits.length} of ${n} spans after ${timeoutMs} ms (have ${spans.length}: ${spans.map((s) => s.name).join(', ')})`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

interface ZipkinSpanJson {
  traceId: string; id: string; parentId?: string; name: string; kind: string; timestamp: number; duration: number;
  localEndpoint?: { serviceName?: string }; tags?: Record<string, string>;
}

/** Zipkin v2: a JSON array of spans per POST. */
export function startZipkinCollector(): Promise<TraceCollector> {
  return start('/api/v2/spans', (body) => (JSON.parse(body) as ZipkinSpanJson[]).map((z) => ({
    traceId: z.traceId,
    spanId: z.id,
    parentId: z.parentId ?? '',
    name: z.name,
    kind: z.kind,
    startMs: z.timestamp / 1000,
    durationMs: z.duration / 1000,
    serviceName: z.localEndpoint?.serviceName ?? '',
    tags: z.tags ?? {},
    error: z.tags?.error === 'true',
  })));
}

interface OtlpValue { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number }
interface OtlpKv { key: string; value: OtlpValue }
interface OtlpJson {
  resourceSpans: {
    resource?: { attributes?: OtlpKv[] };
    scopeSpans: { spans: { traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number; startTimeUnixNano: string; endTimeUnixNano: string; attributes?: OtlpKv[]; status?: { code?: number } }[] }[];
  }[];
}

const KINDS = ['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];

function kv(attrs: OtlpKv[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of attrs ?? []) {
    const v = a.value;
    out[a.key] = String(v.stringValue ?? v.intValue ?? v.boolValue ?? v.doubleValue ?? '');
  }
  return out;
}

/** OTLP/HTTP with JSON encoding (what @opentelemetry/exporter-trace-otlp-http sends). */
export function startOtlpCollector(): Promise<TraceCollector> {
  return start('/v1/traces', (body) => {
    const j = JSON.parse(body) as OtlpJson;
    const out: ReceivedSpan[] = [];
    for (const rs of j.resourceSpans) {
      const service = kv(rs.resource?.attributes)['service.name'] ?? '';
      for (const ss of rs.scopeSpans) {
        for (const s of ss.spans) {
          const start = Number(BigInt(s.startTimeUnixNano) / 1000n) / 1000;
          const end = Number(BigInt(s.endTimeUnixNano) / 1000n) / 1000;
          out.push({
            traceId: s.traceId,
            spanId: s.spanId,
            parentId: s.parentSpanId ?? '',
            name: s.name,
            kind: KINDS[s.kind] ?? String(s.kind),
            startMs: start,
            durationMs: end - start,
            serviceName: service,
            tags: kv(s.attributes),
            error: s.status?.code === 2,
          });
        }
      }
    }
    return out;
  });
}
