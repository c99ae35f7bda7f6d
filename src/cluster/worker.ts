import cluster from 'node:cluster';
import type { BuildResult, ConfigPipeline } from '../config/pipeline.js';
import { setTokenBucketStore } from '../proxy/filters/local-ratelimit/token-bucket.js';
import { filterCounterValues } from '../proxy/filters/stats.js';
import type { ProxyRuntime } from '../proxy/runtime.js';
import { jwksSourceByKey, setJwksDelegate, type JwksFetchResult } from '../security/jwks.js';
import type { MeshIdentity } from '../security/mesh-identity.js';
import type { WorkloadCertificate } from '../security/workload-cert.js';
import { log } from '../util/log.js';
import { WorkerLeases } from './leases.js';
import { OutlierReporter } from './outliers.js';
import { fromWire, isMessage, type ToPrimary, type ToWorker, type WorkerClusterView, type WorkerStatsView } from './protocol.js';
import { RemoteBucketStore } from './token-buckets.js';

// A worker of `sluice run --concurrency N`. What must be one per gateway lives in the primary,
// and the worker's side of each is here: token buckets, global rate limit counters (without
// Redis), circuit-breaker leases, outlier detection, JWKS key sets and the workload
// certificate. joinPrimary() installs them before the worker builds anything, so no answer
// from the primary can arrive before its listener.

function send(m: ToPrimary): void {
  if (process.connected) process.send!(m);
}

/** Questions to the primary waiting for their answer, by id. */
class Pending<T> {
  readonly #waiting = new Map<number, (v: T) => void>();
  #nextId = 1;

  ask(post: (id: number) => void): Promise<T> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve);
      post(id);
    });
  }

  answered(id: number, v: T): void {
    const r = this.#waiting.get(id);
    if (r === undefined) return;
    this.#waiting.delete(id);
    r(v);
  }
}

const incrs = new Pending<number[]>();
const jwksFetches = new Pending<JwksFetchResult>();

/**
 * The global rate limit counters of a worker when no Redis is configured: they live in the
 * primary, so the limit holds for the whole gateway (LimitBackend of the rate limit service).
 */
export const primaryLimits = {
  name: 'memory (primary process)',
  increment: (keys: readonly { key: string; ttlSeconds: number }[], hits: number): Promise<number[]> =>
    incrs.ask((id) => send({ t: 'incr', id, keys: [...keys], hits })),
  close: (): Promise<void> => Promise.resolve(),
};

/** Circuit breakers of a worker: slots leased from the primary (ClusterManager's resource factory). */
export const workerLeases = new WorkerLeases({
  lease: (id, key, max, want) => send({ t: 'lease', id, key, max, want }),
  forced: (key, max) => send({ t: 'forced', key, max }),
  returned: (key, n) => send({ t: 'returned', key, n }),
});

/** Outlier detection of a worker: results go to the primary (ClusterManager's outlier sink). */
export const outlierReporter = new OutlierReporter(send);

/** What the handler needs once the worker serves (null while it starts). */
interface Serving {
  runtime: ProxyRuntime;
  pipeline: ConfigPipeline;
  identity: MeshIdentity | null;
  draining: boolean;
}

let serving: Serving | null = null;
let identity: MeshIdentity | null = null;
let joined = false;

/** Connects this worker to the primary: installs the shared stores and starts listening to it. */
export function joinPrimary(): void {
  if (joined) return;
  joined = true;
  // The local rate limit filter's buckets live in the primary: one bucket for the gateway.
  const buckets = new RemoteBucketStore((id, key, spec) => send({ t: 'take', id, key, spec }));
  setTokenBucketStore(buckets);
  // JWKS: the primary fetches for every worker.
  setJwksDelegate({ fetch: (key, why, unknownKid) => jwksFetches.ask((id) => send({ t: 'jwks', id, key, why, unknownKid })) });
  process.on('message', (m: unknown) => {
    if (!isMessage(m)) return;
    const msg = m as ToWorker;
    switch (msg.t) {
      case 'taken':
        buckets.answered(msg.id, msg.ok, msg.remaining, msg.msToNextFill);
        return;
      case 'incred':
        incrs.answered(msg.id, msg.totals);
        return;
      case 'leased':
        workerLeases.leased(msg.id, msg.n);
        return;
      case 'reclaim':
        workerLeases.reclaim(msg.key);
        return;
      case 'jwks': {
        const r = { text: msg.text, fetchedAt: msg.fetchedAt, error: msg.error };
        if (msg.id > 0) jwksFetches.answered(msg.id, r);
        else jwksSourceByKey(msg.key)?.adopt(r);
        return;
      }
      case 'certificate':
        // The primary renewed (or re-issued) the certificate; its `reload` follows.
        identity?.follow(fromWire(msg.cert), msg.trustDomain);
        return;
      default:
        if (serving !== null) onServingMessage(serving, msg);
    }
  });
  // The primary coordinates shutdown; a worker whose primary is gone stops at once.
  process.on('disconnect', () => process.exit(0));
}

function onServingMessage(w: Serving, msg: ToWorker): void {
  const runtime = w.runtime;
  switch (msg.t) {
    case 'reload':
      buildFollowingTrustDomain(w.pipeline, w.identity).then(
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
      if (w.draining) return;
      w.draining = true;
      w.identity?.stop();
      void runtime.drain(msg.timeoutMs).then(() => process.exit(0));
      return;
    case 'ask':
      if (msg.what === 'metrics') {
        void runtime.metrics.registry.getMetricsAsJSON().then((data) => send({ t: 'answer', id: msg.id, data }));
      } else {
        send({ t: 'answer', id: msg.id, data: { clusters: clusterViews(runtime), filters: filterCounterValues() } satisfies WorkerStatsView });
      }
      return;
    case 'streak':
    case 'eject':
      outlierReporter.apply(runtime.clusters, msg, cluster.worker?.id ?? 0);
      return;
    default:
  }
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

/** A starting worker's workload certificate: the one the primary issued for the gateway. */
export async function certificateFromPrimary(caDir: string): Promise<MeshIdentity> {
  const got = await new Promise<{ cert: WorkloadCertificate; trustDomain: string }>((resolve) => {
    const on = (m: unknown): void => {
      if (!isMessage(m) || m.t !== 'certificate') return;
      process.off('message', on);
      const msg = m as Extract<ToWorker, { t: 'certificate' }>;
      resolve({ cert: fromWire(msg.cert), trustDomain: msg.trustDomain });
    };
    process.on('message', on);
    send({ t: 'identity' });
  });
  const { MeshIdentity } = await import('../security/mesh-identity.js');
  identity = MeshIdentity.following(got.cert, got.trustDomain, caDir);
  return identity;
}

/** A build that follows the mesh config's trust domain, as `sluice run` does (one extra build when it changed). */
export async function buildFollowingTrustDomain(pipeline: ConfigPipeline, identity: MeshIdentity | null): Promise<BuildResult> {
  const result = pipeline.build();
  const td = result.mesh.trustDomain ?? 'cluster.local';
  if (identity === null || td === identity.trustDomain) return result;
  await identity.setTrustDomain(td);
  return pipeline.build();
}

/**
 * Serves the listeners (shared by node:cluster) with this worker's runtime, built from the
 * same files as the primary, and does what the primary says: reload, drain, report stats.
 * It never watches files or serves the admin API itself.
 */
export async function serveAsWorker(runtime: ProxyRuntime, pipeline: ConfigPipeline, version: number, id: MeshIdentity | null): Promise<number> {
  joinPrimary();
  serving = { runtime, pipeline, identity: id, draining: false };
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
