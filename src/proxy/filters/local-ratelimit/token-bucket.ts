// Envoy's local rate limit token bucket: starts full (max_tokens), gains tokens_per_fill every
// fill_interval up to max_tokens, one token per request. Refills are computed on demand from
// the clock (no timer per bucket), in whole intervals as Envoy's timer-driven fill does.
//
// One bucket is shared by the whole process (Envoy shares it across worker threads). The
// store behind `tokenBuckets()` is replaceable: a multi-process worker mode installs a store
// whose buckets live in the primary process and answer with a promise, or lease tokens to
// workers in batches and answer synchronously; the filter handles both.

export interface TokenBucketSpec {
  readonly maxTokens: number;
  readonly tokensPerFill: number;
  readonly fillIntervalMs: number;
}

export interface TokenBucket {
  readonly spec: TokenBucketSpec;
  /** Takes one token: true = allowed. A remote store may answer with a promise. */
  tryTake(nowMs: number): boolean | Promise<boolean>;
  /** Tokens left now (for x-ratelimit-remaining); best effort for remote stores. */
  remaining(nowMs: number): number;
  /** Milliseconds until the next fill (for x-ratelimit-reset). */
  msToNextFill(nowMs: number): number;
}

/** Where buckets live. `key` identifies a bucket across config reloads. */
export interface TokenBucketStore {
  bucket(key: string, spec: TokenBucketSpec): TokenBucket;
  /** The bucket if it exists, without creating it (trace). */
  peek?(key: string): TokenBucket | undefined;
}

export class LocalTokenBucket implements TokenBucket {
  readonly spec: TokenBucketSpec;
  #tokens: number;
  #lastFill: number;

  constructor(spec: TokenBucketSpec, nowMs: number) {
    this.spec = spec;
    this.#tokens = spec.maxTokens;
    this.#lastFill = nowMs;
  }

  #refill(now: number): void {
    const s = this.spec;
    const elapsed = now - this.#lastFill;
    if (elapsed < s.fillIntervalMs) return;
    const fills = Math.floor(elapsed / s.fillIntervalMs);
    this.#lastFill += fills * s.fillIntervalMs;
    this.#tokens = Math.min(s.maxTokens, this.#tokens + fills * s.tokensPerFill);
  }

  tryTake(now: number): boolean {
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens--;
    return true;
  }

  remaining(now: number): number {
    this.#refill(now);
    return this.#tokens;
  }

  msToNextFill(now: number): number {
    this.#refill(now);
    return Math.max(0, this.#lastFill + this.spec.fillIntervalMs - now);
  }
}

/** The default store: buckets in this process, kept across reloads while their key is unchanged. */
export class InProcessTokenBucketStore implements TokenBucketStore {
  readonly #buckets = new Map<string, LocalTokenBucket>();

  bucket(key: string, spec: TokenBucketSpec): TokenBucket {
    let b = this.#buckets.get(key);
    if (b === undefined) this.#buckets.set(key, (b = new LocalTokenBucket(spec, performance.now())));
    return b;
  }

  peek(key: string): TokenBucket | undefined {
    return this.#buckets.get(key);
  }
}

let store: TokenBucketStore = new InProcessTokenBucketStore();

export function tokenBuckets(): TokenBucketStore {
  return store;
}

/** Worker mode: route every bucket through another store (e.g. the primary process). */
export function setTokenBucketStore(s: TokenBucketStore): void {
  store = s;
}

export function bucketKey(id: string, spec: TokenBucketSpec): string {
  return `${id}|${spec.maxTokens}|${spec.tokensPerFill}|${spec.fillIntervalMs}`;
}
