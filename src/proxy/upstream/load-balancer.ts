import type { LoadBalancer, WeightedCluster } from '../../compile/snapshot.js';

/** What a balancer needs of a host. */
export interface BalancedHost {
  readonly weight: number;
  activeRequests: number;
  /** Ejected by outlier detection until this time (ms since epoch), 0 = healthy. */
  ejectedUntil: number;
  readonly hashKey: string;
}

export interface Balancer<H extends BalancedHost> {
  /** A healthy host, avoiding `exclude` when possible; null when none is healthy. */
  pick(hosts: readonly H[], hash: number | null, exclude: readonly H[] | null, now: number): H | null;
}

function healthy<H extends BalancedHost>(h: H, now: number): boolean {
  return h.ejectedUntil === 0 || h.ejectedUntil <= now;
}

/** Round robin over healthy hosts (weights honoured by repetition of the cursor stride). */
class RoundRobin<H extends BalancedHost> implements Balancer<H> {
  #next = 0;
  pick(hosts: readonly H[], _hash: number | null, exclude: readonly H[] | null, now: number): H | null {
    const n = hosts.length;
    let fallback: H | null = null;
    for (let i = 0; i < n; i++) {
      const h = hosts[(this.#next + i) % n]!;
      if (!healthy(h, now)) continue;
      if (exclude !== null && exclude.includes(h)) { fallback ??= h; continue; }
      this.#next = (this.#next + i + 1) % n;
      return h;
    }
    return fallback;
  }
}

/** Envoy's LEAST_REQUEST: power of two choices, fewer active requests wins. */
class LeastRequest<H extends BalancedHost> implements Balancer<H> {
  pick(hosts: readonly H[], hash: number | null, exclude: readonly H[] | null, now: number): H | null {
    const n = hosts.length;
    if (n === 1) { const h = hosts[0]!; return healthy(h, now) ? h : null; }
    const a = hosts[(Math.random() * n) | 0]!;
    const b = hosts[(Math.random() * n) | 0]!;
    const okA = healthy(a, now) && (exclude === null || !exclude.includes(a));
    const okB = healthy(b, now) && (exclude === null || !exclude.includes(b));
    if (okA && okB) return a.activeRequests <= b.activeRequests ? a : b;
    if (okA) return a;
    if (okB) return b;
    return new RoundRobin<H>().pick(hosts, hash, exclude, now);
  }
}

class RandomLb<H extends BalancedHost> implements Balancer<H> {
  pick(hosts: readonly H[], hash: number | null, exclude: readonly H[] | null, now: number): H | null {
    const start = (Math.random() * hosts.length) | 0;
    let fallback: H | null = null;
    for (let i = 0; i < hosts.length; i++) {
      const h = hosts[(start + i) % hosts.length]!;
      if (!healthy(h, now)) continue;
      if (exclude !== null && exclude.includes(h)) { fallback ??= h; continue; }
      return h;
    }
    return fallback;
  }
}

/** Consistent hashing on a ring of virtual nodes (ring hash; maglev uses the same ring here). */
class RingHash<H extends BalancedHost> implements Balancer<H> {
  #ring: { point: number; host: H }[] = [];
  #hosts: readonly H[] = [];
  #fallback = new RoundRobin<H>();

  pick(hosts: readonly H[], hash: number | null, exclude: readonly H[] | null, now: number): H | null {
    if (hash === null) return this.#fallback.pick(hosts, null, exclude, now);
    if (hosts !== this.#hosts) this.#build(hosts);
    const ring = this.#ring;
    if (ring.length === 0) return null;
    let lo = 0;
    let hi = ring.length;
    while (lo < hi) { const mid = (lo + hi) >>> 1; if (ring[mid]!.point < hash) lo = mid + 1; else hi = mid; }
    for (let i = 0; i < ring.length; i++) {
      const h = ring[(lo + i) % ring.length]!.host;
      if (healthy(h, now) && (exclude === null || !exclude.includes(h))) return h;
    }
    return null;
  }

  #build(hosts: readonly H[]): void {
    this.#hosts = hosts;
    const ring: { point: number; host: H }[] = [];
    const perHost = Math.max(1, Math.ceil(1024 / Math.max(1, hosts.length)));
    for (const h of hosts) for (let i = 0; i < perHost * h.weight; i++) ring.push({ point: hash32(`${h.hashKey}_${i}`), host: h });
    ring.sort((a, b) => a.point - b.point);
    this.#ring = ring;
  }
}

/** FNV-1a, 32 bit: stable across processes, good enough for a hash ring. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193); }
  return h >>> 0;
}

export function createBalancer<H extends BalancedHost>(lb: LoadBalancer): Balancer<H> {
  switch (lb.policy) {
    case 'ROUND_ROBIN': return new RoundRobin<H>();
    case 'RANDOM': return new RandomLb<H>();
    case 'RING_HASH': case 'MAGLEV': return new RingHash<H>();
    default: return new LeastRequest<H>();
  }
}

/**
 * Picks a weighted destination (HTTP route or TCP/TLS route) with one draw in [0, 1) against
 * the cumulative weights. The data plane passes Math.random(); `sluice trace` a fixed draw.
 */
export function pickWeighted(w: { readonly clusters: readonly WeightedCluster[]; readonly totalWeight: number }, draw: number): WeightedCluster {
  const cs = w.clusters;
  if (cs.length === 1 || w.totalWeight <= 0) return cs[0]!;
  const r = draw * w.totalWeight;
  for (let i = 0; i < cs.length; i++) if (r < cs[i]!.cumulative) return cs[i]!;
  return cs[cs.length - 1]!;
}
