import { UNLIMITED, type Resource, type ResourceFactory } from '../proxy/upstream/resources.js';

// Circuit breakers across worker processes. Envoy's worker threads share one counter per
// cluster resource; Sluice's workers are processes, so the primary holds each limit and
// workers lease slots from it. A worker takes and gives back leased slots locally, with no
// message per request; it asks the primary only when it holds no free slot. When the primary
// has none left it reclaims the free slots workers hold, and only if none come back is the
// request refused (overflow) — so a limit holds for the gateway as a whole, as in Envoy.
// Limits at UNLIMITED (Istio's defaults) are never counted across processes.

/** The worker's side of the protocol (messages in src/cluster/protocol.ts). */
export interface LeaseChannel {
  lease(id: number, key: string, max: number, want: number): void;
  forced(key: string, max: number): void;
  returned(key: string, n: number): void;
}

/** A worker's view of one resource: `held` slots leased from the primary, `count` of them in use. */
export class LeasedResource implements Resource {
  max: number;
  count = 0;
  #held = 0;
  #waiters: ((ok: boolean) => void)[] = [];
  #asking = false;
  readonly #key: string;
  readonly #leases: WorkerLeases;
  /**
   * Keep a free slot at hand (retries): its callers decide synchronously and cannot wait for
   * the primary, so a slot is leased ahead — at start and whenever the last one is taken.
   */
  readonly #keepSpare: boolean;

  constructor(leases: WorkerLeases, key: string, max: number, keepSpare = false) {
    this.#leases = leases;
    this.#key = key;
    this.max = max;
    this.#keepSpare = keepSpare;
    if (keepSpare && max > 0 && max < UNLIMITED) this.#ask();
  }

  tryAcquire(): boolean {
    if (this.max >= UNLIMITED) { this.count++; return true; }
    if (this.count < this.#held) {
      this.count++;
      if (this.#keepSpare && this.count === this.#held && this.count < this.max) this.#ask();
      return true;
    }
    // Callers that cannot wait (retries) are refused now; a slot is asked for the next one.
    if (this.max > 0 && this.#waiters.length === 0) this.#ask();
    return false;
  }

  acquire(cb: (ok: boolean) => void): void {
    if (this.max >= UNLIMITED || this.count < this.#held) { this.count++; cb(true); return; }
    if (this.max <= 0) { cb(false); return; }
    this.#waiters.push(cb);
    this.#ask();
  }

  force(): void {
    this.count++;
    if (this.max < UNLIMITED && this.count > this.#held) {
      this.#held++;
      this.#leases.channel.forced(this.#key, this.max);
    }
  }

  release(): void {
    this.count--;
  }

  /** The primary wants free slots back: gives up those not in use. */
  reclaim(): number {
    const free = Math.max(0, this.#held - this.count);
    this.#held -= free;
    return free;
  }

  #ask(): void {
    if (this.#asking) return;
    this.#asking = true;
    this.#leases.ask(this.#key, this.max, Math.max(1, this.#waiters.length), (n) => {
      this.#asking = false;
      this.#held += n;
      const waiters = this.#waiters;
      while (waiters.length > 0 && this.count < this.#held) { this.count++; waiters.shift()!(true); }
      if (waiters.length === 0) return;
      // Nothing free anywhere in the gateway: the cluster is at its limit.
      if (n === 0) { for (const w of waiters.splice(0)) w(false); return; }
      this.#ask();
    });
  }
}

/** A worker's leased resources and its outstanding questions to the primary. */
export class WorkerLeases {
  readonly channel: LeaseChannel;
  readonly #byKey = new Map<string, LeasedResource>();
  readonly #answers = new Map<number, (n: number) => void>();
  #nextId = 1;

  constructor(channel: LeaseChannel) {
    this.channel = channel;
  }

  readonly factory: ResourceFactory = (key, max) => {
    const r = new LeasedResource(this, key, max, key.endsWith('|retries'));
    this.#byKey.set(key, r);
    return r;
  };

  ask(key: string, max: number, want: number, cb: (n: number) => void): void {
    const id = this.#nextId++;
    this.#answers.set(id, cb);
    this.channel.lease(id, key, max, want);
  }

  /** The primary's answer to `ask`: `n` slots granted (0: none free in the gateway). */
  leased(id: number, n: number): void {
    const cb = this.#answers.get(id);
    if (cb === undefined) return;
    this.#answers.delete(id);
    cb(n);
  }

  /** The primary reclaims the free slots of `key`. */
  reclaim(key: string): void {
    this.channel.returned(key, this.#byKey.get(key)?.reclaim() ?? 0);
  }
}

interface Entry {
  max: number;
  /** Slots held by workers (leased or forced). */
  total: number;
  readonly held: Map<number, number>;
  readonly queue: { worker: number; id: number; want: number }[];
  /** Workers asked to give back free slots and not answered yet. */
  readonly reclaiming: Set<number>;
  /** A reclaim round was started for the requests queued now. */
  round: boolean;
}

/** What the primary sends: a grant to a worker's `lease`, or a reclaim of `key`. */
export interface LeaseOutbox {
  leased(worker: number, id: number, n: number): void;
  reclaim(worker: number, key: string): void;
  workers(): number;
}

/** The primary's side: every finite limit of every cluster, and which worker holds what. */
export class LeaseTable {
  readonly #entries = new Map<string, Entry>();
  readonly #out: LeaseOutbox;

  constructor(out: LeaseOutbox) {
    this.#out = out;
  }

  lease(worker: number, id: number, key: string, max: number, want: number): void {
    const e = this.#entry(key, max);
    e.queue.push({ worker, id, want });
    this.#serve(key, e);
  }

  forced(worker: number, key: string, max: number): void {
    const e = this.#entry(key, max);
    e.total++;
    e.held.set(worker, (e.held.get(worker) ?? 0) + 1);
  }

  returned(worker: number, key: string, n: number): void {
    const e = this.#entries.get(key);
    if (e === undefined) return;
    this.#take(e, worker, n);
    e.reclaiming.delete(worker);
    this.#serve(key, e);
  }

  /** A worker died: its slots are free, its questions void. */
  workerGone(worker: number): void {
    for (const [key, e] of this.#entries) {
      this.#take(e, worker, e.held.get(worker) ?? 0);
      e.held.delete(worker);
      for (let i = e.queue.length - 1; i >= 0; i--) if (e.queue[i]!.worker === worker) e.queue.splice(i, 1);
      e.reclaiming.delete(worker);
      this.#serve(key, e);
    }
  }

  /** Slots held per worker, for tests and the admin view. */
  holders(key: string): Map<number, number> {
    return new Map(this.#entries.get(key)?.held ?? []);
  }

  #entry(key: string, max: number): Entry {
    let e = this.#entries.get(key);
    if (e === undefined) this.#entries.set(key, (e = { max, total: 0, held: new Map(), queue: [], reclaiming: new Set(), round: false }));
    e.max = max;
    return e;
  }

  #take(e: Entry, worker: number, n: number): void {
    const had = e.held.get(worker) ?? 0;
    const k = Math.min(had, n);
    e.held.set(worker, had - k);
    e.total -= k;
  }

  #serve(key: string, e: Entry): void {
    while (e.queue.length > 0 && e.total < e.max) {
      const q = e.queue.shift()!;
      const free = e.max - e.total;
      // A share of what is free, so a busy worker does not ask again for every request.
      const n = Math.min(free, Math.max(q.want, Math.floor(free / (2 * Math.max(1, this.#out.workers())))));
      e.total += n;
      e.held.set(q.worker, (e.held.get(q.worker) ?? 0) + n);
      this.#out.leased(q.worker, q.id, n);
    }
    if (e.queue.length === 0) { e.round = false; return; }
    if (e.reclaiming.size > 0) return;
    if (!e.round) {
      // Nothing free: ask every worker holding slots to give back those it does not use.
      const holders = [...e.held].filter(([, n]) => n > 0).map(([w]) => w);
      if (holders.length > 0) {
        e.round = true;
        for (const w of holders) { e.reclaiming.add(w); this.#out.reclaim(w, key); }
        return;
      }
    }
    // The round is over and still nothing is free: the cluster is at its limit.
    e.round = false;
    for (const q of e.queue.splice(0)) this.#out.leased(q.worker, q.id, 0);
  }
}
