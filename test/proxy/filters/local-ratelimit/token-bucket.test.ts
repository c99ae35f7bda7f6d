import { describe, expect, it } from 'vitest';
import { InProcessTokenBucketStore, LocalTokenBucket, bucketKey } from '../../../../src/proxy/filters/local-ratelimit/token-bucket.js';

describe('LocalTokenBucket (Envoy local rate limit semantics)', () => {
  it('starts full, one token per request, then refuses', () => {
    const b = new LocalTokenBucket({ maxTokens: 3, tokensPerFill: 3, fillIntervalMs: 60_000 }, 0);
    expect([b.tryTake(1), b.tryTake(2), b.tryTake(3), b.tryTake(4)]).toEqual([true, true, true, false]);
  });

  it('refills tokens_per_fill per whole fill_interval, capped at max_tokens', () => {
    const b = new LocalTokenBucket({ maxTokens: 5, tokensPerFill: 2, fillIntervalMs: 1000 }, 0);
    for (let i = 0; i < 5; i++) b.tryTake(0);
    expect(b.tryTake(999)).toBe(false); // not a whole interval yet
    expect(b.remaining(1000)).toBe(2);
    expect(b.remaining(10_000)).toBe(5); // capped
  });

  it('partial intervals carry over (fills are aligned to the first one)', () => {
    const b = new LocalTokenBucket({ maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 1000 }, 0);
    b.tryTake(0);
    expect(b.tryTake(1500)).toBe(true); // fill at 1000
    expect(b.tryTake(1999)).toBe(false);
    expect(b.msToNextFill(1999)).toBe(1);
    expect(b.tryTake(2000)).toBe(true);
  });

  it('the store keeps a bucket across reloads while its key (id + parameters) is the same', () => {
    const store = new InProcessTokenBucketStore();
    const spec = { maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 60_000 };
    const a = store.bucket(bucketKey('ef#0@l/c', spec), spec);
    expect(store.bucket(bucketKey('ef#0@l/c', spec), spec)).toBe(a);
    expect(store.bucket(bucketKey('ef#0@l/c', { ...spec, maxTokens: 2 }), { ...spec, maxTokens: 2 })).not.toBe(a);
  });
});
