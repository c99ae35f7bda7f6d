import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { onRequestHeaders } from '../http/connection-manager.js';
import { eqLower, getHeader, type HeaderList } from '../http/headers.js';
import { completeStream, sendLocalReply } from '../http/local-reply.js';
import { ResponseFlag } from '../http/response-flags.js';
import { HttpStream, type BodySink, type DownstreamCodec, type DownstreamConnection, type Http1ServerCodec } from '../http/stream.js';
import { HTTPParser, kOnBody, kOnExecute, kOnHeaders, kOnHeadersComplete, kOnMessageBegin, kOnMessageComplete, METHODS, type LlhttpParser } from '../upstream/llhttp.js';
import type { IncomingMessage } from 'node:http';
import { DEFAULT_LISTENER_POLICIES } from '../../compile/policies.js';
import { absoluteForm, dispatchConnect, MAX_REQUEST_HEADER_BYTES, MAX_REQUEST_HEADERS, onClientError, type Http1Options } from './node-http1.js';
import { WriteBatch } from './fast-http1-write.js';

// The fast HTTP/1.1 downstream codec: Node's own llhttp binding (the parser node:http uses,
// with node:http's strictness: conflicting CL/TE, bad chunking, obs-fold and invalid header
// bytes are parse errors → 400 and close; headers over 60 KiB → 431) on the raw net/tls
// socket, without IncomingMessage/ServerResponse or stream layers.
//
//   socket bytes ──(llhttp consumes the handle in C++: no JS 'data' events)──► callbacks
//     kOnMessageBegin      slowloris clock starts
//     kOnHeadersComplete   → FastStream + HttpStream → connection manager (one at a time:
//                            pipelined requests queue until the previous response is done)
//     kOnBody / trailers   → the stream's BodySink (buffered until the router asks for it)
//     kOnMessageComplete   → request end
//   responses: one head string built per response; head, body and framing of one event-loop
//   turn go out in one write (WriteBatch), flushed after the current callback.

const enum Pause {
  Body = 1,
  Queue = 2,
}

/** Requests parsed ahead while one is being served (pipelining) before reading stops. */
const MAX_QUEUED = 16;
/** Request body buffered before the router asks for it, before reading stops. */
const MAX_EARLY_BODY = 64 * 1024;
/** Resolution of the headers and idle timers (node:http checks every 30 s). */
const SWEEP_MS = 1000;

const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';
const LAST_CHUNK = '0\r\n\r\n';
const CRLF = '\r\n';

const statusLines: string[] = [];
function statusLine(status: number): string {
  let l = statusLines[status];
  if (l === undefined) {
    l = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'unknown'}\r\n`;
    if (status >= 100 && status < 1000) statusLines[status] = l;
  }
  return l;
}

interface StreamHandle {
  reading: boolean;
  readStart(): number;
  readStop(): number;
  isStreamBase?: boolean;
  _consumed?: boolean;
}

/** The codec's per-request state (HttpStream.codecRef). */
class FastStream implements BodySink {
  readonly c: FastConnection;
  readonly s: HttpStream;
  readonly keepAlive: boolean;
  upgrade: boolean;
  /** Send "100 Continue" when the request is dispatched. */
  expectContinue = false;
  /** The request head itself is refused (431 / 417) when dispatched. */
  refuse = 0;
  // request body
  sink: BodySink | null = null;
  early: Buffer[] | null = null;
  earlyBytes = 0;
  reqDone = false;
  trailers: HeaderList | null = null;
  // response
  chunked = false;
  noBody = false;
  headersSent = false;
  resDone = false;
  closeAfter = false;
  taken = false;
  upgradeHead: Buffer | null = null;

  constructor(c: FastConnection, s: HttpStream, keepAlive: boolean, upgrade: boolean) {
    this.c = c;
    this.s = s;
    this.keepAlive = keepAlive;
    this.upgrade = upgrade;
  }

  // BodySink used while no router sink exists: keep the body for later.
  onData(chunk: Buffer): void {
    if (this.resDone) return; // response already complete: the rest of the body is discarded
    const sink = this.sink;
    if (sink !== null) { sink.onData(chunk); return; }
    (this.early ??= []).push(chunk);
    this.earlyBytes += chunk.length;
    if (this.earlyBytes > MAX_EARLY_BODY) this.c.pause(Pause.Body);
  }

  onEnd(trailers: HeaderList | null): void {
    this.reqDone = true;
    this.trailers = trailers;
    if (this.resDone) return;
    const sink = this.sink;
    if (sink !== null) sink.onEnd(trailers);
  }

  onError(err: Error): void {
    const sink = this.sink;
    if (sink !== null && !this.reqDone) sink.onError(err);
  }
}

/**
 * One client connection. Parser callbacks are bound once here; per request only a FastStream
 * and its HttpStream are allocated.
 */
class FastConnection {
  readonly codec: FastHttp1Codec;
  readonly socket: Socket;
  readonly conn: DownstreamConnection;
  readonly parser: ConnParser;
  readonly out: WriteBatch;
  /** The request whose head is parsed and whose body is being read. */
  reading: FastStream | null = null;
  /** The request being served; its response is the one on the wire. */
  active: FastStream | null = null;
  readonly queue: FastStream[] = [];
  /** Header pairs and URL flushed before headers-complete (more than 32 headers). */
  partHeaders: string[] | null = null;
  partUrl = '';
  /** When the current request's first byte arrived (0: not in a request head). */
  headStart: number;
  idleSince: number;
  consumed = false;
  paused = 0;
  /** No more requests are read: the connection closes once the current response is done. */
  closing = false;
  dead = false;
  upgradePending: FastStream | null = null;
  /** The chain's HCM idle_timeout (EnvoyFilter MERGE), else the codec's; 0 = none. */
  readonly idleTimeoutMs: number;
  /** max_connection_duration elapsed: the next response closes the connection. */
  durationElapsed = false;
  #durationTimer: NodeJS.Timeout | null = null;
  #dispatchScheduled = false;

  constructor(codec: FastHttp1Codec, socket: Socket, conn: DownstreamConnection) {
    this.codec = codec;
    this.socket = socket;
    this.conn = conn;
    this.out = new WriteBatch(socket);
    const now = Date.now();
    this.headStart = now; // node:http also times out a connection that never sends a head
    this.idleSince = now;
    const p = parserPool.pop() ?? (new HTTPParser() as ConnParser);
    p.initialize(HTTPParser.REQUEST, {}, MAX_REQUEST_HEADER_BYTES, 0);
    // Callbacks shared by all connections (llhttp calls them on the parser, events on the
    // socket): no closures per connection.
    p.conn = this;
    p[kOnMessageBegin] = parserOnMessageBegin;
    p[kOnHeaders] = parserOnHeaders;
    p[kOnHeadersComplete] = parserOnHeadersComplete;
    p[kOnBody] = parserOnBody;
    p[kOnMessageComplete] = parserOnMessageComplete;
    p[kOnExecute] = parserOnExecute;
    this.parser = p;
    (socket as ConnSocket)[kConn] = this;
    socket.on('error', noop);
    socket.on('close', socketOnClose);
    socket.on('drain', socketOnDrain);
    const pol = conn.chain.policies;
    this.idleTimeoutMs = pol !== undefined && pol.idleTimeoutMs !== DEFAULT_LISTENER_POLICIES.idleTimeoutMs ? pol.idleTimeoutMs : codec.idleTimeoutMs;
    if (pol !== undefined && pol.maxConnectionDurationMs > 0) {
      this.#durationTimer = setTimeout(durationElapsed, pol.maxConnectionDurationMs, this);
      this.#durationTimer.unref();
    }
  }

  /** Envoy's max_connection_duration: drain — an idle connection closes now, a busy one after its response. */
  onDurationElapsed(): void {
    this.#durationTimer = null;
    this.durationElapsed = true;
    if (this.idle) this.socket.end();
  }

  start(): void {
    const socket = this.socket;
    // Bytes already read by the listener (protocol detection, TLS) come first.
    let first: Buffer | null = null;
    if (socket.readableLength > 0) first = socket.read() as Buffer | null;
    const handle = (socket as unknown as { _handle: StreamHandle | null })._handle;
    if (handle !== null && handle.isStreamBase === true && handle._consumed !== true) {
      // llhttp reads the handle directly in C++ (as node:http does): no 'data' events.
      handle._consumed = true;
      this.consumed = true;
      this.parser.consume(handle as unknown as object);
      // The readable side must stay flowing so that EOF still reaches 'end'/'close'.
      socket.on('data', socketOnData);
      if (first !== null) this.onExecute(this.parser.execute(first), first);
      if (!this.dead && this.upgradePending === null && !handle.reading) { handle.reading = true; handle.readStart(); }
    } else {
      socket.on('data', socketOnData);
      if (first !== null) this.onData(first);
    }
  }

  // ---------------------------------------------------------------- parser callbacks

  onMessageBegin(): number {
    this.headStart = Date.now();
    return 0;
  }

  onHeaders(headers: string[], url: string): void {
    const r = this.reading;
    if (r !== null) {
      // After headers-complete: chunked trailers.
      if (r.trailers === null) r.trailers = headers; else r.trailers.push(...headers);
      return;
    }
    if (this.partHeaders === null) this.partHeaders = headers;
    else if (this.partHeaders.length <= 2 * MAX_REQUEST_HEADERS) this.partHeaders.push(...headers);
    this.partUrl += url;
  }

  onHeadersComplete(major: number, minor: number, headers: string[] | undefined, method: number, url: string | undefined, _status: number, _msg: string, upgrade: boolean, keepAlive: boolean): number {
    this.headStart = 0;
    let h = headers;
    if (h === undefined) {
      h = this.partHeaders ?? [];
      this.partHeaders = null;
    }
    if (url === undefined) { url = this.partUrl; this.partUrl = ''; }
    const conn = this.conn;
    const s = new HttpStream(conn, this.codec, conn.proxy.snapshot);
    s.method = METHODS[method] ?? 'GET';
    s.path = url;
    s.headers = h;
    s.scheme = conn.tls ? 'https' : 'http';
    s.protocol = major === 1 && minor === 0 ? 'HTTP/1.0' : 'HTTP/1.1';
    let host: string | undefined;
    let cl: string | undefined;
    let te = false;
    let expect: string | undefined;
    for (let i = 0; i < h.length; i += 2) {
      const n = h[i]!;
      switch (n.length) {
        case 4: if (host === undefined && eqLower(n, 'host')) host = h[i + 1]; break;
        case 6: if (eqLower(n, 'expect')) expect = h[i + 1]; break;
        case 14: if (cl === undefined && eqLower(n, 'content-length')) cl = h[i + 1]; break;
        case 17: if (eqLower(n, 'transfer-encoding')) te = true; break;
      }
    }
    s.authority = host ?? '';
    // Absolute-form (`GET http://host:port/path`, what clients send to an explicit proxy): the
    // URI's authority wins over Host, as in node-http1.ts.
    if (url.charCodeAt(0) !== 47 /* / */) absoluteForm(s);
    s.hasBody = (cl !== undefined && cl !== '0') || te;
    const fs = new FastStream(this, s, keepAlive, upgrade);
    s.codecRef = fs;
    if (h.length > 2 * MAX_REQUEST_HEADERS) fs.refuse = 431;
    else if (expect !== undefined && major === 1 && minor === 1) {
      if (expect.toLowerCase().includes('100-continue')) fs.expectContinue = true;
      else fs.refuse = 417;
    }
    this.reading = fs;
    if (upgrade) {
      // As node:http with an 'upgrade' listener: stop parsing here; the rest is the new protocol.
      this.upgradePending = fs;
      return 2;
    }
    if (this.closing) { fs.resDone = true; return 0; } // after Connection: close, further requests are ignored
    if (!keepAlive) this.closing = true;
    this.#enqueue(fs);
    return 0;
  }

  onBody(chunk: Buffer): void {
    const r = this.reading;
    if (r !== null) r.onData(chunk);
  }

  onMessageComplete(): void {
    const r = this.reading;
    if (r === null) return;
    this.reading = null;
    if (r.upgrade) return;
    r.onEnd(r.trailers);
  }

  /** After each parsed read (consumed mode) or chunk: errors and upgrades. */
  onExecute(ret: number | (Error & { code?: string }), chunk?: Buffer): void {
    if (typeof ret !== 'number') { this.#parseError(ret); return; }
    const up = this.upgradePending;
    if (up === null) return;
    this.upgradePending = null;
    this.#detach();
    const data = chunk ?? this.parser.getCurrentBuffer();
    up.upgradeHead = ret < data.length ? data.subarray(ret) : EMPTY;
    this.closing = true;
    this.#enqueue(up);
  }

  onData(chunk: Buffer): void {
    if (this.consumed || this.dead) return;
    this.onExecute(this.parser.execute(chunk), chunk);
  }

  /** Stops reading requests from this connection (upgrade, error, close). */
  #detach(): void {
    if (this.dead) return;
    this.dead = true;
    this.socket.removeListener('data', socketOnData);
    if (this.consumed) {
      this.consumed = false;
      this.parser.unconsume();
      const handle = (this.socket as unknown as { _handle: StreamHandle | null })._handle;
      if (handle !== null) handle._consumed = false;
      // Let the next reader (an upgrade pipe) start the flow.
      (this.socket as unknown as { readableFlowing: boolean | null }).readableFlowing = null;
    }
  }

  #parseError(err: Error & { code?: string }): void {
    this.#detach();
    this.out.discard();
    this.codec.connectionClosed(this);
    onClientError(err as NodeJS.ErrnoException, this.socket);
  }

  // ---------------------------------------------------------------- serving, one at a time

  #enqueue(fs: FastStream): void {
    if (this.active === null && this.queue.length === 0) { this.#dispatch(fs); return; }
    this.queue.push(fs);
    if (this.queue.length >= MAX_QUEUED) this.pause(Pause.Queue);
  }

  #dispatch(fs: FastStream): void {
    this.active = fs;
    const s = fs.s;
    if (fs.refuse !== 0) {
      sendLocalReply(s, fs.refuse, '', 0, fs.refuse === 431 ? 'too_many_headers' : 'expectation_failed');
      return;
    }
    if (fs.upgrade && s.method === 'CONNECT') {
      // A tunnel (explicit proxy): the socket goes to the CONNECT handler, as with node:http.
      fs.taken = true;
      this.out.flush();
      this.codec.connectionClosed(this);
      this.active = null;
      dispatchConnect(this.conn, { url: s.path, method: s.method, headers: {}, rawHeaders: s.headers } as unknown as IncomingMessage, this.socket, fs.upgradeHead ?? EMPTY);
      return;
    }
    if (fs.upgrade) {
      s.upgrade = (getHeader(s.headers, 'upgrade') ?? '').toLowerCase();
      if (s.upgrade !== 'websocket') {
        // Istio enables only the websocket upgrade on its routes.
        sendLocalReply(s, 403, 'upgrade not allowed', 0, 'upgrade_failed');
        return;
      }
    } else if (fs.expectContinue) {
      this.out.push(CONTINUE);
    }
    onRequestHeaders(s, this.conn.proxy.snapshot);
  }

  dispatchNext(): void {
    this.#dispatchScheduled = false;
    if (this.active !== null || this.queue.length === 0 || this.socket.destroyed) return;
    const next = this.queue.shift()!;
    if (this.queue.length < MAX_QUEUED / 2) this.resume(Pause.Queue);
    this.#dispatch(next);
  }

  /** The active stream's response is complete on the wire. */
  responseDone(fs: FastStream): void {
    fs.resDone = true;
    if (this.active === fs) this.active = null;
    if (fs.closeAfter || this.codec.draining || this.durationElapsed) {
      this.closing = true;
      this.out.flush();
      this.socket.end();
      return;
    }
    if (!fs.reqDone) {
      // Respond-before-body (404 to an upload): the rest of the body is read and dropped.
      fs.sink = null;
      fs.early = null;
      this.resume(Pause.Body);
    }
    this.idleSince = Date.now();
    if (this.queue.length > 0 && !this.#dispatchScheduled) {
      // Not from inside this response's call stack: pipelined local replies would recurse.
      this.#dispatchScheduled = true;
      queueMicrotask(() => this.dispatchNext());
    }
  }

  pause(reason: number): void {
    const was = this.paused;
    this.paused |= reason;
    if (was !== 0) return;
    if (this.consumed) {
      const handle = (this.socket as unknown as { _handle: StreamHandle | null })._handle;
      if (handle !== null && handle.reading) { handle.reading = false; handle.readStop(); }
    } else this.socket.pause();
  }

  resume(reason: number): void {
    if ((this.paused & reason) === 0) return;
    this.paused &= ~reason;
    if (this.paused !== 0 || this.dead) return;
    if (this.consumed) {
      const handle = (this.socket as unknown as { _handle: StreamHandle | null })._handle;
      if (handle !== null && !handle.reading) { handle.reading = true; handle.readStart(); }
    } else this.socket.resume();
  }

  get idle(): boolean {
    return this.active === null && this.queue.length === 0 && this.reading === null && this.headStart === 0;
  }

  onDrain(): void {
    const a = this.active;
    if (a === null) return;
    const d = a.s.onDrain;
    if (d !== null) d();
  }

  onClose(): void {
    this.codec.connectionClosed(this);
    if (this.#durationTimer !== null) { clearTimeout(this.#durationTimer); this.#durationTimer = null; }
    this.dead = true;
    this.out.discard();
    const a = this.active;
    this.active = null;
    this.queue.length = 0;
    if (a !== null && !a.taken) {
      const s = a.s;
      if (!s.completed) {
        s.setFlag(ResponseFlag.DC);
        const abort = s.onAbort;
        if (abort !== null) abort(); else completeStream(s);
      }
    }
    // The parser is released here, never inside its own callbacks.
    releaseParser(this.parser, this.consumed);
    this.consumed = false;
  }

  /** Slowloris: the request head did not arrive in time (node:http's headersTimeout, 408). */
  headersTimedOut(): void {
    this.#detach();
    this.codec.connectionClosed(this);
    onClientError(Object.assign(new Error('request headers timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }), this.socket);
  }
}

const EMPTY = Buffer.alloc(0);

type ConnParser = LlhttpParser & { conn: FastConnection | null };
const kConn = Symbol('sluice.fastConnection');
type ConnSocket = Socket & { [kConn]: FastConnection };

function parserOnMessageBegin(this: ConnParser): number { return this.conn!.onMessageBegin(); }
function parserOnHeaders(this: ConnParser, headers: string[], url: string): void { this.conn!.onHeaders(headers, url); }
function parserOnHeadersComplete(this: ConnParser, major: number, minor: number, headers: string[] | undefined, method: number, url: string | undefined, status: number, msg: string, upgrade: boolean, keepAlive: boolean): number {
  return this.conn!.onHeadersComplete(major, minor, headers, method, url, status, msg, upgrade, keepAlive);
}
function parserOnBody(this: ConnParser, chunk: Buffer): void { this.conn!.onBody(chunk); }
function parserOnMessageComplete(this: ConnParser): void { this.conn!.onMessageComplete(); }
function parserOnExecute(this: ConnParser, ret: number | (Error & { code?: string })): void { this.conn!.onExecute(ret); }
function socketOnData(this: ConnSocket, chunk: Buffer): void { this[kConn].onData(chunk); }
function socketOnDrain(this: ConnSocket): void { this[kConn].onDrain(); }
function socketOnClose(this: ConnSocket): void { this[kConn].onClose(); }
function durationElapsed(c: FastConnection): void { c.onDurationElapsed(); }

// Parsers are reused across connections, as node:http does (its FreeList holds 1000).
const parserPool: ConnParser[] = [];
const PARSER_POOL_MAX = 1000;
function releaseParser(p: ConnParser, consumed: boolean): void {
  if (consumed) p.unconsume();
  p.conn = null;
  p.remove();
  p[kOnMessageBegin] = null;
  p[kOnHeaders] = null;
  p[kOnHeadersComplete] = null;
  p[kOnBody] = null;
  p[kOnMessageComplete] = null;
  p[kOnExecute] = null;
  if (parserPool.length < PARSER_POOL_MAX) { p.free(); parserPool.push(p); } else setImmediate(closeParser, p);
}
function closeParser(p: LlhttpParser): void {
  p.close();
}
function noop(): void {}

/**
 * The fast HTTP/1.1 codec (`--codec fast`). Implements DownstreamCodec so the connection
 * manager, filters and router work unchanged; node-http1.ts stays the reference.
 */
export class FastHttp1Codec implements DownstreamCodec, Http1ServerCodec {
  draining = false;
  readonly #conns = new Set<FastConnection>();
  readonly #o: Http1Options;
  #sweep: NodeJS.Timeout | null = null;

  constructor(o: Http1Options) {
    this.#o = o;
  }

  get idleTimeoutMs(): number {
    return this.#o.idleTimeoutMs;
  }

  serve(socket: Socket, conn: DownstreamConnection): void {
    const c = new FastConnection(this, socket, conn);
    this.#conns.add(c);
    if (this.#sweep === null) { this.#sweep = setInterval(this.#onSweep, SWEEP_MS); this.#sweep.unref(); }
    c.start();
  }

  connectionClosed(c: FastConnection): void {
    this.#conns.delete(c);
    if (this.#conns.size === 0 && this.#sweep !== null) { clearInterval(this.#sweep); this.#sweep = null; }
  }

  /** Headers timeout (408, slowloris) and keep-alive idle timeout, checked once a second. */
  readonly #onSweep = (): void => {
    const now = Date.now();
    const headersTimeout = this.#o.headersTimeoutMs;
    for (const c of this.#conns) {
      if (c.dead) continue;
      if (c.headStart > 0 && c.active === null && headersTimeout > 0 && now - c.headStart > headersTimeout) { c.headersTimedOut(); continue; }
      if (c.idle && c.idleTimeoutMs > 0 && now - c.idleSince > c.idleTimeoutMs) c.socket.destroy();
    }
  };

  /** Draining: every response asks the client to close; idle keep-alive connections close now. */
  drain(): void {
    this.draining = true;
    for (const c of this.#conns) if (c.idle) c.socket.destroy();
  }

  // ---------------------------------------------------------------- DownstreamCodec

  sendHeaders(s: HttpStream, status: number, headers: HeaderList, endStream: boolean): void {
    const fs = s.codecRef as FastStream;
    const c = fs.c;
    let head = statusLine(status);
    let framed = false;
    let connectionHeader = false;
    for (let i = 0; i < headers.length; i += 2) {
      const n = headers[i]!;
      const v = headers[i + 1]!;
      const len = n.length;
      if (len === 14 || len === 17) {
        if (eqLower(n, 'content-length') || eqLower(n, 'transfer-encoding')) framed = true;
      } else if (len === 10 && eqLower(n, 'connection')) {
        connectionHeader = true;
        if (v.length === 5 && v.toLowerCase() === 'close') fs.closeAfter = true;
      }
      head += `${n}: ${v}\r\n`;
    }
    fs.headersSent = true;
    if (fs.upgrade) {
      if (status === 101) { c.out.push(`${head}\r\n`); c.out.flush(); return; }
      fs.closeAfter = true;
      if (!connectionHeader) head += 'connection: close\r\n';
    } else if ((!fs.keepAlive || c.codec.draining || c.durationElapsed || (c.closing && c.queue.length === 0)) && !fs.closeAfter) {
      fs.closeAfter = true;
      if (!connectionHeader) head += 'connection: close\r\n';
    }
    const noBody = s.method === 'HEAD' || status === 204 || status === 304 || status < 200;
    fs.noBody = noBody;
    if (!framed && !noBody) {
      if (endStream) head += 'content-length: 0\r\n';
      else { head += 'transfer-encoding: chunked\r\n'; fs.chunked = true; }
    }
    c.out.push(`${head}\r\n`);
    if (endStream) this.#done(fs);
  }

  sendData(s: HttpStream, chunk: Buffer): boolean {
    const fs = s.codecRef as FastStream;
    if (fs.noBody || chunk.length === 0 || fs.resDone) return true;
    const out = fs.c.out;
    if (fs.chunked) {
      out.push(`${chunk.length.toString(16)}\r\n`);
      out.push(chunk);
      out.push(CRLF);
    } else out.push(chunk);
    return out.writable();
  }

  sendDataLent(s: HttpStream, chunk: Buffer): number {
    const fs = s.codecRef as FastStream;
    if (fs.noBody || chunk.length === 0 || fs.resDone) return 0;
    const out = fs.c.out;
    if (!out.canLend()) return -1;
    const mark = out.pendingWrites;
    if (fs.chunked) {
      out.push(`${chunk.length.toString(16)}\r\n`);
      out.push(chunk);
      out.push(CRLF);
    } else out.push(chunk);
    // Written now, while the chunk is valid (with the head pushed before it: still one write).
    out.flush();
    return (out.pendingWrites !== mark ? 1 : 0) | (out.writable() ? 0 : 2);
  }

  sendEnd(s: HttpStream, trailers: HeaderList | null): void {
    const fs = s.codecRef as FastStream;
    if (fs.resDone) return;
    if (fs.chunked) {
      if (trailers !== null && trailers.length > 0) {
        let t = '0\r\n';
        for (let i = 0; i < trailers.length; i += 2) t += `${trailers[i]}: ${trailers[i + 1]}\r\n`;
        fs.c.out.push(`${t}\r\n`);
      } else fs.c.out.push(LAST_CHUNK);
    }
    this.#done(fs);
  }

  #done(fs: FastStream): void {
    if (fs.upgrade && fs.taken) return;
    fs.c.responseDone(fs);
  }

  reset(s: HttpStream): void {
    const fs = s.codecRef as FastStream;
    fs.c.out.discard();
    fs.c.socket.destroy();
  }

  startBody(s: HttpStream, sink: BodySink): void {
    const fs = s.codecRef as FastStream;
    if (fs.upgrade) { sink.onEnd(null); return; }
    fs.sink = sink;
    const early = fs.early;
    if (early !== null) {
      fs.early = null;
      fs.earlyBytes = 0;
      for (let i = 0; i < early.length; i++) sink.onData(early[i]!);
      fs.c.resume(Pause.Body);
    }
    if (fs.reqDone) sink.onEnd(fs.trailers);
  }

  pauseBody(s: HttpStream): void {
    const fs = s.codecRef as FastStream;
    if (!fs.reqDone) fs.c.pause(Pause.Body);
  }

  resumeBody(s: HttpStream): void {
    (s.codecRef as FastStream).c.resume(Pause.Body);
  }

  takeSocket(s: HttpStream): { socket: Duplex; head: Buffer } | null {
    const fs = s.codecRef as FastStream;
    if (!fs.upgrade || fs.taken) return null;
    fs.taken = true;
    const c = fs.c;
    c.out.flush();
    this.connectionClosed(c);
    c.active = null;
    return { socket: c.socket, head: fs.upgradeHead ?? EMPTY };
  }
}
