import type { ConfigPipeline } from '../config/pipeline.js';
import type { ProxyRuntime } from '../proxy/runtime.js';
import { log } from '../util/log.js';
import { isMessage, type ToPrimary, type ToWorker, type WorkerClusterView } from './protocol.js';
import { RemoteBucketStore } from './token-buckets.js';

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
      maxConnections: c.limits.maxConnections,
      stats,
      byClass: [...c.stats.byClass],
      hosts: c.hosts.map((h) => ({ id: h.id, activeRequests: h.activeRequests, ejectedUntil: h.ejectedUntil })),
      dnsError: c.dnsError,
    });
  }
  return out;
}

/**
 * Routes the local rate limit filter's buckets through the primary, when that filter is part
 * of this build (it lives in src/proxy/filters/local-ratelimit/).
 */
async function shareTokenBuckets(store: RemoteBucketStore): Promise<void> {
  const url = new URL('../proxy/filters/local-ratelimit/token-bucket.js', import.meta.url).href;
  let mod: { setTokenBucketStore?: (s: unknown) => void } | null = null;
  try {
    mod = (await import(url)) as { setTokenBucketStore?: (s: unknown) => void };
  } catch {
    return; // no local rate limit filter in this build
  }
  mod.setTokenBucketStore?.(store);
}

/**
 * A worker of `sluice run --concurrency N`: serves the listeners (shared by node:cluster) with
 * its own runtime built from the same files as the primary, and does what the primary says:
 * reload, drain, report stats. It never watches files or serves the admin API itself.
 */
export async function serveAsWorker(runtime: ProxyRuntime, pipeline: ConfigPipeline, version: number): Promise<number> {
  const buckets = new RemoteBucketStore((id, key, spec) => send({ t: 'take', id, key, spec }));
  await shareTokenBuckets(buckets);
  let draining = false;
  process.on('message', (m: unknown) => {
    if (!isMessage(m)) return;
    const msg = m as ToWorker;
    switch (msg.t) {
      case 'reload': {
        let result;
        try {
          result = pipeline.build();
        } catch (e) {
          log('error', 'config', `worker ${process.pid}: reload failed: ${(e as Error).message}`);
          send({ t: 'applied', version: -1, errors: [(e as Error).message] });
          return;
        }
        runtime.apply(result.snapshot).then(
          (errors) => send({ t: 'applied', version: result.snapshot.version, errors }),
          (e: Error) => send({ t: 'applied', version: -1, errors: [e.message] }),
        );
        return;
      }
      case 'drain':
        if (draining) return;
        draining = true;
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
    }
  });
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
