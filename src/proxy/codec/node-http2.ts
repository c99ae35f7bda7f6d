import { constants, createServer, type Http2Server, type ServerHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import { onRequestHeaders } from '../http/connection-manager.js';
import type { HeaderList } from '../http/headers.js';
import { completeStream, sendLocalReply } from '../http/local-reply.js';
import { ResponseFlag } from '../http/response-flags.js';
import { HttpStream, type BodySink, type DownstreamCodec, type DownstreamConnection } from '../http/stream.js';
import { MAX_REQUEST_HEADERS, MAX_REQUEST_HEADER_BYTES } from './node-http1.js';
import { limitHttp2Session } from '../filters/hcm/connection-limits.js';

const connections = new WeakMap<ServerHttp2Session, DownstreamConnection>();

interface H2Ref {
  stream: ServerHttp2Stream;
  trailers: HeaderList | null;
  wantsTrailers: boolean;
}

// Headers HTTP/2 forbids (connection-specific) — dropped on the way out.
const H2_FORBIDDEN = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host']);

/**
 * HTTP/2 downstream on node:http2: h2c with prior knowledge on plaintext ports and ALPN h2 on
 * TLS ports. Streams become HttpStreams routed by the same rules as HTTP/1.1.
 */
export class NodeHttp2Codec implements DownstreamCodec {
  readonly server: Http2Server;
  readonly #sessions = new Set<ServerHttp2Session>();
  #pending: DownstreamConnection | null = null;

  constructor(idleTimeoutMs: number) {
    this.server = createServer({ maxHeaderListPairs: MAX_REQUEST_HEADERS + 4, maxSessionMemory: 64, settings: { maxHeaderListSize: MAX_REQUEST_HEADER_BYTES } });
    this.server.setTimeout(idleTimeoutMs);
    this.server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]) => this.#onStream(stream, headers, flags, rawHeaders));
    this.server.on('sessionError', () => {});
    this.server.on('session', (session: ServerHttp2Session) => {
      // Emitted synchronously from serve(): tie the session to its connection.
      if (this.#pending !== null) { connections.set(session, this.#pending); limitHttp2Session(session, this.#pending); }
      session.on('error', () => {});
      this.#sessions.add(session);
      session.once('close', () => this.#sessions.delete(session));
    });
  }

  /** Draining: GOAWAY on every session; streams in flight finish. */
  drain(): void {
    for (const s of this.#sessions) {
      if (s.destroyed || s.closed) continue;
      try { s.goaway(); s.close(); } catch { s.destroy(); }
    }
  }

  serve(socket: Socket, conn: DownstreamConnection): void {
    this.#pending = conn;
    try {
      this.server.emit('connection', socket);
    } finally {
      this.#pending = null;
    }
  }

  #onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]): void {
    stream.on('error', () => {});
    const conn = stream.session !== undefined ? connections.get(stream.session as ServerHttp2Session) : undefined;
    if (conn === undefined) { stream.close(constants.NGHTTP2_REFUSED_STREAM); return; }
    const s = new HttpStream(conn, this, conn.proxy.snapshot);
    s.codecRef = { stream, trailers: null, wantsTrailers: false } satisfies H2Ref;
    s.protocol = 'HTTP/2';
    s.method = String(headers[':method'] ?? 'GET');
    s.path = String(headers[':path'] ?? '/');
    s.authority = String(headers[':authority'] ?? headers.host ?? '');
    s.scheme = String(headers[':scheme'] ?? (conn.tls ? 'https' : 'http')) === 'https' ? 'https' : 'http';
    const h: HeaderList = [];
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const n = rawHeaders[i]!;
      if (n.charCodeAt(0) === 58 /* : */) continue;
      h.push(n, rawHeaders[i + 1]!);
    }
    s.headers = h;
    s.hasBody = (flags & constants.NGHTTP2_FLAG_END_STREAM) === 0;
    stream.on('close', () => {
      if (!s.completed) { s.setFlag(ResponseFlag.DC); const a = s.onAbort; if (a !== null) a(); else completeStream(s); }
    });
    if (h.length / 2 > MAX_REQUEST_HEADERS) { sendLocalReply(s, 431, '', 0, 'too_many_headers'); return; }
    onRequestHeaders(s, conn.proxy.snapshot);
  }

  sendHeaders(s: HttpStream, status: number, headers: HeaderList, endStream: boolean): void {
    const ref = s.codecRef as H2Ref;
    if (ref.stream.destroyed) return;
    const out: OutgoingHttpHeaders = { ':status': status };
    for (let i = 0; i < headers.length; i += 2) {
      const n = headers[i]!.toLowerCase();
      if (H2_FORBIDDEN.has(n)) continue;
      const prev = out[n];
      out[n] = prev === undefined ? headers[i + 1]! : Array.isArray(prev) ? [...prev, headers[i + 1]!] : [String(prev), headers[i + 1]!];
    }
    // gRPC (and anything announcing trailers) may end with trailers: keep the stream open for them.
    const ct = out['content-type'];
    ref.wantsTrailers = !endStream && ((typeof ct === 'string' && ct.startsWith('application/grpc')) || out.trailer !== undefined);
    if (ref.wantsTrailers) {
      ref.stream.once('wantTrailers', () => {
        const t: OutgoingHttpHeaders = {};
        const tr = ref.trailers ?? [];
        for (let i = 0; i < tr.length; i += 2) t[tr[i]!.toLowerCase()] = tr[i + 1]!;
        ref.stream.sendTrailers(t);
      });
    }
    ref.stream.respond(out, { endStream, waitForTrailers: ref.wantsTrailers });
  }

  sendData(s: HttpStream, chunk: Buffer): boolean {
    const ref = s.codecRef as H2Ref;
    if (ref.stream.destroyed) return true;
    const ok = ref.stream.write(chunk);
    if (!ok) ref.stream.once('drain', () => { const d = s.onDrain; if (d !== null) d(); });
    return ok;
  }

  sendEnd(s: HttpStream, trailers: HeaderList | null): void {
    const ref = s.codecRef as H2Ref;
    if (ref.stream.destroyed) return;
    ref.trailers = trailers;
    ref.stream.end();
  }

  reset(s: HttpStream): void {
    const ref = s.codecRef as H2Ref;
    if (!ref.stream.destroyed) ref.stream.close(constants.NGHTTP2_INTERNAL_ERROR);
  }

  startBody(s: HttpStream, sink: BodySink): void {
    const stream = (s.codecRef as H2Ref).stream;
    stream.on('data', (c: Buffer) => sink.onData(c));
    stream.on('end', () => sink.onEnd(null));
    stream.on('aborted', () => sink.onError(new Error('stream aborted')));
  }

  pauseBody(s: HttpStream): void {
    (s.codecRef as H2Ref).stream.pause();
  }

  resumeBody(s: HttpStream): void {
    (s.codecRef as H2Ref).stream.resume();
  }

  takeSocket(): null {
    return null;
  }
}
