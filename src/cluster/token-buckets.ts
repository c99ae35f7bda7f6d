import { tokenBuckets } from '../proxy/filters/local-ratelimit/token-bucket.js';
import type { TokenBucketSpecMessage } from './protocol.js';

// Rate-limit token buckets across worker processes. Envoy shares a local rate limit bucket
// between its worker threads; Sluice's workers are processes, so the buckets live in the
// primary and a worker's take is one IPC round trip (the filter waits on a promise only in
// this mode; a single process answers synchronously). Shapes follow the local rate limit
// filter's TokenBucketStore (src/proxy/filters/local-ratelimit/token-bucket.ts), and the
// primary's buckets are its own in-process store, which /debug/trace in the primary reads.

/** A worker's take, answered from the primary's in-process buckets (keyed by the filter's bucket key). */
export function takeInPrimary(key: string, spec: TokenBucketSpecMessage): { ok: boolean; remaining: number; msToNextFill: number } {
  const b = tokenBuckets().bucket(key, spec);
  const now = performance.now();
  const ok = b.tryTake(now) as boolean;
  return { ok, remaining: b.remaining(now), msToNextFill: b.msToNextFill(now) };
}

type Send = (id: number, key: string, spec: TokenBucketSpecMessage) => void;

/** A worker's view of one primary bucket: tryTake asks the primary. */
class RemoteBucket {
  readonly spec: TokenBucketSpecMessage;
  readonly #key: string;
  readonly #store: RemoteBucketStore;
  #remaining: number;
  #msToNextFill: number;
  #at = 0;

  constructor(store: RemoteBucketStore, key: string, spec: TokenBucketSpecMessage) {
    this.#store = store;
    this.#key = key;
    this.spec = spec;
    this.#remaining = spec.maxTokens;
    this.#msToNextFill = spec.fillIntervalMs;
  }

  tryTake(_now: number): Promise<boolean> {
    return this.#store.take(this.#key, this.spec).then((r) => {
      this.#remaining = r.remaining;
      this.#msToNextFill = r.msToNextFill;
      this.#at = performance.now();
      return r.ok;
    });
  }

  /** As of the last answer from the primary (x-ratelimit-remaining is best effort). */
  remaining(_now: number): number {
    return this.#remaining;
  }

  msToNextFill(now: number): number {
    return Math.max(0, this.#msToNextFill - (now - this.#at));
  }
}

/** The worker's TokenBucketStore: every bucket lives in the primary. */
export class RemoteBucketStore {
  readonly #send: Send;
  readonly #pending = new Map<number, (r: { ok: boolean; remaining: number; msToNextFill: number }) => void>();
  readonly #buckets = new Map<string, RemoteBucket>();
  #nextId = 1;

  constructor(send: Send) {
    this.#send = send;
  }

  bucket(key: string, spec: TokenBucketSpecMessage): RemoteBucket {
    let b = this.#buckets.get(key);
    if (b === undefined) this.#buckets.set(key, (b = new RemoteBucket(this, key, spec)));
    return b;
  }

  take(key: string, spec: TokenBucketSpecMessage): Promise<{ ok: boolean; remaining: number; msToNextFill: number }> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.#send(id, key, spec);
    });
  }

  answered(id: number, ok: boolean, remaining: number, msToNextFill: number): void {
    const r = this.#pending.get(id);
    if (r === undefined) return;
    this.#pending.delete(id);
    r({ ok, remaining, msToNextFill });
  }
}
