import { connect as h2connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import type { Socket } from 'node:net';
import type { HeaderList } from '../http/headers.js';
import type { UpstreamExchange, UpstreamResetReason } from './http1-connection.js';
import type { Connector, PoolLimits } from './http1-pool.js';
import { ConnectionSlots, overflowPending, PendingSlots } from './pool-slots.js';

/** The router's side of an HTTP/2 pool wait (same shape as the HTTP/1.1 PoolWaiter). */
export interface Http2PoolWaiter {
  onPoolReady(stream: Http2Stream): void;
  onPoolFailure(reason: UpstreamResetReason, detail: string): void;
}

// Flow-control windows: node's 64 KiB defaults throttle large bodies; Envoy uses 256 MiB
// windows. 1 MiB per stream / 16 MiB per connection keeps memory bounded per connection.
const STREAM_WINDOW = 1 << 20;
const SESSION_WINDOW = 16 << 20;

let nextSessionId = 1;

/** One HTTP/2 connection to an endpoint and its stream accounting. */
class PoolSession {
  readonly id = nextSessionId++;
  readonly session: ClientHttp2Session;
  readonly localAddress: string;
  active = 0;
  served = 0;
  /** The peer's SETTINGS_MAX_CONCURRENT_STREAMS, combined with ours. */
  maxStreams: number;
  draining = false;
  closed = false;
  idleTimer: NodeJS.Timeout | null = null;
  lastError = '';

  constructor(session: ClientHttp2Session, socket: Socket, maxStreams: number) {
    this.session = session;
    this.localAddress = `${socket.localAddress ?? ''}:${socket.localPort ?? 0}`;
    this.maxStreams = maxStreams;
  }

  get capacity(): number {
    return this.draining || this.closed ? 0 : this.maxStreams - this.active;
  }
}

/**
 * HTTP/2 connections to one endpoint (Envoy's HTTP/2 connection pool): requests become streams
 * on an existing connection while it has stream capacity (`maxConcurrentStreams`, the peer's
 * SETTINGS); another connection opens while the cluster's `maxConnections` allows, else requests
 * wait as pending (`http1MaxPendingRequests`, overflow → 503 UO). GOAWAY drains a connection:
 * its streams finish, new ones go elsewhere. Connections idle for `idleTimeout` close; `maxRequestsPerConnection` and
 * `maxConnectionDuration` retire them.
 */
export class Http2Pool {
  readonly #limits: PoolLimits;
  readonly #connect: Connector;
  readonly #authority: string;
  readonly #sessions: PoolSession[] = [];
  readonly #pending: Http2PoolWaiter[] = [];
  #connecting = 0;
  readonly #pendingSlots: PendingSlots<Http2PoolWaiter>;
  readonly #connectionSlots: ConnectionSlots;
  #closed = false;
  #lastError = '';

  constructor(limits: PoolLimits, connect: Connector, authority: string) {
    this.#limits = limits;
    this.#connect = connect;
    this.#authority = authority;
    this.#pendingSlots = new PendingSlots(limits.resources.pending);
    this.#connectionSlots = new ConnectionSlots(limits);
  }

  get activeConnections(): number {
    return this.#sessions.length + this.#connecting;
  }

  acquire(w: Http2PoolWaiter): void {
    const s = this.#available();
    if (s !== null) { this.#handOut(s, w); return; }
    this.#pendingSlots.take(w, this.#enqueue, overflowPending);
  }

  /** `w` holds a pending slot: it waits for stream capacity (some may have come free meanwhile). */
  readonly #enqueue = (w: Http2PoolWaiter): void => {
    const s = this.#available();
    if (s !== null) { this.#pendingSlots.release(); this.#handOut(s, w); return; }
    if (this.#closed) { this.#pendingSlots.release(); w.onPoolFailure('connection termination', 'cluster removed'); return; }
    this.#pending.push(w);
    this.#maybeOpen();
  };

  cancel(w: Http2PoolWaiter): void {
    if (this.#pendingSlots.cancel(w)) return;
    const i = this.#pending.indexOf(w);
    if (i >= 0) { this.#pending.splice(i, 1); this.#pendingSlots.release(); }
  }

  /** The router finished before using a stream it was handed: give the slot back. */
  onConnectionIdle(stream: Http2Stream): void {
    stream.release();
  }

  #available(): PoolSession | null {
    let best: PoolSession | null = null;
    for (const s of this.#sessions) if (s.capacity > 0 && (best === null || s.active < best.active)) best = s;
    return best;
  }

  #handOut(s: PoolSession, w: Http2PoolWaiter): void {
    s.active++;
    s.served++;
    if (s.idleTimer !== null) { clearTimeout(s.idleTimer); s.idleTimer = null; }
    const max = this.#limits.maxRequestsPerConnection;
    if (max > 0 && s.served >= max) s.draining = true;
    w.onPoolReady(new Http2Stream(this, s, this.#authority));
  }

  /** A stream ended (or was never used): its slot serves a waiting request or the connection idles. */
  streamDone(s: PoolSession): void {
    s.active--;
    this.#drainPending();
    if (s.active === 0) {
      if (s.draining || this.#closed) { this.#retire(s); return; }
      const idle = this.#limits.idleTimeoutMs;
      if (idle > 0 && s.idleTimer === null) {
        s.idleTimer = setTimeout(() => { s.idleTimer = null; if (s.active === 0) this.#retire(s); }, idle);
        s.idleTimer.unref();
      }
    }
  }

  #drainPending(): void {
    while (this.#pending.length > 0) {
      const s = this.#available();
      if (s === null) break;
      this.#handOut(s, this.#dequeue()!);
    }
    this.#maybeOpen();
  }

  #maybeOpen(): void {
    if (this.#closed || this.#pending.length === 0) return;
    // One connection in progress serves many streams: open another only when it cannot cover the queue.
    const slots = this.#connectionSlots;
    const coming = this.#connecting + slots.leasing;
    if (coming > 0 && this.#pending.length <= coming * this.#limits.maxConcurrentStreams) return;
    slots.take(this.#sessions.length + this.#connecting === 0, this.#stillWanted, this.#open);
  }

  readonly #stillWanted = (): boolean => !this.#closed && this.#pending.length > 0;

  /** Opens a connection; its slot of `maxConnections` is taken already. */
  readonly #open = (): void => {
    const lim = this.#limits;
    this.#connecting++;
    let settled = false;
    const onFail = (reason: string): void => {
      this.#connecting--;
      this.#connectionSlots.release();
      this.#lastError = reason;
      // Envoy fails the waiting requests of a connection that could not be made.
      for (let w = this.#dequeue(); w !== undefined; w = this.#dequeue()) w.onPoolFailure('connection failure', reason);
    };
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      cancel();
      onFail(`connect timeout after ${lim.connectTimeoutMs} ms`);
    }, lim.connectTimeoutMs);
    const cancel = this.#connect(
      (socket) => {
        if (settled) { socket.destroy(); return; }
        settled = true;
        clearTimeout(timer);
        this.#connecting--;
        if (this.#closed) { this.#connectionSlots.release(); socket.destroy(); return; }
        this.#adopt(socket);
      },
      (reason) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        onFail(reason);
      },
    );
  };

  #adopt(socket: Socket): void {
    const session = h2connect(`${'encrypted' in socket ? 'https' : 'http'}://${this.#authority}`, {
      createConnection: () => socket,
      settings: { enablePush: false, initialWindowSize: STREAM_WINDOW },
      maxSessionMemory: 64,
    });
    const s = new PoolSession(session, socket, this.#limits.maxConcurrentStreams);
    this.#sessions.push(s);
    session.on('error', (e: Error) => { s.lastError = `${(e as NodeJS.ErrnoException).code ?? 'error'}: ${e.message}`; });
    session.once('connect', () => { try { session.setLocalWindowSize(SESSION_WINDOW); } catch { /* closed meanwhile */ } });
    session.on('remoteSettings', (settings) => {
      const peer = settings.maxConcurrentStreams;
      s.maxStreams = Math.min(this.#limits.maxConcurrentStreams, peer === undefined ? Infinity : peer);
      this.#drainPending();
    });
    session.on('goaway', () => { s.draining = true; if (s.active === 0) this.#retire(s); else this.#maybeOpen(); });
    session.once('close', () => {
      s.closed = true;
      if (s.idleTimer !== null) clearTimeout(s.idleTimer);
      const i = this.#sessions.indexOf(s);
      if (i >= 0) { this.#sessions.splice(i, 1); this.#connectionSlots.release(); }
      if (s.lastError !== '') this.#lastError = s.lastError;
      this.#maybeOpen();
    });
    const dur = this.#limits.maxConnectionDurationMs;
    if (dur > 0) setTimeout(() => { s.draining = true; if (s.active === 0) this.#retire(s); }, dur).unref();
    this.#drainPending();
  }

  #retire(s: PoolSession): void {
    if (s.closed) return;
    s.draining = true;
    if (s.session.destroyed || s.session.closed) return;
    try { s.session.close(); } catch { s.session.destroy(); }
  }

  #dequeue(): Http2PoolWaiter | undefined {
    const w = this.#pending.shift();
    if (w !== undefined) this.#pendingSlots.release();
    return w;
  }

  /** Last connection-level error, for reset details. */
  get lastError(): string {
    return this.#lastError;
  }

  /** Stops reuse: idle connections close now, busy ones once their streams end. */
  close(): void {
    this.#closed = true;
    for (const s of [...this.#sessions]) if (s.active === 0) this.#retire(s); else s.draining = true;
    for (let w = this.#dequeue(); w !== undefined; w = this.#dequeue()) w.onPoolFailure('connection termination', 'cluster removed');
  }
}

// Request headers that are connection-specific in HTTP/2 (RFC 9113 §8.2.2) or written by us.
const H2_DROP = new Set(['host', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'http2-settings', 'expect']);

/**
 * Builds HTTP/2 request headers from the router's view of the request. Names are lower-cased;
 * repeated names become arrays (node:http2 sends one field per value); `te` survives only as
 * `trailers` (gRPC needs it).
 */
export function h2RequestHeaders(method: string, path: string, authority: string, scheme: string, h: HeaderList, extra: HeaderList): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ':method': method, ':path': path, ':authority': authority, ':scheme': scheme };
  const add = (n: string, v: string): void => {
    const prev = out[n];
    out[n] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [String(prev), v];
  };
  for (let i = 0; i < h.length; i += 2) {
    const n = h[i]!.toLowerCase();
    if (H2_DROP.has(n)) {
      if (n === 'te' && h[i + 1]!.toLowerCase().includes('trailers')) out.te = 'trailers';
      continue;
    }
    if (n.charCodeAt(0) === 58 /* : */) continue;
    add(n, h[i + 1]!);
  }
  for (let i = 0; i < extra.length; i += 2) add(extra[i]!, extra[i + 1]!);
  return out;
}

function rawToList(raw: string[] | undefined, fallback: IncomingHttpHeaders): HeaderList {
  const out: HeaderList = [];
  if (raw !== undefined) {
    for (let i = 0; i < raw.length; i += 2) if (raw[i]!.charCodeAt(0) !== 58) out.push(raw[i]!, raw[i + 1]!);
    return out;
  }
  for (const [k, v] of Object.entries(fallback)) {
    if (k.charCodeAt(0) === 58 || v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) out.push(k, x);
    else out.push(k, String(v));
  }
  return out;
}

const enum StreamState {
  Ready = 0,
  Open = 1,
  Done = 2,
}

/**
 * One request on a pooled HTTP/2 connection: what the router holds where it would hold an
 * Http1Connection (dispatch, body writes with backpressure, response pause/resume, reset).
 */
export class Http2Stream {
  readonly localAddress: string;
  readonly #pool: Http2Pool;
  readonly #session: PoolSession;
  #stream: ClientHttp2Stream | null = null;
  #ex: UpstreamExchange | null = null;
  #state = StreamState.Ready;
  #trailers: HeaderList | null = null;
  #responded = false;
  #ended = false;

  constructor(pool: Http2Pool, session: PoolSession, _authority: string) {
    this.#pool = pool;
    this.#session = session;
    this.localAddress = session.localAddress;
  }

  /** Opens the stream: headers, then the body when it is all in hand. */
  dispatchHeaders(ex: UpstreamExchange, headers: OutgoingHttpHeaders, body: Buffer | null, requestDone: boolean): void {
    this.#ex = ex;
    this.#state = StreamState.Open;
    let st: ClientHttp2Stream;
    try {
      st = this.#session.session.request(headers, { endStream: requestDone && (body === null || body.length === 0) });
    } catch (e) {
      // Session already closing (GOAWAY raced us): a refused stream, safe to retry.
      this.#finish();
      ex.onUpstreamReset('remote reset', `refused stream: ${(e as Error).message}`);
      return;
    }
    this.#stream = st;
    st.on('response', this.#onResponse);
    st.on('data', this.#onData);
    st.on('trailers', this.#onTrailers);
    st.on('end', this.#onEnd);
    st.on('close', this.#onClose);
    st.on('drain', this.#onDrain);
    st.on('error', () => {});
    if (body !== null && body.length > 0) {
      st.write(body);
      if (requestDone) st.end();
    }
  }

  writeBody(chunk: Buffer): boolean {
    const st = this.#stream;
    if (st === null || this.#state !== StreamState.Open || st.writableEnded) return true;
    return st.write(chunk);
  }

  /** Ends the request body. HTTP/2 has no chunk framing; request trailers are not forwarded. */
  endRequest(_tail: Buffer | null): void {
    const st = this.#stream;
    if (st !== null && this.#state === StreamState.Open && !st.writableEnded) st.end();
  }

  pauseResponse(): void {
    this.#stream?.pause();
  }

  resumeResponse(): void {
    this.#stream?.resume();
  }

  /** Abandons the exchange: RST_STREAM(CANCEL); the connection keeps serving others. */
  reset(): void {
    this.#ex = null;
    const st = this.#stream;
    if (st !== null && !st.closed) st.close(constants.NGHTTP2_CANCEL);
    this.#finish();
  }

  /** The router never used this stream. */
  release(): void {
    this.#ex = null;
    this.#finish();
  }

  #finish(): void {
    if (this.#state === StreamState.Done) return;
    this.#state = StreamState.Done;
    this.#pool.streamDone(this.#session);
  }

  readonly #onResponse = (headers: IncomingHttpHeaders, flags: number, raw?: string[]): void => {
    this.#responded = true;
    const status = Number(headers[':status'] ?? 0);
    this.#ex?.onResponseHeaders(status, rawToList(raw, headers), false, (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0);
  };

  readonly #onData = (chunk: Buffer): void => {
    this.#ex?.onResponseData(chunk);
  };

  readonly #onTrailers = (headers: IncomingHttpHeaders, _flags: number, raw?: string[]): void => {
    this.#trailers = rawToList(raw, headers);
  };

  readonly #onEnd = (): void => {
    this.#ended = true;
    const ex = this.#ex;
    this.#ex = null;
    // Response complete: a request body still streaming is no longer wanted (Envoy resets it).
    const st = this.#stream;
    if (st !== null && !st.writableEnded) st.close(constants.NGHTTP2_NO_ERROR);
    this.#finish();
    ex?.onResponseComplete(this.#trailers);
  };

  readonly #onDrain = (): void => {
    this.#ex?.onRequestDrain();
  };

  readonly #onClose = (): void => {
    const ex = this.#ex;
    this.#ex = null;
    this.#finish();
    if (ex === null || this.#ended) return;
    const code = this.#stream?.rstCode ?? 0;
    const sessionError = this.#session.lastError;
    if (code === constants.NGHTTP2_REFUSED_STREAM) ex.onUpstreamReset('remote reset', 'refused stream');
    else if (this.#session.closed || sessionError !== '') ex.onUpstreamReset('connection termination', sessionError !== '' ? sessionError : 'upstream closed the connection');
    else ex.onUpstreamReset(this.#responded ? 'remote reset' : 'remote reset', `stream reset by upstream (code ${code})`);
  };
}
