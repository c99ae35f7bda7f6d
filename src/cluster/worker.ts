import type { BuildResult, ConfigPipeline } from '../config/pipeline.js';
import type { ProxyRuntime } from '../proxy/runtime.js';
import type { MeshIdentity } from '../security/mesh-identity.js';
import { log } from '../util/log.js';
import { isMessage, type ToPrimary, type ToWorker, type WorkerClusterView } from './protocol.js';
import { setTokenBucketStore } from '../proxy/filters/local-ratelimit/token-bucket.js';
import { RemoteBucketStore } from './token-buckets.js';
import cluster from 'node:cluster';
import { WorkerLeases } from './leases.js';
import { OutlierReporter } from './outliers.js';

function send(m: ToPrimary): void {
  if (process.connected) process.send!(m);
}

/** This worker's clusters, for the primary's /stats and /clusters. */
function clusterViews(rt: ProxyRuntime): WorkerClusterView[] {
  const out: WorkerClusterView[] = [];
  for (const c of rt.clusters.all()) {
    const stats: Record<string, number> = {};
    for (const [k, v] of Object.entries(c.stats)) if (typeof v === 'number') stats[k] = v;
    out.push({
      name: c.config.name,
      maxConnections: c.resources.connections.max,
      stats,
      byClass: [...c.stats.byClass],
      hosts: c.hosts.map((h) => ({ id: h.id, activeRequests: h.activeRequests, ejectedUntil: h.ejectedUntil })),
      dnsError: c.dnsError,
    });
  }
  return out;
}

/**
 * The global rate limit counters of a worker when no Redis is configured: they live in the
 * primary, so the limit holds for the whole gateway (LimitBackend of the rate limit service).
 */
export class PrimaryLimitBackend {
  readonly name = 'memory (primary process)';
  readonly #pending = new Map<number, (totals: number[]) => void>();
  #nextId = 1;

  increment(keys: readonly { key: string; ttlSeconds: number }[], hits: number): Promise<number[]> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      send({ t: 'incr', id, keys: [...keys], hits });
    });
  }

  answered(id: number, totals: number[]): void {
    const r = this.#pending.get(id);
    if (r === undefined) return;
    this.#pending.delete(id);
    r(totals);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export const primaryLimits = new PrimaryLimitBackend();

/** Circuit breakers of a worker: slots leased from the primary (ClusterManager's resource factory). */
export const workerLeases = new WorkerLeases({
  lease: (id, key, max, want) => send({ t: 'lease', id, key, max, want }),
  forced: (key, max) => send({ t: 'forced', key, max }),
  returned: (key, n) => send({ t: 'returned', key, n }),
});

/** Outlier detection of a worker: results go to the primary (ClusterManager's outlier sink). */
export const outlierReporter = new OutlierReporter(send);

/** A build that follows the mesh config's trust domain, as `sluice run` does (one extra build when it changed). */
async function buildFollowingTrustDomain(pipeline: ConfigPipeline, identity: MeshIdentity | null): Promise<BuildResult> {
  const result = pipeline.build();
  const td = result.mesh.trustDomain ?? 'cluster.local';
  if (identity === null || td === identity.trustDomain) return result;
  await identity.setTrustDomain(td);
  return pipeline.build();
}
export { buildFollowingTrustDomain };

/**
 * A worker of `sluice run --concurrency N`: serves the listeners (shared by node:cluster) with
 * its own runtime built from the same files as the primary, and does what the primary says:
 * reload, drain, report stats. It never watches files or serves the admin API itself.
 */
export async function serveAsWorker(runtime: ProxyRuntime, pipeline: ConfigPipeline, version: number, identity: MeshIdentity | null): Promise<number> {
  // The local rate limit filter's buckets live in the primary: one bucket for the gateway.
  const buckets = new RemoteBucketStore((id, key, spec) => send({ t: 'take', id, key, spec }));
  setTokenBucketStore(buckets);
  let draining = false;
  process.on('message', (m: unknown) => {
    if (!isMessage(m)) return;
    const msg = m as ToWorker;
    switch (msg.t) {
      case 'reload':
        buildFollowingTrustDomain(pipeline, identity).then(
          (result) => runtime.apply(result.snapshot).then(
            (errors) => send({ t: 'applied', version: result.snapshot.version, errors }),
            (e: Error) => send({ t: 'applied', version: -1, errors: [e.message] }),
          ),
          (e: Error) => {
            log('error', 'config', `worker ${process.pid}: reload failed: ${e.message}`);
            send({ t: 'applied', version: -1, errors: [e.message] });
          },
        );
        return;
      case 'drain':
        if (draining) return;
        draining = true;
        identity?.stop();
        void runtime.drain(msg.timeoutMs).then(() => process.exit(0));
        return;
      case 'ask':
        if (msg.what === 'metrics') {
          void runtime.metrics.registry.getMetricsAsJSON().then((data) => send({ t: 'answer', id: msg.id, data }));
        } else {
          send({ t: 'answer', id: msg.id, data: clusterViews(runtime) });
        }
        return;
      case 'taken':
        buckets.answered(msg.id, msg.ok, msg.remaining, msg.msToNextFill);
        return;
      case 'incred':
        primaryLimits.answered(msg.id, msg.totals);
        return;
      case 'leased':
        workerLeases.leased(msg.id, msg.n);
        return;
      case 'reclaim':
        workerLeases.reclaim(msg.key);
        return;
      case 'streak':
      case 'eject':
        outlierReporter.apply(runtime.clusters, msg, cluster.worker?.id ?? 0);
        return;
    }
  });
  // A renewed workload certificate reaches new handshakes through a rebuild; the primary has
  // every worker rebuild so that their config versions stay equal.
  identity?.onRenewed(() => send({ t: 'renewed' }));
  // The primary coordinates shutdown; a worker whose primary is gone stops at once.
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => {});
  process.on('SIGINT', () => {});
  process.on('uncaughtException', (e) => log('error', 'main', `worker ${process.pid}: uncaught exception (serving continues): ${e.stack ?? String(e)}`));
  process.on('unhandledRejection', (e) => log('error', 'main', `worker ${process.pid}: unhandled rejection (serving continues): ${(e as Error)?.stack ?? String(e)}`));
  send({ t: 'ready', version, ports: [...runtime.listeners.boundPorts()], errors: [] });
  return new Promise<number>(() => {});
}

/** A worker whose first build or bind failed reports it and exits (the primary prints it). */
export function workerFailed(errors: string[]): number {
  send({ t: 'ready', version: -1, ports: [], errors });
  return 2;
}
