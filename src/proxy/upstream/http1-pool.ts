import type { Socket } from 'node:net';
import { Http1Connection, type ConnectionOwner, type UpstreamResetReason } from './http1-connection.js';

export interface PoolWaiter {
  onPoolReady(conn: Http1Connection): void;
  onPoolFailure(reason: UpstreamResetReason, detail: string): void;
}

/** Cluster-wide circuit breaker counters and limits (Envoy's per-cluster resource manager). */
export interface PoolLimits {
  connections: number;
  pendingRequests: number;
  readonly maxConnections: number;
  readonly maxPendingRequests: number;
  readonly maxRequestsPerConnection: number;
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
  #closed = false;
  #idleTimer: NodeJS.Timeout | null = null;

  constructor(limits: PoolLimits, connect: Connector) {
    this.#limits = limits;
    this.#connect = connect;
  }

  get activeConnections(): number {
    return this.#all.size + this.#connecting;
  }

  acquire(w: PoolWaiter): void {
    while (this.#idle.length > 0) {
      const c = this.#idle.pop()!;
      if (!c.closed) { w.onPoolReady(c); return; }
    }
    const lim = this.#limits;
    // Every request waiting for a connection counts as pending, as in Envoy.
    if (lim.pendingRequests >= lim.maxPendingRequests) {
      w.onPoolFailure('overflow', 'pending requests exceed http1MaxPendingRequests');
      return;
    }
    lim.pendingRequests++;
    this.#pending.push(w);
    this.#maybeOpen();
  }

  /** The waiter gave up (client gone, timeout) before getting a connection. */
  cancel(w: PoolWaiter): void {
    const i = this.#pending.indexOf(w);
    if (i >= 0) { this.#pending.splice(i, 1); this.#limits.pendingRequests--; }
  }

  #dequeue(): PoolWaiter | undefined {
    const w = this.#pending.shift();
    if (w !== undefined) this.#limits.pendingRequests--;
    return w;
  }

  #maybeOpen(): void {
    if (!this.#closed && this.#pending.length > this.#connecting && this.#limits.connections < this.#limits.maxConnections) this.#open();
  }

  #open(): void {
    const lim = this.#limits;
    lim.connections++;
    this.#connecting++;
    let settled = false;
    const onFail = (reason: string): void => {
      this.#connecting--;
      lim.connections--;
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
  }

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
    this.#limits.connections--;
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
