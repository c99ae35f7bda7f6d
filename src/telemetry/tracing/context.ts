// Trace context at the edge, as Envoy's tracers handle it: each provider reads and writes its
// own format — Zipkin B3 (`x-b3-traceid`, `x-b3-spanid`, `x-b3-parentspanid`, `x-b3-sampled`,
// `x-b3-flags`, or the single `b3` header), OpenTelemetry W3C trace context (`traceparent`,
// `tracestate`). The gateway's span is a child of the incoming span (new span id, same trace),
// and the upstream request carries the gateway span as its parent. An incoming sampling
// decision is honoured; without one, `x-client-trace-id` forces a trace, else the random
// sampling percentage decides — from the x-request-id when useRequestIdForTraceSampling (so
// every proxy on the path decides alike), else at random.

import { randomFillSync } from 'node:crypto';
import type { TracingConfig } from '../../compile/telemetry/types.js';
import { getHeader, removeHeader, setHeader, type HeaderList } from '../../proxy/http/headers.js';

/** The gateway's span while its request is in flight (`HttpStream.span`). */
export class ActiveSpan {
  /** 32 hex digits (or 16 for a 64-bit B3 trace id received). */
  readonly traceId: string;
  /** 16 hex digits. */
  readonly spanId: string;
  /** The incoming span's id, '' for a new trace. */
  readonly parentId: string;
  readonly sampled: boolean;
  /** Start, ms since the epoch (fractional). */
  readonly startMs: number;

  constructor(traceId: string, spanId: string, parentId: string, sampled: boolean, startMs: number) {
    this.traceId = traceId;
    this.spanId = spanId;
    this.parentId = parentId;
    this.sampled = sampled;
    this.startMs = startMs;
  }
}

// Random ids from a pool refilled 4 KiB at a time (one syscall per 256 span ids).
const POOL = Buffer.alloc(4096);
let poolAt = POOL.length;

function randomHex(bytes: number): string {
  if (poolAt + bytes > POOL.length) { randomFillSync(POOL); poolAt = 0; }
  const s = POOL.toString('hex', poolAt, poolAt + bytes);
  poolAt += bytes;
  // An all-zero id is invalid in both formats.
  return /^0+$/.test(s) ? randomHex(bytes) : s;
}

export function newSpanId(): string { return randomHex(8); }
export function newTraceId(): string { return randomHex(16); }

const HEX16 = /^[0-9a-f]{16}$/;
const HEX32 = /^[0-9a-f]{32}$/;
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

interface Incoming {
  traceId: string;
  parentId: string;
  /** null = the caller deferred the decision. */
  sampled: boolean | null;
}

/** W3C `traceparent` (version 00 layout; later versions are read the same way, as the spec asks). */
export function extractW3c(h: HeaderList): Incoming | null {
  const v = getHeader(h, 'traceparent');
  if (v === undefined) return null;
  const m = TRACEPARENT.exec(v.trim().toLowerCase());
  if (m === null || m[1] === 'ff' || /^0+$/.test(m[2]!) || /^0+$/.test(m[3]!)) return null;
  return { traceId: m[2]!, parentId: m[3]!, sampled: (parseInt(m[4]!, 16) & 1) === 1 };
}

/** Zipkin B3: multi headers, else the single `b3` header (`traceid-spanid[-sampled[-parent]]` or a bare `0`/`1`/`d`). */
export function extractB3(h: HeaderList): Incoming | null {
  const traceId = getHeader(h, 'x-b3-traceid')?.toLowerCase();
  const spanId = getHeader(h, 'x-b3-spanid')?.toLowerCase();
  const flags = getHeader(h, 'x-b3-flags');
  const sampledHeader = getHeader(h, 'x-b3-sampled');
  const sampled = flags === '1' ? true : sampledHeader === undefined ? null : sampledHeader === '1' || sampledHeader.toLowerCase() === 'true';
  if (traceId !== undefined && spanId !== undefined) {
    if (!(HEX16.test(traceId) || HEX32.test(traceId)) || !HEX16.test(spanId)) return null;
    return { traceId, parentId: spanId, sampled };
  }
  const single = getHeader(h, 'b3')?.toLowerCase();
  if (single === undefined) return sampled === null ? null : { traceId: '', parentId: '', sampled };
  const parts = single.split('-');
  if (parts.length === 1) return { traceId: '', parentId: '', sampled: parts[0] === '1' || parts[0] === 'd' ? true : parts[0] === '0' ? false : null };
  if (!(HEX16.test(parts[0]!) || HEX32.test(parts[0]!)) || !HEX16.test(parts[1]!)) return null;
  const s = parts[2];
  return { traceId: parts[0]!, parentId: parts[1]!, sampled: s === undefined ? null : s === '1' || s === 'd' };
}

/** Envoy's request-id based sampling value: the first 8 hex digits of the UUID, mod 10000. */
function requestIdDraw(requestId: string): number {
  const n = parseInt(requestId.slice(0, 8), 16);
  if (Number.isFinite(n)) return n % 10000;
  let x = 2166136261;
  for (let i = 0; i < requestId.length; i++) { x ^= requestId.charCodeAt(i); x = Math.imul(x, 16777619); }
  return (x >>> 0) % 10000;
}

/** The random sampling decision for a request without an incoming one. */
export function sampleRandom(cfg: TracingConfig, requestId: string): boolean {
  const threshold = Math.round(cfg.randomSamplingPercentage * 100); // of 10000
  if (threshold >= 10000) return true;
  if (threshold <= 0) return false;
  const draw = cfg.useRequestIdForTraceSampling && requestId !== '' ? requestIdDraw(requestId) : Math.floor(Math.random() * 10000);
  return draw < threshold;
}

/**
 * Starts the gateway's span for a request whose headers were just prepared (x-request-id
 * known): decides sampling, and writes the provider's propagation headers into `h` so the
 * upstream request (and ext_authz checks) carry the gateway span as parent.
 */
export function beginSpan(h: HeaderList, requestId: string, cfg: TracingConfig): ActiveSpan {
  const zipkin = cfg.provider.kind === 'zipkin';
  const incoming = zipkin ? extractB3(h) : extractW3c(h);
  let sampled = incoming?.sampled ?? null;
  if (sampled === null) sampled = getHeader(h, 'x-client-trace-id') !== undefined ? true : sampleRandom(cfg, requestId);
  const traceId = incoming !== null && incoming.traceId !== '' ? incoming.traceId : newTraceId();
  const parentId = incoming?.parentId ?? '';
  const span = new ActiveSpan(traceId, newSpanId(), parentId, sampled, performance.timeOrigin + performance.now());
  if (zipkin) injectB3(h, span);
  else injectW3c(h, span);
  return span;
}

function injectB3(h: HeaderList, span: ActiveSpan): void {
  removeHeader(h, 'b3');
  setHeader(h, 'x-b3-traceid', 'x-b3-traceid', span.traceId);
  setHeader(h, 'x-b3-spanid', 'x-b3-spanid', span.spanId);
  if (span.parentId !== '') setHeader(h, 'x-b3-parentspanid', 'x-b3-parentspanid', span.parentId);
  else removeHeader(h, 'x-b3-parentspanid');
  setHeader(h, 'x-b3-sampled', 'x-b3-sampled', span.sampled ? '1' : '0');
}

function injectW3c(h: HeaderList, span: ActiveSpan): void {
  // tracestate belongs to the trace: it travels unchanged.
  setHeader(h, 'traceparent', 'traceparent', `00-${span.traceId}-${span.spanId}-${span.sampled ? '01' : '00'}`);
}
