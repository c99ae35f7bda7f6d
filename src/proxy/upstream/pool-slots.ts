import type { PoolLimits } from './http1-pool.js';
import type { Resource } from './resources.js';

// The circuit-breaker steps both connection pools (HTTP/1.1 and HTTP/2) share. A slot may need
// the primary's answer (`--concurrency` > 1), so each step can finish later; these classes
// keep what happens meanwhile (a waiter cancelled, the connection no longer wanted) in one place.

/** A waiter refused a pending slot: 503 UO. */
export function overflowPending(w: { onPoolFailure(reason: 'overflow', detail: string): void }): void {
  w.onPoolFailure('overflow', 'pending requests exceed http1MaxPendingRequests');
}

/** Pending-request slots (`http1MaxPendingRequests`) of one pool's waiters. */
export class PendingSlots<W> {
  readonly #resource: Resource;
  /** Waiters whose slot the primary has not granted yet. */
  #asking: Set<W> | null = null;

  constructor(resource: Resource) {
    this.#resource = resource;
  }

  /** Takes a slot for `w`: `granted(w)` now or once the primary grants it, `refused(w)` at the limit. */
  take(w: W, granted: (w: W) => void, refused: (w: W) => void): void {
    const r = this.#resource;
    if (r.tryAcquire()) { granted(w); return; }
    (this.#asking ??= new Set()).add(w);
    r.acquire((ok) => {
      // Cancelled meanwhile: the slot goes back.
      if (!this.#asking!.delete(w)) { if (ok) r.release(); return; }
      if (ok) granted(w);
      else refused(w);
    });
  }

  /** `w` gave up while its slot was being asked for: true if it was (nothing else to undo). */
  cancel(w: W): boolean {
    return this.#asking?.delete(w) === true;
  }

  release(): void {
    this.#resource.release();
  }
}

/** Connection slots (`maxConnections`) of one pool. */
export class ConnectionSlots {
  readonly #limits: PoolLimits;
  /** Slots asked of the primary, not answered yet (connections that may come). */
  leasing = 0;

  constructor(limits: PoolLimits) {
    this.#limits = limits;
  }

  /**
   * Takes a slot and calls `open`, now or once the primary grants one if `wanted()` still
   * holds. At the limit a pool with no connection (`empty`) still opens one, as Envoy does, or
   * its requests could never be served; the others wait for the pool's connections to free up.
   */
  take(empty: boolean, wanted: () => boolean, open: () => void): void {
    const lim = this.#limits;
    const cx = lim.resources.connections;
    if (cx.tryAcquire()) { open(); return; }
    if (empty && this.leasing === 0) {
      lim.onConnectionOverflow();
      cx.force();
      open();
      return;
    }
    this.leasing++;
    cx.acquire((ok) => {
      this.leasing--;
      if (!ok) { lim.onConnectionOverflow(); return; }
      if (wanted()) open();
      else cx.release();
    });
  }

  release(): void {
    this.#limits.resources.connections.release();
  }
}
