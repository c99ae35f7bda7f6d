import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { HeaderList } from '../http/headers.js';
import { HTTPParser, kOnBody, kOnHeaders, kOnHeadersComplete, kOnMessageComplete, type LlhttpParser } from './llhttp.js';

export type UpstreamResetReason = 'connection failure' | 'connection termination' | 'remote reset' | 'local reset' | 'overflow' | 'protocol error';

/** The router's side of one upstream attempt. One exchange at a time per connection. */
export interface UpstreamExchange {
  /** HEAD (and similar): the response carries no body whatever its framing says. */
  readonly noResponseBody: boolean;
  /** `endStream`: the response has no body (an HTTP/2 HEADERS frame with END_STREAM, e.g. gRPC trailers-only). */
  onResponseHeaders(status: number, headers: HeaderList, upgrade: boolean, endStream?: boolean): void;
  onResponseData(chunk: Buffer): void;
  /**
   * A body chunk lent from the shared read buffer: valid only during this call. The consumer
   * either writes it out before returning or reports that a write still refers to it
   * (LENT_PINNED: the buffer is then never read into again) or did not take it (LENT_DECLINED:
   * it gets a copy through onResponseData). Optional: without it every chunk is a copy.
   */
  onResponseDataLent?(chunk: Buffer): number;
  onResponseComplete(trailers: HeaderList | null): void;
  onUpstreamReset(reason: UpstreamResetReason, detail: string): void;
  onUpgrade(socket: Duplex, head: Buffer): void;
  /** The request body may flow again (the upstream socket drained). */
  onRequestDrain(): void;
}

export interface ConnectionOwner {
  onConnectionIdle(c: Http1Connection): void;
  onConnectionClosed(c: Http1Connection): void;
}

// Plain-TCP upstream connections read into one shared buffer (net's `onread` option) instead of
// a fresh 64 KiB allocation per read that Node then copies into a zero-filled one of the read's
// size, and without the Readable stream ('data' events) in between. A read is handled within
// the callback; what outlives it — Content-Length body slices forwarded downstream, an upgrade's
// first bytes — is copied: body slices up to KEEP_SLAB_MAX into a bump-allocated slab (see
// keepSlice), larger ones and upgrade heads into their own allocation. After an upgrade the
// socket's reads are re-emitted as 'data' for the tunnel.
const READ_SIZE = 64 * 1024;

// Lending: a Content-Length body chunk is handed downstream as a slice of the read buffer
// itself when the downstream takes it without keeping it (the fast codec on plain TCP writes it
// straight through the socket's handle; onResponseDataLent). If that write does not complete at
// once, libuv still points into the buffer: the buffer is retired — every upstream socket is
// rebound to a fresh one (handle.useUserBuffer) before any further read, and the old one lives
// as long as the pending write refers to it. Rebinding stacks one small listener per socket in
// Node, so a socket is rebound at most MAX_REBINDS times; after that it reads into COPY_BUFFER,
// which is never lent (its body chunks are always copied). A downstream connection whose write
// was ever pending is not lent to again (its WriteBatch), so one slow client costs one retirement.
let lendBuffer = Buffer.allocUnsafeSlow(READ_SIZE);
const COPY_BUFFER = Buffer.allocUnsafeSlow(READ_SIZE);
const MAX_REBINDS = 4;
/**
 * Smaller chunks are copied (keepSlice): with its head they fit the write batch's coalescing
 * (one copy into one buffer, fast-http1-write.ts COALESCE_MAX) anyway, and a copy of a few
 * bytes costs less than the lending checks.
 */
const LEND_MIN = 4 * 1024;
/** onResponseDataLent's results: written out (or dropped), still referenced by a pending write, not taken. */
export const LENT_DONE = 0;
export const LENT_PINNED = 1;
export const LENT_DECLINED = 2;

// Body slices kept past a read are copied into the free tail of a slab and handed on as views of
// it: one 128 KiB allocation per ~8 × 16 KiB bodies instead of an ArrayBuffer (backing store,
// external-memory accounting, GC tracking) per chunk. A slab is never written twice: when its
// tail is too short a new one is allocated, and the old one lives until the last view of it is
// collected — whoever holds a view (a pending socket write, a buffering filter) keeps valid bytes.
// Chunks above KEEP_SLAB_MAX (large bodies, slow readers) get their own allocation so that one
// pinned chunk never holds a whole slab.
const KEEP_SLAB_SIZE = 128 * 1024;
const KEEP_SLAB_MAX = 32 * 1024;
let keepSlab = Buffer.allocUnsafeSlow(KEEP_SLAB_SIZE);
let keepOff = 0;
function keepSlice(b: Buffer): Buffer {
  const n = b.length;
  if (n > KEEP_SLAB_MAX) return Buffer.from(b);
  if (keepOff + n > KEEP_SLAB_SIZE) { keepSlab = Buffer.allocUnsafeSlow(KEEP_SLAB_SIZE); keepOff = 0; }
  const off = keepOff;
  keepSlab.set(b, off);
  keepOff = (off + n + 7) & ~7;
  return keepSlab.subarray(off, off + n);
}

const kConn = Symbol('sluice.http1Connection');
const kEarly = Symbol('sluice.http1EarlyBytes');
/** The buffer the socket's next read lands in (net's own record of it is not updated by a rebind). */
const kBound = Symbol('sluice.readBuffer');
const kRebinds = Symbol('sluice.readRebinds');
interface UserBufferHandle { useUserBuffer(b: Buffer): void }
type SharedReadSocket = Socket & { [kConn]?: Http1Connection; [kEarly]?: Buffer[]; [kBound]?: Buffer; [kRebinds]?: number; _handle: UserBufferHandle | null };
/** Connected plain-TCP upstream sockets reading into lendBuffer or COPY_BUFFER. */
const sharedSockets = new Set<SharedReadSocket>();

function onSharedRead(this: SharedReadSocket, nread: number, buf: Buffer): boolean {
  const c = this[kConn];
  const b = (this[kBound] ?? buf).subarray(0, nread);
  if (c === undefined) (this[kEarly] ??= []).push(Buffer.from(b));
  else c.onSharedRead(b);
  return true;
}

function rebind(s: SharedReadSocket): void {
  const h = s._handle;
  if (h === null || s.destroyed) { sharedSockets.delete(s); return; }
  const n = (s[kRebinds] ?? 0) + 1;
  s[kRebinds] = n;
  const b = n > MAX_REBINDS ? COPY_BUFFER : lendBuffer;
  h.useUserBuffer(b);
  s[kBound] = b;
}

/** A pending write refers to lendBuffer: no socket may read into it again. */
function retireLendBuffer(): void {
  const old = lendBuffer;
  lendBuffer = Buffer.allocUnsafeSlow(READ_SIZE);
  for (const s of sharedSockets) if (s[kBound] === old) rebind(s);
}

/** An upgraded socket (a tunnel now, its reads copied): onto COPY_BUFFER, out of retirement's way. */
function detachShared(s: SharedReadSocket): void {
  sharedSockets.delete(s);
  const h = s._handle;
  if (h !== null && s[kBound] !== COPY_BUFFER) { h.useUserBuffer(COPY_BUFFER); s[kBound] = COPY_BUFFER; }
}

function onSharedClose(this: SharedReadSocket): void {
  sharedSockets.delete(this);
}

/** net.connect's `onread` for an HTTP/1.1 upstream connection on plain TCP (the socket then has no 'data' events). */
export const SHARED_READ = Object.freeze({
  /** Read by net.Socket's constructor: new sockets start on the current lend buffer. */
  get buffer(): Buffer { return lendBuffer; },
  callback: onSharedRead,
});
const kSharedRead = Symbol('sluice.sharedRead');
/** Marks a socket created with SHARED_READ (call right after net.connect). */
export function markSharedRead(sock: Socket): void {
  const s = sock as SharedReadSocket;
  (s as unknown as Record<symbol, boolean>)[kSharedRead] = true;
  s.on('close', onSharedClose);
  // net.connect to an IP address creates the handle (bound to lendBuffer) at once; otherwise
  // bind it when connected — no read can come before that.
  if (s._handle !== null && s[kBound] === undefined) {
    s[kBound] = lendBuffer;
    sharedSockets.add(s);
  } else {
    s.once('connect', () => { s[kRebinds] = -1; rebind(s); if (!s.destroyed) sharedSockets.add(s); });
  }
}

const enum State {
  Idle = 0,
  Busy = 1,
  Closed = 2,
}

/**
 * One keep-alive HTTP/1.1 connection to an endpoint, parsed with llhttp. The parser
 * callbacks are bound once per connection; per request only the exchange changes.
 */
export class Http1Connection {
  readonly socket: Socket;
  readonly id: number;
  readonly localAddress: string;
  requestsServed = 0;
  lastUsed = 0;
  #owner: ConnectionOwner;
  #parser: LlhttpParser;
  #state: State = State.Idle;
  #exchange: UpstreamExchange | null = null;
  #requestDone = false;
  #responseDone = false;
  #keepAlive = true;
  #headersReceived = false;
  #pendingHeaders: string[] = [];
  #trailers: string[] | null = null;
  #upgraded = false;
  #paused = false;
  /** Bytes of a Content-Length body still to come, forwarded as slices of the socket's reads. */
  #bodyLeft = 0;
  /** Reads land in the shared lend/copy buffer (SHARED_READ): body chunks are lent or copied (keepSlice). */
  readonly #shared: boolean;

  constructor(id: number, socket: Socket, owner: ConnectionOwner) {
    this.id = id;
    this.socket = socket;
    this.#owner = owner;
    this.localAddress = `${socket.localAddress ?? ''}:${socket.localPort ?? 0}`;
    const parser = new HTTPParser();
    parser.initialize(HTTPParser.RESPONSE, {}, 0, 0);
    parser[kOnHeaders] = (headers: string[]): void => {
      // After the head: chunked trailers. Before it: a batch of a head with > 32 headers.
      if (this.#headersReceived) { if (this.#trailers === null) this.#trailers = headers; else this.#trailers.push(...headers); }
      else this.#pendingHeaders.push(...headers);
    };
    parser[kOnHeadersComplete] = this.#onHeadersComplete.bind(this);
    parser[kOnBody] = (b: Buffer): void => { this.#exchange?.onResponseData(b); };
    parser[kOnMessageComplete] = this.#onMessageComplete.bind(this);
    this.#parser = parser;
    socket.setNoDelay(true);
    this.#shared = (socket as unknown as Record<symbol, boolean>)[kSharedRead] === true;
    if (!this.#shared) socket.on('data', this.#onData.bind(this));
    socket.on('close', this.#onClose.bind(this));
    socket.on('error', this.#onError.bind(this));
    socket.on('drain', () => { this.#exchange?.onRequestDrain(); });
    if (this.#shared) {
      const early = (socket as SharedReadSocket)[kEarly];
      (socket as SharedReadSocket)[kConn] = this;
      if (early !== undefined) {
        delete (socket as SharedReadSocket)[kEarly];
        for (const b of early) this.onSharedRead(b);
      }
    }
  }

  /** A read in the shared read buffer (valid only during this call). */
  onSharedRead(chunk: Buffer): void {
    if (this.#upgraded) { this.socket.emit('data', Buffer.from(chunk)); return; }
    this.#onData(chunk);
  }

  get busy(): boolean {
    return this.#state === State.Busy;
  }

  get closed(): boolean {
    return this.#state === State.Closed;
  }

  /**
   * Starts an exchange: writes the request head — one latin1 string, written straight from
   * the string without a Buffer copy — and the body when it is all in hand.
   */
  dispatch(ex: UpstreamExchange, head: string | Buffer, body: Buffer | null, requestDone: boolean): void {
    this.#state = State.Busy;
    this.#exchange = ex;
    this.#requestDone = requestDone;
    this.#responseDone = false;
    this.#headersReceived = false;
    this.#trailers = null;
    this.#keepAlive = true;
    this.requestsServed++;
    if (body !== null && body.length > 0) {
      this.socket.cork();
      if (typeof head === 'string') this.socket.write(head, 'latin1'); else this.socket.write(head);
      this.socket.write(body);
      this.socket.uncork();
    } else if (typeof head === 'string') {
      this.socket.write(head, 'latin1');
    } else {
      this.socket.write(head);
    }
  }

  /** Writes a request body chunk; false = wait for onRequestDrain. */
  writeBody(chunk: Buffer): boolean {
    if (this.#state !== State.Busy) return true;
    return this.socket.write(chunk);
  }

  endRequest(tail: Buffer | null): void {
    if (this.#state !== State.Busy) return;
    if (tail !== null) this.socket.write(tail);
    this.#requestDone = true;
    if (this.#responseDone) this.#finish();
  }

  pauseResponse(): void {
    if (!this.#paused) { this.#paused = true; this.socket.pause(); }
  }

  resumeResponse(): void {
    if (this.#paused) { this.#paused = false; this.socket.resume(); }
  }

  /** Abandons the current exchange: the connection cannot be reused. */
  reset(): void {
    this.#exchange = null;
    this.destroy();
  }

  destroy(): void {
    if (this.#state === State.Closed) return;
    this.#state = State.Closed;
    this.socket.destroy();
  }

  #onData(chunk: Buffer): void {
    let off = 0;
    for (;;) {
      if (this.#bodyLeft > 0) {
        // Content-Length body: forwarded as slices of this read, no copy, no parser call.
        const n = Math.min(this.#bodyLeft, chunk.length - off);
        const slice = off === 0 && n === chunk.length ? chunk : chunk.subarray(off, off + n);
        this.#bodyLeft -= n;
        off += n;
        const ex = this.#exchange;
        if (ex !== null) {
          if (!this.#shared) ex.onResponseData(slice);
          else if (n < LEND_MIN || ex.onResponseDataLent === undefined || (this.socket as SharedReadSocket)[kBound] !== lendBuffer) ex.onResponseData(keepSlice(slice));
          else {
            const r = ex.onResponseDataLent(slice);
            if (r === LENT_PINNED) retireLendBuffer();
            else if (r === LENT_DECLINED) ex.onResponseData(keepSlice(slice));
          }
        }
        if (this.#bodyLeft === 0) this.#onMessageComplete();
        if (off >= chunk.length || this.#state === State.Closed) return;
      }
      const rest = off === 0 ? chunk : chunk.subarray(off);
      const ret = this.#parser.execute(rest);
      if (typeof ret !== 'number') {
        const ex = this.#exchange;
        this.#exchange = null;
        this.destroy();
        ex?.onUpstreamReset('protocol error', `${ret.code ?? 'HPE'}: ${ret.reason ?? ret.message}`);
        return;
      }
      if (this.#upgraded) {
        const ex = this.#exchange;
        this.#exchange = null;
        this.#state = State.Closed;
        this.socket.removeAllListeners('data');
        this.socket.removeAllListeners('drain');
        this.socket.removeAllListeners('close');
        this.socket.removeAllListeners('error');
        if (this.#shared) detachShared(this.socket as SharedReadSocket);
        this.#owner.onConnectionClosed(this);
        ex?.onUpgrade(this.socket, this.#shared ? Buffer.from(rest.subarray(ret)) : rest.subarray(ret));
        return;
      }
      if (this.#bodyLeft === 0 || ret >= rest.length) return;
      off += ret;
    }
  }

  #onHeadersComplete(_major: number, _minor: number, headers: string[] | undefined, _method: number, _url: string, status: number, _statusText: string, upgrade: boolean, keepAlive: boolean): number {
    let h = headers;
    if (h === undefined) { h = this.#pendingHeaders; this.#pendingHeaders = []; }
    // 1xx other than 101: informational, not forwarded (Envoy answers 100-continue itself).
    if (status >= 100 && status < 200 && status !== 101) return 0;
    this.#headersReceived = true;
    this.#keepAlive = keepAlive;
    const ex = this.#exchange;
    if (status === 101 || upgrade) {
      this.#upgraded = status === 101;
      ex?.onResponseHeaders(status, h, this.#upgraded);
      return 2; // skip body, treat as upgrade
    }
    ex?.onResponseHeaders(status, h, false);
    if (ex !== null && ex.noResponseBody) return 1;
    if (status === 204 || status === 304) return 1;
    const cl = contentLengthOf(h);
    if (cl > 0) {
      // Stop llhttp after the head (its "upgrade" exit) and take the body bytes ourselves;
      // llhttp has already checked the framing headers (one valid Content-Length, no TE).
      this.#bodyLeft = cl;
      return 2;
    }
    return 0;
  }

  #onMessageComplete(): void {
    if (!this.#headersReceived) return; // end of a 1xx
    if (this.#upgraded) return; // llhttp ends the 101 message; the socket now belongs to the tunnel
    if (this.#bodyLeft > 0) return; // llhttp's end of a head whose body we read ourselves
    this.#responseDone = true;
    const ex = this.#exchange;
    const trailers = this.#trailers;
    this.#trailers = null;
    ex?.onResponseComplete(trailers);
    if (!this.#keepAlive) { this.#exchange = null; this.destroy(); return; }
    if (this.#requestDone) this.#finish();
  }

  #finish(): void {
    this.#exchange = null;
    if (this.#state === State.Closed) return;
    if (!this.#keepAlive) { this.destroy(); return; }
    // The downstream may have pushed back on the last chunk of this response; the next
    // exchange must not inherit a paused socket.
    this.resumeResponse();
    this.#state = State.Idle;
    this.lastUsed = Date.now();
    this.#owner.onConnectionIdle(this);
  }

  #onError(err: Error): void {
    this.#bodyLeft = 0;
    this.#fail(`${(err as NodeJS.ErrnoException).code ?? 'error'}: ${err.message}`);
  }

  #onClose(): void {
    // A response without framing (no content-length, not chunked) ends at close.
    if (this.#exchange !== null && this.#headersReceived && !this.#responseDone) {
      const r = this.#parser.finish();
      if (r === undefined && this.#responseDone) { this.#teardown(); return; }
    }
    this.#fail('upstream closed the connection');
  }

  #fail(detail: string): void {
    const ex = this.#exchange;
    this.#exchange = null;
    this.#state = State.Closed;
    this.socket.destroy();
    if (ex !== null && !this.#responseDone) ex.onUpstreamReset('connection termination', detail);
    this.#teardown();
  }

  #teardownDone = false;
  #teardown(): void {
    if (this.#teardownDone) return;
    this.#teardownDone = true;
    this.#state = State.Closed;
    this.#parser.close?.();
    this.#owner.onConnectionClosed(this);
  }
}

/** Content-Length of a response head (-1 when absent or with Transfer-Encoding). */
function contentLengthOf(h: readonly string[]): number {
  let cl = -1;
  for (let i = 0; i < h.length; i += 2) {
    const n = h[i]!;
    if (n.length === 14 && (n === 'content-length' || n.toLowerCase() === 'content-length')) cl = Number(h[i + 1]);
    else if (n.length === 17 && (n === 'transfer-encoding' || n.toLowerCase() === 'transfer-encoding')) return -1;
  }
  return Number.isSafeInteger(cl) ? cl : -1;
}
