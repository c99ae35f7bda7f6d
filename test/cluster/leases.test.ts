import { describe, expect, it } from 'vitest';
import { LeaseTable, WorkerLeases } from '../../src/cluster/leases.js';
import type { Resource } from '../../src/proxy/upstream/resources.js';
import { UNLIMITED } from '../../src/proxy/upstream/resources.js';

// The primary's lease table and the workers' leased resources, wired as the IPC channel does
// (every message delivered on a later tick), without processes.

function gateway(workers: number): { table: LeaseTable; leases: WorkerLeases[]; settle: () => Promise<void>; sent: () => number } {
  let sent = 0;
  const later = (f: () => void): void => { sent++; setImmediate(f); };
  const leases: WorkerLeases[] = [];
  const table = new LeaseTable({
    leased: (w, id, n) => later(() => leases[w]!.leased(id, n)),
    reclaim: (w, key) => later(() => leases[w]!.reclaim(key)),
    workers: () => workers,
  });
  for (let w = 0; w < workers; w++) {
    leases.push(new WorkerLeases({
      lease: (id, key, max, want) => later(() => table.lease(w, id, key, max, want)),
      forced: (key, max) => later(() => table.forced(w, key, max)),
      returned: (key, n) => later(() => table.returned(w, key, n)),
    }));
  }
  const settle = async (): Promise<void> => { for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r)); };
  return { table, leases, settle, sent: () => sent };
}

function take(r: Resource): Promise<boolean> {
  return new Promise((resolve) => r.acquire(resolve));
}

describe('circuit-breaker leases across workers', () => {
  it('holds the limit for the gateway: what one worker uses, the other cannot', async () => {
    const g = gateway(2);
    const a = g.leases[0]!.factory('c|requests', 3);
    const b = g.leases[1]!.factory('c|requests', 3);
    expect(await Promise.all([take(a), take(a), take(a)])).toEqual([true, true, true]);
    // All three are in use in worker 0: worker 1 is refused after the primary reclaims nothing.
    expect(await take(b)).toBe(false);
    a.release();
    // One slot free in worker 0: the primary reclaims it for worker 1.
    expect(await take(b)).toBe(true);
    expect(a.count + b.count).toBe(3);
    expect(await take(a)).toBe(false);
    await g.settle();
    expect([...g.table.holders('c|requests').values()].reduce((x, y) => x + y, 0)).toBeLessThanOrEqual(3);
  });

  it('keeps leased slots in the worker: steady traffic sends no messages', async () => {
    const g = gateway(2);
    const a = g.leases[0]!.factory('c|requests', 100);
    expect(await take(a)).toBe(true);
    a.release();
    await g.settle();
    const before = g.sent();
    for (let i = 0; i < 1000; i++) {
      expect(a.tryAcquire()).toBe(true);
      a.release();
    }
    expect(g.sent()).toBe(before);
  });

  it('never counts unlimited resources (Istio defaults) across processes', () => {
    const g = gateway(2);
    const a = g.leases[0]!.factory('c|connections', UNLIMITED);
    for (let i = 0; i < 10; i++) expect(a.tryAcquire()).toBe(true);
    expect(g.sent()).toBe(0);
  });

  it('a limit of 0 refuses at once', async () => {
    const g = gateway(2);
    const a = g.leases[0]!.factory('c|retries', 0);
    expect(a.tryAcquire()).toBe(false);
    expect(await take(a)).toBe(false);
    expect(g.sent()).toBe(0);
  });

  it('tryAcquire refuses without a lease but asks for one, so the next try succeeds', async () => {
    const g = gateway(2);
    const a = g.leases[0]!.factory('c|retries', 1);
    expect(a.tryAcquire()).toBe(false);
    await g.settle();
    expect(a.tryAcquire()).toBe(true);
  });

  it('retries keep a leased slot at hand: the first retry of a worker is not refused for want of asking', async () => {
    const g = gateway(2);
    const a = g.leases[0]!.factory('c|retries', 3);
    const b = g.leases[1]!.factory('c|retries', 3);
    await g.settle();
    expect(a.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(true);
    await g.settle();
    // Taking the last held slot asks for the next one: a third in all is still there.
    expect(a.tryAcquire() || b.tryAcquire()).toBe(true);
    await g.settle();
    // Never more than the limit across workers.
    expect(a.tryAcquire() && b.tryAcquire()).toBe(false);
    expect(a.count + b.count).toBe(3);
  });

  it('forced slots (a pool\'s first connection) count against the limit', async () => {
    const g = gateway(2);
    const a = g.leases[0]!.factory('c|connections', 1);
    const b = g.leases[1]!.factory('c|connections', 1);
    a.force();
    await g.settle();
    expect(await take(b)).toBe(false);
    a.release();
    expect(await take(b)).toBe(true);
  });

  it('a worker that dies gives its slots back', async () => {
    const g = gateway(2);
    const a = g.leases[0]!.factory('c|pending', 2);
    const b = g.leases[1]!.factory('c|pending', 2);
    expect(await Promise.all([take(a), take(a)])).toEqual([true, true]);
    expect(await take(b)).toBe(false);
    g.table.workerGone(0);
    expect(await take(b)).toBe(true);
  });
});
