import type { OutlierDetectionConfig } from '../compile/snapshot.js';
import type { ClusterManager, ClusterRuntime, HostRuntime } from '../proxy/upstream/cluster-manager.js';
import { ejectionAllowed, OutlierCounters, type OutlierSink } from '../proxy/upstream/outlier.js';
import type { ToPrimary, ToWorker } from './protocol.js';

// Outlier detection across worker processes. Envoy's detectors count every worker thread's
// results for a host; here the primary counts them. A worker reports errors, and the first
// success after an error streak (which the primary announces to all workers), so healthy
// traffic sends nothing. When a detector trips the primary ejects the host in every worker.

type OutlierReport = Extract<ToPrimary, { t: 'outlier' }>;

/** The worker's sink: results worth counting go to the primary. */
export class OutlierReporter implements OutlierSink {
  /** Hosts with an error streak somewhere in the gateway: their next success resets it. */
  readonly #streaking = new WeakSet<HostRuntime>();
  readonly #send: (m: OutlierReport) => void;

  constructor(send: (m: OutlierReport) => void) {
    this.#send = send;
  }

  record(cluster: ClusterRuntime, host: HostRuntime, status: number, localOriginFailure: boolean): void {
    if (localOriginFailure || status >= 500) this.#streaking.add(host);
    else if (!this.#streaking.delete(host)) return;
    this.#send({ t: 'outlier', cluster: cluster.config.name, host: host.hashKey, status, local: localOriginFailure, hosts: cluster.hosts.length });
  }

  /** What the primary says about a host: an error streak started, or an ejection. */
  apply(clusters: ClusterManager, m: Extract<ToWorker, { t: 'streak' | 'eject' }>, self: number): void {
    const c = clusters.get(m.cluster);
    const h = c?.host(m.host);
    if (c === undefined || h === undefined) return;
    if (m.t === 'streak') this.#streaking.add(h);
    else c.eject(h, m.until, m.ejections, m.reporter === self);
  }
}

interface HostState {
  readonly counters: OutlierCounters;
  ejectedUntil: number;
  ejections: number;
}

/** The primary's detectors: one set of counters per cluster host for all workers. */
export class OutlierTable {
  readonly #hosts = new Map<string, Map<string, HostState>>();

  /**
   * Counts a worker's report against `od`. Returns what every worker must hear: a streak
   * start (so their next success reports), an ejection, or nothing.
   */
  record(m: OutlierReport, od: OutlierDetectionConfig, reporter: number): Extract<ToWorker, { t: 'streak' | 'eject' }> | null {
    let hosts = this.#hosts.get(m.cluster);
    if (hosts === undefined) this.#hosts.set(m.cluster, (hosts = new Map()));
    let h = hosts.get(m.host);
    if (h === undefined) hosts.set(m.host, (h = { counters: new OutlierCounters(), ejectedUntil: 0, ejections: 0 }));
    const started = !h.counters.streak;
    if (!h.counters.record(od, m.status, m.local)) {
      return started && h.counters.streak ? { t: 'streak', cluster: m.cluster, host: m.host } : null;
    }
    const now = Date.now();
    let ejected = 0;
    for (const x of hosts.values()) if (x.ejectedUntil > now) ejected++;
    if (!ejectionAllowed(od, ejected, m.hosts)) return null;
    h.counters.reset();
    h.ejections++;
    h.ejectedUntil = now + od.baseEjectionTimeMs * h.ejections;
    return { t: 'eject', cluster: m.cluster, host: m.host, until: h.ejectedUntil, ejections: h.ejections, reporter };
  }
}
