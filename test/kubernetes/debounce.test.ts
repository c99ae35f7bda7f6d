import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Backoff, Debouncer } from '../../src/config/kubernetes/backoff.js';

describe('Debouncer (bursts of watch events → one rebuild)', () => {
  beforeEach(() => { vi.useFakeTimers(); });
  afterEach(() => { vi.useRealTimers(); });

  it('runs once after the burst goes quiet', () => {
    let runs = 0;
    const d = new Debouncer(() => runs++, 100, 1000);
    for (let i = 0; i < 50; i++) { d.kick(); vi.advanceTimersByTime(10); }
    expect(runs).toBe(0);
    vi.advanceTimersByTime(100);
    expect(runs).toBe(1);
    expect(d.pending).toBe(false);
  });

  it('a steady stream still rebuilds at least every maxMs', () => {
    let runs = 0;
    const d = new Debouncer(() => runs++, 100, 1000);
    for (let i = 0; i < 250; i++) { d.kick(); vi.advanceTimersByTime(20); }
    // 5 s of events 20 ms apart, never quiet for 100 ms: one rebuild per second.
    expect(runs).toBe(5);
  });

  it('cancel drops a pending run', () => {
    let runs = 0;
    const d = new Debouncer(() => runs++, 100, 1000);
    d.kick();
    d.cancel();
    vi.advanceTimersByTime(2000);
    expect(runs).toBe(0);
  });
});

describe('Backoff', () => {
  it('doubles up to the maximum, with ±20% jitter, and resets', () => {
    const b = new Backoff({ initialMs: 500, maxMs: 30_000 });
    const delays = Array.from({ length: 10 }, () => b.next());
    const bases = [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000];
    delays.forEach((d, i) => { expect(d).toBeGreaterThanOrEqual(bases[i]! * 0.8); expect(d).toBeLessThanOrEqual(bases[i]! * 1.2); });
    b.reset();
    expect(b.next()).toBeLessThanOrEqual(600);
  });
});
