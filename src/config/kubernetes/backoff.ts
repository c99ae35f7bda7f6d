// Reconnect delays for list/watch failures: exponential with jitter, as client-go's reflector
// (so a restarting API server is not hit by every gateway replica in the same millisecond).

export interface BackoffOptions {
  /** First delay (default 500 ms). */
  initialMs?: number;
  /** Upper bound (default 30 s). */
  maxMs?: number;
}

export class Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  #attempt = 0;

  constructor(o: BackoffOptions = {}) {
    this.#initialMs = o.initialMs ?? 500;
    this.#maxMs = o.maxMs ?? 30_000;
  }

  /** The delay before the next attempt: doubles per failure up to the maximum, ±20% jitter. */
  next(): number {
    const base = Math.min(this.#maxMs, this.#initialMs * 2 ** Math.min(this.#attempt, 30));
    this.#attempt++;
    return Math.round(base * (0.8 + 0.4 * Math.random()));
  }

  reset(): void {
    this.#attempt = 0;
  }

  get failures(): number {
    return this.#attempt;
  }
}

/**
 * Collapses a burst of calls into one: `fn` runs `quietMs` after the last kick, and at most
 * `maxMs` after the first kick of a burst (a steady stream of events still rebuilds), as
 * istiod's PILOT_DEBOUNCE_AFTER / PILOT_DEBOUNCE_MAX.
 */
export class Debouncer {
  readonly #fn: () => void;
  readonly #quietMs: number;
  readonly #maxMs: number;
  #timer: NodeJS.Timeout | null = null;
  #firstKick = 0;

  constructor(fn: () => void, quietMs: number, maxMs: number) {
    this.#fn = fn;
    this.#quietMs = quietMs;
    this.#maxMs = maxMs;
  }

  kick(): void {
    const now = Date.now();
    if (this.#timer === null) this.#firstKick = now;
    else clearTimeout(this.#timer);
    const wait = Math.max(0, Math.min(this.#quietMs, this.#firstKick + this.#maxMs - now));
    this.#timer = setTimeout(() => this.#fire(), wait);
  }

  get pending(): boolean {
    return this.#timer !== null;
  }

  cancel(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #fire(): void {
    this.#timer = null;
    this.#fn();
  }
}
