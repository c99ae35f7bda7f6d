import type { Socket } from 'node:net';

// Plain TCP connections are written through their libuv handle directly (as net.Socket's
// Writable does underneath, minus its per-write state machine, WriteWrap callback and
// 'afterWrite' tick): a write that the kernel takes at once needs no callback at all; one
// that does not is tracked here (the parts stay referenced until libuv completes it, the
// socket's 'drain' is emitted when the queue empties). libuv keeps the order of writes, and
// a later `socket.end()` shuts down only after them. TLS sockets, and a socket whose Writable
// holds data, use socket.write.

interface WriteReq {
  handle: RawHandle;
  oncomplete: (this: WriteReq, status: number) => void;
  async: boolean;
  bytes: number;
  buffer: unknown;
  batch: WriteBatch | null;
  parts: unknown;
}
interface RawHandle {
  writeLatin1String(req: WriteReq, s: string): number;
  writeBuffer(req: WriteReq, b: Buffer): number;
  writev(req: WriteReq, chunks: (string | Buffer)[], allBuffers: boolean): number;
  readonly writeQueueSize: number;
}
/** Node's WriteWrap (the request object of a handle write); null if this Node does not expose it: socket.write then. */
const WriteWrap: (new () => WriteReq) | null = (() => {
  try {
    return (process as unknown as { binding(name: string): { WriteWrap?: new () => WriteReq } }).binding('stream_wrap').WriteWrap ?? null;
  } catch {
    return null;
  }
})();

function onDirectWriteComplete(this: WriteReq, status: number): void {
  const b = this.batch;
  this.batch = null;
  this.parts = null;
  if (b !== null) b.directWriteDone(this.handle, status);
}

/** Pending output above this is written at once instead of at the end of the turn. */
const FLUSH_AT = 64 * 1024;
/** Parts up to this total are copied into one buffer (one write); larger ones use writev (copying 16 KiB measured 19% slower). */
const COALESCE_MAX = 4 * 1024;

/** Batches with output this turn: one microtask flushes them all (no closure per connection). */
const pending: WriteBatch[] = [];
let flushScheduled = false;
function flushPending(): void {
  flushScheduled = false;
  // A batch pushed to while this runs is appended and flushed here too.
  for (let i = 0; i < pending.length; i++) pending[i]!.flush();
  pending.length = 0;
}

/**
 * Output of one connection, gathered during one callback and written once after it (a
 * microtask): a small proxied response — status line and headers, body, chunked framing —
 * leaves in one write syscall instead of three. Strings are latin1 (header bytes as received,
 * as node:http writes them); buffers are written as they are (no copy above COALESCE_MAX).
 */
export class WriteBatch {
  readonly #socket: Socket;
  readonly #parts: (string | Buffer)[] = [];
  #bytes = 0;
  #scheduled = false;
  /** The socket's handle when it is plain TCP (direct writes), else null. */
  readonly #handle: RawHandle | null;
  /** Direct writes not yet completed by libuv. */
  #inFlight = 0;

  constructor(socket: Socket) {
    this.#socket = socket;
    const h = (socket as unknown as { _handle: (RawHandle & { constructor: { name: string } }) | null })._handle;
    this.#handle = WriteWrap !== null && h !== null && h.constructor.name === 'TCP' ? h : null;
  }

  /** Direct writes ever left pending by the kernel (a lent chunk is pinned when this moves). */
  pendingWrites = 0;

  /**
   * Whether a chunk valid only now may be pushed and flushed: plain TCP with nothing queued
   * anywhere (so the flush is a direct write, which refers to the chunk only if it stays
   * pending) — and never on a connection whose writes were ever left pending (a slow client):
   * each pinned chunk retires a shared read buffer.
   */
  canLend(): boolean {
    const h = this.#handle;
    const s = this.#socket;
    return h !== null && this.pendingWrites === 0 && this.#inFlight === 0 && h.writeQueueSize === 0 && s.writableLength === 0 &&
      (s as unknown as { _handle: unknown })._handle === h && !s.destroyed && s.writable;
  }

  /** libuv completed a direct write that did not finish at once. */
  directWriteDone(h: RawHandle, status: number): void {
    this.#inFlight--;
    const s = this.#socket;
    if (status < 0) { s.destroy(); return; }
    if (this.#inFlight === 0 && h.writeQueueSize === 0 && !s.destroyed) s.emit('drain');
  }

  /** Writes through the handle; false = not possible now (use socket.write). */
  #direct(parts: (string | Buffer)[], n: number): boolean {
    const h = this.#handle;
    const s = this.#socket;
    if (h === null || s.writableLength > 0 || (s as unknown as { _handle: unknown })._handle !== h) return false;
    const req = new WriteWrap!();
    req.handle = h;
    req.oncomplete = onDirectWriteComplete;
    req.async = false;
    req.bytes = 0;
    req.buffer = null;
    req.batch = null;
    req.parts = null;
    let err: number;
    let chunks: (string | Buffer)[] | null = null;
    if (n === 1) {
      const p = parts[0]!;
      err = typeof p === 'string' ? h.writeLatin1String(req, p) : h.writeBuffer(req, p);
      if (h.writeQueueSize > 0) chunks = [p];
    } else {
      chunks = new Array<string | Buffer>(n * 2);
      for (let i = 0; i < n; i++) { const p = parts[i]!; chunks[2 * i] = p; chunks[2 * i + 1] = 'latin1'; }
      err = h.writev(req, chunks, false);
    }
    if (err !== 0) { s.destroy(); return true; }
    if (h.writeQueueSize > 0) {
      // The kernel did not take it all: keep the data alive until libuv is done with it.
      req.batch = this;
      req.parts = chunks;
      this.#inFlight++;
      this.pendingWrites++;
    }
    return true;
  }

  push(p: string | Buffer): void {
    this.#parts.push(p);
    this.#bytes += p.length;
    if (!this.#scheduled) {
      this.#scheduled = true;
      pending.push(this);
      if (!flushScheduled) { flushScheduled = true; queueMicrotask(flushPending); }
    }
    else if (this.#bytes >= FLUSH_AT) this.flush();
  }

  /** false = the socket is saturated: wait for its 'drain'. */
  writable(): boolean {
    if (this.#bytes >= FLUSH_AT) this.flush();
    const s = this.#socket;
    if (this.#inFlight > 0) return s.destroyed || this.#handle!.writeQueueSize < FLUSH_AT;
    return s.destroyed || !s.writableNeedDrain;
  }

  flush(): void {
    this.#scheduled = false;
    const parts = this.#parts;
    const n = parts.length;
    if (n === 0) return;
    const socket = this.#socket;
    if (socket.destroyed || !socket.writable) { this.discard(); return; }
    if (n > 1 && this.#bytes <= COALESCE_MAX) {
      const buf = Buffer.allocUnsafe(this.#bytes);
      let off = 0;
      for (let i = 0; i < n; i++) {
        const p = parts[i]!;
        if (typeof p === 'string') off += buf.write(p, off, 'latin1');
        else off += p.copy(buf, off);
      }
      parts[0] = off === buf.length ? buf : buf.subarray(0, off);
      parts.length = 1;
    }
    if (this.#direct(parts, parts.length)) {
      parts.length = 0;
      this.#bytes = 0;
      return;
    }
    if (parts.length === 1) {
      const p = parts[0]!;
      if (typeof p === 'string') socket.write(p, 'latin1'); else socket.write(p);
    } else {
      socket.cork();
      for (let i = 0; i < n; i++) {
        const p = parts[i]!;
        if (typeof p === 'string') socket.write(p, 'latin1'); else socket.write(p);
      }
      socket.uncork();
    }
    parts.length = 0;
    this.#bytes = 0;
  }

  discard(): void {
    this.#parts.length = 0;
    this.#bytes = 0;
  }
}
