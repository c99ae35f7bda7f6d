import type { FilterChain, Listener, Snapshot } from '../compile/snapshot.js';
import type { HeaderList } from '../proxy/http/headers.js';
import { HttpStream, type BodySink, type DownstreamCodec, type DownstreamConnection, type ProxyContext } from '../proxy/http/stream.js';
import type { TcpSession } from '../proxy/tcp/tcp-session.js';
import type { ClusterManager } from '../proxy/upstream/cluster-manager.js';
import { formatHttpLine } from '../telemetry/access-log.js';
import type { TraceRequest } from './types.js';

/** What the data plane wrote to the client for a traced stream. */
export interface RecordedResponse {
  status: number;
  headers: HeaderList;
  body: string;
  reset: boolean;
  accessLog: string | null;
}

/**
 * A DownstreamCodec that records instead of writing: trace runs the data plane's own
 * functions (route selection, local replies, redirects) on a real HttpStream, and this codec
 * keeps what they would have sent.
 */
export class RecordingCodec implements DownstreamCodec {
  readonly response: RecordedResponse = { status: 0, headers: [], body: '', reset: false, accessLog: null };

  sendHeaders(_s: HttpStream, status: number, headers: HeaderList): void {
    this.response.status = status;
    this.response.headers = [...headers];
  }

  sendData(_s: HttpStream, chunk: Buffer): boolean {
    this.response.body += chunk.toString('utf8');
    return true;
  }

  sendEnd(): void {}

  reset(): void {
    this.response.reset = true;
  }

  startBody(_s: HttpStream, sink: BodySink): void {
    sink.onEnd(null);
  }

  pauseBody(): void {}
  resumeBody(): void {}

  takeSocket(): null {
    return null;
  }
}

/**
 * The process-wide context of a traced stream. There are no upstream connections: the cluster
 * manager is never asked (trace reads clusters from the snapshot), and a completed stream
 * yields its access-log line instead of writing it.
 */
class TraceProxy implements ProxyContext {
  readonly snapshot: Snapshot;
  readonly clusters: ClusterManager;
  readonly #codec: RecordingCodec;

  constructor(snapshot: Snapshot, codec: RecordingCodec) {
    this.snapshot = snapshot;
    this.#codec = codec;
    // Trace never opens upstream connections: asking for a runtime cluster is a trace bug.
    this.clusters = { get: () => { throw new Error('trace must not use runtime clusters'); } } as unknown as ClusterManager;
  }

  onStreamComplete(s: HttpStream): void {
    this.#codec.response.accessLog = formatHttpLine(s).trimEnd();
  }

  onTcpComplete(_s: TcpSession): void {}
}

export interface PeerInfo {
  subject: string;
  uriSans: readonly string[];
  pem: string;
}

export interface TracedConnection {
  readonly conn: DownstreamConnection;
  readonly codec: RecordingCodec;
}

/** The downstream connection a request arrives on, as the listener manager would describe it. */
export function traceConnection(snapshot: Snapshot, l: Listener, chain: FilterChain, req: TraceRequest, tls: boolean, peer: PeerInfo | null): TracedConnection {
  const codec = new RecordingCodec();
  const conn: DownstreamConnection = {
    proxy: new TraceProxy(snapshot, codec),
    remoteAddress: req.sourceIp,
    remotePort: 50000,
    localAddress: l.address === '0.0.0.0' ? '127.0.0.1' : l.address,
    localPort: l.bindPort,
    listener: l,
    chain,
    sni: tls ? req.sni : '',
    tls,
    peerSubject: peer?.subject ?? '',
    peerUriSans: peer?.uriSans ?? [],
    peerCertPem: peer?.pem ?? '',
    snapshot,
  };
  return { conn, codec };
}

/** A real HttpStream for the traced request, filled as the HTTP codecs fill it. */
export function traceStream(tc: TracedConnection, req: TraceRequest, terminatedTls: boolean): HttpStream {
  const s = new HttpStream(tc.conn, tc.codec, tc.conn.snapshot);
  s.method = req.method;
  s.path = req.path;
  s.authority = req.authority;
  s.scheme = terminatedTls ? 'https' : 'http';
  s.protocol = req.http2 ? 'HTTP/2' : 'HTTP/1.1';
  const h: HeaderList = [];
  // node:http keeps Host among the raw headers; node:http2 carries it as :authority only.
  if (!req.http2) h.push('host', req.authority);
  for (const [n, v] of req.headers) h.push(n, v);
  if (req.hasBody) h.push('content-length', '1');
  s.headers = h;
  s.hasBody = req.hasBody;
  return s;
}

/** What the connection manager changed in the request headers (added, changed, removed). */
export function headerChanges(before: readonly string[], after: readonly string[]): string[] {
  const out: string[] = [];
  const b = new Map<string, string>();
  for (let i = 0; i < before.length; i += 2) b.set(before[i]!.toLowerCase(), before[i + 1]!);
  const a = new Map<string, string>();
  for (let i = 0; i < after.length; i += 2) a.set(after[i]!.toLowerCase(), after[i + 1]!);
  for (const [k, v] of a) {
    const old = b.get(k);
    if (old === undefined) out.push(`+ ${k}: ${v}`);
    else if (old !== v) out.push(`~ ${k}: ${v} (was ${old})`);
  }
  for (const k of b.keys()) if (!a.has(k)) out.push(`- ${k} (client's x-envoy-* headers are dropped)`);
  return out;
}
