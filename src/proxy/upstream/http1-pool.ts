import type { Socket } from 'node:net';
import { Http1Connection, type ConnectionOwner, type UpstreamResetReason } from './http1-connection.js';
import { ConnectionSlots, overflowPending, PendingSlots } from './pool-slots.js';
import type { ClusterResources } from './resources.js';

export interface PoolWaiter {
  onPoolReady(conn: Http1Connection): void;
  onPoolFailure(reason: UpstreamResetReason, detail: string): void;
}

/** A cluster's circuit breakers and connection settings, shared by its pools. */
export interface PoolLimits {
  readonly resources: ClusterResources;
  /** Connections that could not open because of `maxConnections` (Envoy's upstream_cx_overflow). */
  onConnectionOverflow(): void;
  readonly maxRequestsPerConnection: number;
  /** HTTP/2: streams per connection (`maxConcurrentStreams`; the peer's SETTINGS may lower it). */
  readonly maxConcurrentStreams: number;
  readonly idleTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly maxConnectionDurationMs: number;
}

/** Opens a transport (TCP or TLS) to the endpoint; calls back once connected or failed. Returns a cancel function. */
export type Connector = (onReady: (socket: Socket) => void, onFail: (reason: string) => void) => () => void;

let nextConnectionId = 1;

/**
 * Keep-alive HTTP/1.1 connections to one endpoint. Idle connections are reused most recently
 * used first; new ones open while the cluster's `maxConnections` allows, else requests wait
 * (up to `http1MaxPendingRequests`, beyond which they fail with overflow, 503 UO).
 */
export class Http1Pool implements ConnectionOwner {
  readonly #idle: Http1Connection[] = [];
  readonly #pending: PoolWaiter[] = [];
  readonly #all = new Set<Http1Connection>();
  readonly #limits: PoolLimits;
  readonly #connect: Connector;
  #connecting = 0;
  readonly #pendingSlots: PendingSlots<PoolWaiter>;
  readonly #connectionSlots: ConnectionSlots;
  #closed = false;
  #idleTimer: NodeJS.Timeout | null = null;

  constructor(limits: PoolLimits, connect: Connector) {
    this.#limits = limits;
    this.#connect = connect;
    this.#pendingSlots = new PendingSlots(limits.resources.pending);
    this.#connectionSlots = new ConnectionSlots(limits);
  }

  get activeConnections(): number {
    return this.#all.size + this.#connecting;
  }

  acquire(w: PoolWaiter): void {
    const c = this.#takeIdle();
    if (c !== null) { w.onPoolReady(c); return; }
    // Every request waiting for a connection counts as pending, as in Envoy.
    this.#pendingSlots.take(w, this.#enqueue, overflowPending);
  }

  #takeIdle(): Http1Connection | null {
    while (this.#idle.length > 0) {
      const c = this.#idle.pop()!;
      if (!c.closed) return c;
    }
    return null;
  }

  /** `w` holds a pending slot: it waits for a connection (one may have become idle meanwhile). */
  readonly #enqueue = (w: PoolWaiter): void => {
    const c = this.#takeIdle();
    if (c !== null) { this.#pendingSlots.release(); w.onPoolReady(c); return; }
    if (this.#closed) { this.#pendingSlots.release(); w.onPoolFailure('connection termination', 'cluster removed'); return; }
    this.#pending.push(w);
    this.#maybeOpen();
  };

  /** The waiter gave up (client gone, timeout) before getting a connection. */
  cancel(w: PoolWaiter): void {
    if (this.#pendingSlots.cancel(w)) return;
    const i = this.#pending.indexOf(w);
    if (i >= 0) { this.#pending.splice(i, 1); this.#pendingSlots.release(); }
  }

  #dequeue(): PoolWaiter | undefined {
    const w = this.#pending.shift();
    if (w !== undefined) this.#pendingSlots.release();
    return w;
  }

  #maybeOpen(): void {
    const slots = this.#connectionSlots;
    if (this.#closed || this.#pending.length <= this.#connecting + slots.leasing) return;
    slots.take(this.#all.size + this.#connecting === 0, this.#stillWanted, this.#open);
  }

  readonly #stillWanted = (): boolean => !this.#closed && this.#pending.length > this.#connecting;

  /** Opens a connection; its slot of `maxConnections` is taken already. */
  readonly #open = (): void => {
    const lim = this.#limits;
    this.#connecting++;
    let settled = false;
    const onFail = (reason: string): void => {
      this.#connecting--;
      this.#connectionSlots.release();
      this.#dequeue()?.onPoolFailure('connection failure', reason);
      this.#maybeOpen();
    };
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      cancel();
      onFail(`connect timeout after ${lim.connectTimeoutMs} ms`);
    }, lim.connectTimeoutMs);
    const cancel = this.#connect(
      (s) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#connecting--;
        const c = new Http1Connection(nextConnectionId++, s, this);
        this.#all.add(c);
        if (lim.maxConnectionDurationMs > 0) setTimeout(() => { if (!c.busy) c.destroy(); }, lim.maxConnectionDurationMs).unref();
        this.#handOut(c);
      },
      (reason) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        onFail(reason);
      },
    );
  };

  #handOut(c: Http1Connection): void {
    const w = this.#dequeue();
    if (w === undefined) { this.#park(c); return; }
    w.onPoolReady(c);
  }

  #park(c: Http1Connection): void {
    if (this.#closed) { c.destroy(); return; }
    c.lastUsed = Date.now();
    this.#idle.push(c);
    this.#armIdleTimer();
  }

  onConnectionIdle(c: Http1Connection): void {
    const max = this.#limits.maxRequestsPerConnection;
    if (max > 0 && c.requestsServed >= max) { c.destroy(); return; }
    this.#handOut(c);
  }

  onConnectionClosed(c: Http1Connection): void {
    if (!this.#all.delete(c)) return;
    this.#connectionSlots.release();
    const i = this.#idle.indexOf(c);
    if (i >= 0) this.#idle.splice(i, 1);
    // A freed slot lets a waiting request open a connection.
    this.#maybeOpen();
  }

  #armIdleTimer(): void {
    if (this.#idleTimer !== null || this.#limits.idleTimeoutMs <= 0) return;
    const period = Math.min(this.#limits.idleTimeoutMs, 60_000);
    this.#idleTimer = setInterval(() => {
      const cutoff = Date.now() - this.#limits.idleTimeoutMs;
      for (const c of [...this.#idle]) if (c.lastUsed < cutoff) c.destroy();
      if (this.#idle.length === 0 && this.#idleTimer !== null) { clearInterval(this.#idleTimer); this.#idleTimer = null; }
    }, period);
    this.#idleTimer.unref();
  }

  /** Stops reuse; idle connections close now, busy ones when their exchange ends. */
  close(): void {
    this.#closed = true;
    for (const c of this.#idle) c.destroy();
    this.#idle.length = 0;
    if (this.#idleTimer !== null) { clearInterval(this.#idleTimer); this.#idleTimer = null; }
    for (let w = this.#dequeue(); w !== undefined; w = this.#dequeue()) w.onPoolFailure('connection termination', 'cluster removed');
  }
}
