import cluster, { type Worker } from 'node:cluster';
import type { Server } from 'node:http';
import { AggregatorRegistry } from 'prom-client';
import { startAdmin, type ConfigStatus } from '../admin/admin-server.js';
import { formatDiagnostic } from '../config/diagnostic.js';
import type { BuildResult, ConfigPipeline } from '../config/pipeline.js';
import { ConfigWatcher } from '../config/watch.js';
import type { Snapshot } from '../compile/snapshot.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { MemoryBackend } from '../proxy/filters/ratelimit/service.js';
import type { ProxyRuntime } from '../proxy/runtime.js';
import type { MeshIdentity } from '../security/mesh-identity.js';
import { log } from '../util/log.js';
import { isMessage, toWire, type ToPrimary, type ToWorker, type WorkerStatsView } from './protocol.js';
import { takeInPrimary } from './token-buckets.js';
import { LeaseTable } from './leases.js';
import { jwksSourceByKey, onJwksFetched } from '../security/jwks.js';
import { OutlierTable } from './outliers.js';

export interface PrimaryOptions {
  concurrency: number;
  pipeline: ConfigPipeline;
  first: BuildResult;
  configPaths: readonly string[];
  /** Files besides the config that trigger a reload (credentials, mesh file, referenced certs). */
  watchExtra: (latest: BuildResult) => string[];
  adminHost: string;
  adminPort: number;
  listenHost: string;
  drainTimeoutMs: number;
  /** The primary's own mesh identity (its snapshot and /certs use it); renewals rebuild everyone. */
  identity: MeshIdentity | null;
  /** Extra admin routes, given what the admin API reads and the latest build. */
  adminRoutes?: (view: ProxyRuntime, latest: () => BuildResult) => Map<string, (req: IncomingMessage, url: URL, res: ServerResponse) => void>;
}

/** Time the admin API waits for every worker's answer. */
const ASK_TIMEOUT_MS = 2000;

interface WorkerState {
  worker: Worker;
  ready: boolean;
  version: number;
}

/** One cluster as /stats and /clusters read it, summed over the workers. */
interface ClusterSum {
  config: { name: string };
  resources: { connections: { max: number } };
  stats: Record<string, number | number[]> & { byClass: number[] };
  hosts: { id: string; activeRequests: number; ejectedUntil: number }[];
  dnsError: string;
}

/**
 * What the admin API reads, for a primary that serves no traffic itself: the primary's own
 * snapshot (same files, same version as the workers'), and stats gathered from the workers.
 */
class WorkersView {
  snapshot: Snapshot;
  appliedAt = new Date();
  readonly #primary: Primary;
  #clusters: ClusterSum[] = [];
  /** The filters' counters (rate limit, JWT, RBAC), summed over the workers. */
  filters = new Map<string, number>();
  readonly listeners: { draining: boolean; boundPorts(): Map<string, number> };
  readonly metrics: { registry: { contentType: string; metrics(): Promise<string> } };
  readonly clusters = { all: (): ClusterSum[] => this.#clusters };

  constructor(primary: Primary, snapshot: Snapshot) {
    this.#primary = primary;
    this.snapshot = snapshot;
    this.listeners = { draining: false, boundPorts: () => primary.ports };
    this.metrics = {
      registry: {
        contentType: AggregatorRegistry.PROMETHEUS_CONTENT_TYPE,
        // Counters and histograms summed over the workers (prom-client's cluster aggregation).
        metrics: async () => AggregatorRegistry.aggregate((await primary.ask('metrics')) as Parameters<typeof AggregatorRegistry.aggregate>[0]).metrics(),
      },
    };
  }

  async refresh(): Promise<void> {
    const views = (await this.#primary.ask('clusters')) as WorkerStatsView[];
    const byName = new Map<string, ClusterSum>();
    const filters = new Map<string, number>();
    for (const view of views) {
      for (const [k, n] of Object.entries(view.filters)) filters.set(k, (filters.get(k) ?? 0) + n);
      for (const v of view.clusters) {
        let c = byName.get(v.name);
        if (c === undefined) {
          c = { config: { name: v.name }, resources: { connections: { max: v.maxConnections } }, stats: { byClass: [0, 0, 0, 0, 0, 0] }, hosts: [], dnsError: v.dnsError };
          byName.set(v.name, c);
        }
        const stats = c.stats;
        for (const [k, n] of Object.entries(v.stats)) stats[k] = ((stats[k] as number | undefined) ?? 0) + n;
        v.byClass.forEach((n, i) => { stats.byClass[i] = (stats.byClass[i] ?? 0) + n; });
        for (const h of v.hosts) {
          const mine = c.hosts.find((x) => x.id === h.id);
          if (mine === undefined) c.hosts.push({ ...h });
          else { mine.activeRequests += h.activeRequests; mine.ejectedUntil = Math.max(mine.ejectedUntil, h.ejectedUntil); }
        }
        if (v.dnsError !== '') c.dnsError = v.dnsError;
      }
    }
    this.#clusters = [...byName.values()];
    this.filters = filters;
  }
}

class Primary {
  readonly o: PrimaryOptions;
  readonly workers = new Map<number, WorkerState>();
  /** Global rate limit counters of all workers when no Redis is configured. */
  readonly limits = new MemoryBackend();
  /** Circuit breakers: every finite limit, leased out to the workers. */
  readonly leases = new LeaseTable({
    leased: (w, id, n) => this.#sendTo(w, { t: 'leased', id, n }),
    reclaim: (w, key) => this.#sendTo(w, { t: 'reclaim', key }),
    workers: () => this.workers.size,
  });
  /** Outlier detection's counters for all workers. */
  readonly outliers = new OutlierTable();
  ports = new Map<string, number>();
  view: WorkersView;
  status: ConfigStatus & { workers?: { pid: number; version: number }[] };
  latest: BuildResult;
  stopping = false;
  #nextAsk = 1;
  readonly #answers = new Map<number, { left: Set<number>; data: unknown[]; done: () => void }>();
  #onAllReady: ((errors: string[]) => void) | null = null;
  #startErrors: string[] = [];

  constructor(o: PrimaryOptions) {
    this.o = o;
    this.latest = o.first;
    this.view = new WorkersView(this, o.first.snapshot);
    this.status = { version: o.first.snapshot.version, appliedAt: new Date().toISOString(), diagnostics: o.first.diagnostics, heldBack: o.first.heldBack, lastReloadError: null };
  }

  fork(): void {
    // A replacement worker starts at the version the others serve.
    const w = cluster.fork({ SLUICE_CONFIG_VERSION: String(this.status.version) });
    const st: WorkerState = { worker: w, ready: false, version: 0 };
    this.workers.set(w.id, st);
    w.on('message', (m: unknown) => { if (isMessage(m)) this.#onMessage(st, m as ToPrimary); });
  }

  /** Resolves when every worker bound its listeners, with the errors of those that could not. */
  waitReady(): Promise<string[]> {
    return new Promise((resolve) => { this.#onAllReady = resolve; });
  }

  #onMessage(st: WorkerState, m: ToPrimary): void {
    switch (m.t) {
      case 'ready':
        st.ready = true;
        st.version = m.version;
        if (m.errors.length > 0) this.#startErrors.push(...m.errors);
        for (const [name, port] of m.ports) this.ports.set(name, port);
        this.#checkAllReady();
        return;
      case 'applied':
        st.version = m.version;
        if (m.errors.length > 0) {
          for (const e of m.errors) log('error', 'listener', `worker ${st.worker.process.pid ?? '?'}: ${e}`);
          this.status = { ...this.status, lastReloadError: m.errors.join('; ') };
        }
        this.#checkApplied();
        return;
      case 'answer': {
        const a = this.#answers.get(m.id);
        if (a === undefined) return;
        a.data.push(m.data);
        a.left.delete(st.worker.id);
        if (a.left.size === 0) a.done();
        return;
      }
      case 'incr':
        void this.limits.increment(m.keys, m.hits).then((totals) => {
          if (st.worker.isConnected()) st.worker.send({ t: 'incred', id: m.id, totals } satisfies ToWorker);
        });
        return;
      case 'jwks': {
        const src = jwksSourceByKey(m.key);
        const reply = (): void => this.#sendTo(st.worker.id, { t: 'jwks', id: m.id, key: m.key, ...(src?.held() ?? { text: '', fetchedAt: 0, error: `no key set ${m.key} in the primary's config` }) });
        if (src === undefined) { reply(); return; }
        // The primary fetches for the gateway: once at first, then on its refresh interval,
        // and when a worker meets an unknown kid (every worker then gets the new keys).
        src.start();
        void (m.unknownKid !== null ? src.refetchForUnknownKid(m.unknownKid) : m.why === 'initial fetch' ? src.whenSettled() : src.refresh(m.why)).then(reply);
        return;
      }
      case 'identity':
        if (this.o.identity !== null) this.#sendTo(st.worker.id, this.certificateMessage(this.o.identity));
        return;
      case 'lease':
        this.leases.lease(st.worker.id, m.id, m.key, m.max, m.want);
        return;
      case 'forced':
        this.leases.forced(st.worker.id, m.key, m.max);
        return;
      case 'returned':
        this.leases.returned(st.worker.id, m.key, m.n);
        return;
      case 'outlier': {
        const od = this.latest.snapshot.clusters.get(m.cluster)?.outlier;
        const out = od != null ? this.outliers.record(m, od, st.worker.id) : null;
        if (out !== null) this.broadcast(out);
        return;
      }
      case 'take': {
        const r = takeInPrimary(m.key, m.spec);
        const reply: ToWorker = { t: 'taken', id: m.id, ok: r.ok, remaining: r.remaining, msToNextFill: r.msToNextFill };
        if (st.worker.isConnected()) st.worker.send(reply);
        return;
      }
    }
  }

  #checkAllReady(): void {
    if (this.#onAllReady === null) return;
    for (const st of this.workers.values()) if (!st.ready) return;
    const done = this.#onAllReady;
    this.#onAllReady = null;
    done(this.#startErrors);
  }

  #checkApplied(): void {
    const want = this.latest.snapshot.version;
    for (const st of this.workers.values()) if (st.version !== want) return;
    this.status = { ...this.status, version: want, appliedAt: new Date().toISOString(), workers: this.workerVersions() };
    this.view.appliedAt = new Date();
    const s = this.latest.snapshot;
    log('info', 'config', `config version ${s.version} serving on ${this.workers.size} workers (${s.listeners.length} listeners, ${s.clusters.size} clusters)`);
  }

  workerVersions(): { pid: number; version: number }[] {
    return [...this.workers.values()].map((st) => ({ pid: st.worker.process.pid ?? 0, version: st.version }));
  }

  #sendTo(workerId: number, m: ToWorker): void {
    const st = this.workers.get(workerId);
    if (st !== undefined && st.worker.isConnected()) st.worker.send(m);
  }

  certificateMessage(id: MeshIdentity): ToWorker {
    return { t: 'certificate', cert: toWire(id.certificate()), trustDomain: id.trustDomain };
  }

  broadcast(m: ToWorker): void {
    for (const st of this.workers.values()) if (st.worker.isConnected()) st.worker.send(m);
  }

  /** Asks every live worker; resolves with the answers that came within ASK_TIMEOUT_MS. */
  ask(what: 'metrics' | 'clusters'): Promise<unknown[]> {
    const id = this.#nextAsk++;
    const live = [...this.workers.values()].filter((st) => st.ready && st.worker.isConnected());
    return new Promise((resolve) => {
      const data: unknown[] = [];
      let timer: NodeJS.Timeout | null = null;
      const done = (): void => {
        if (timer !== null) clearTimeout(timer);
        this.#answers.delete(id);
        resolve(data);
      };
      if (live.length === 0) { resolve(data); return; }
      this.#answers.set(id, { left: new Set(live.map((st) => st.worker.id)), data, done });
      timer = setTimeout(done, ASK_TIMEOUT_MS);
      for (const st of live) st.worker.send({ t: 'ask', id, what } satisfies ToWorker);
    });
  }

  reload(): void {
    let result: BuildResult;
    try {
      result = this.o.pipeline.build();
    } catch (e) {
      this.status = { ...this.status, lastReloadError: (e as Error).stack ?? String(e) };
      log('error', 'config', `reload failed, version ${this.status.version} keeps serving: ${(e as Error).message}`);
      return;
    }
    const td = result.mesh.trustDomain ?? 'cluster.local';
    const id = this.o.identity;
    if (id !== null && td !== id.trustDomain) {
      // One more build once the certificate for the new trust domain exists; workers get it first.
      id.setTrustDomain(td).then(() => {
        this.broadcast(this.certificateMessage(id));
        this.#broadcastBuild(this.o.pipeline.build(), true);
      }, (e: Error) => log('error', 'ca', `cannot issue a certificate for trust domain ${td}: ${e.message}`));
      return;
    }
    this.#broadcastBuild(result, true);
  }

  #broadcastBuild(result: BuildResult, send = false): void {
    this.latest = result;
    for (const d of result.diagnostics.filter((x) => x.level === 'error')) log('warn', 'config', formatDiagnostic(d));
    if (result.heldBack.length > 0) log('warn', 'config', `last good version kept for: ${result.heldBack.join(', ')}`);
    this.view.snapshot = result.snapshot;
    this.status = { version: this.status.version, appliedAt: this.status.appliedAt, diagnostics: result.diagnostics, heldBack: result.heldBack, lastReloadError: null, workers: this.workerVersions() };
    // Every worker builds the same files again: the same resources, the same version number.
    if (send) this.broadcast({ t: 'reload' });
    this.#checkApplied();
  }
}

/**
 * `sluice run --concurrency N` in the primary process: forks N workers that serve the
 * listeners, and keeps what must be one per gateway — the admin API (stats summed over the
 * workers), the file watcher (a change reloads every worker), the rate-limit token buckets,
 * and the drain on SIGTERM. A worker that dies is replaced.
 */
export async function runPrimary(o: PrimaryOptions): Promise<number> {
  const p = new Primary(o);
  // The primary fetches JWKS for the gateway: every fetch's keys go to every worker.
  onJwksFetched((key, r) => p.broadcast({ t: 'jwks', id: 0, key, ...r }));
  for (let i = 0; i < o.concurrency; i++) p.fork();
  const startErrors = await p.waitReady();
  if (startErrors.length > 0) {
    for (const e of new Set(startErrors)) process.stderr.write(`sluice run: ${e}\n`);
    p.stopping = true;
    for (const st of p.workers.values()) st.worker.kill();
    return 2;
  }
  p.status = { ...p.status, workers: [...p.workers.values()].map((st) => ({ pid: st.worker.process.pid ?? 0, version: st.version })) };

  cluster.on('exit', (w, code, signal) => {
    const st = p.workers.get(w.id);
    p.workers.delete(w.id);
    p.leases.workerGone(w.id);
    if (p.stopping || st === undefined) return;
    log('error', 'main', `worker ${w.process.pid ?? '?'} exited (${signal ?? code}); starting a new one`);
    p.fork();
  });

  let admin: Server | null = null;
  const watcher = new ConfigWatcher(o.configPaths, () => o.watchExtra(p.latest), () => p.reload());
  const stop = async (why: string): Promise<void> => {
    if (p.stopping) return;
    p.stopping = true;
    log('info', 'main', `${why}: draining ${p.workers.size} workers (up to ${o.drainTimeoutMs / 1000}s)`);
    watcher.stop();
    o.identity?.stop();
    p.view.listeners.draining = true;
    admin?.close();
    const exited = [...p.workers.values()].map((st) => new Promise<void>((r) => { if (st.worker.isDead()) r(); else st.worker.once('exit', () => r()); }));
    // A worker still starting has no connections yet and might miss the message: stop it now.
    for (const st of p.workers.values()) if (!st.ready) st.worker.process.kill('SIGKILL');
    p.broadcast({ t: 'drain', timeoutMs: o.drainTimeoutMs });
    const killer = setTimeout(() => { for (const st of p.workers.values()) st.worker.process.kill('SIGKILL'); }, o.drainTimeoutMs + 3000);
    await Promise.all(exited);
    clearTimeout(killer);
    log('info', 'main', 'drained, exiting');
    process.exit(0);
  };

  try {
    admin = await startAdmin(o.adminHost, o.adminPort, {
      runtime: p.view as unknown as ProxyRuntime,
      status: () => ({ ...p.status, workers: p.workerVersions() }),
      onQuit: () => void stop('quitquitquit'),
      startedAt: new Date(),
      refresh: () => p.view.refresh(),
      filterStats: () => p.view.filters,
      ...(o.adminRoutes !== undefined ? { routes: o.adminRoutes(p.view as unknown as ProxyRuntime, () => p.latest) } : {}),
    });
  } catch (e) {
    process.stderr.write(`sluice run: admin API cannot bind ${o.adminHost}:${o.adminPort}: ${(e as Error).message}\n`);
    p.stopping = true;
    for (const st of p.workers.values()) st.worker.kill();
    return 2;
  }

  watcher.start();
  // One certificate for the gateway: the primary renews it, every worker gets it, then rebuilds.
  o.identity?.onRenewed((c) => {
    log('info', 'ca', `workload certificate renewed: serial ${c.serialNumber.toLowerCase()} valid until ${c.notAfter.toISOString()}; new handshakes use it`);
    p.broadcast(p.certificateMessage(o.identity!));
    p.reload();
  });
  process.on('uncaughtException', (e) => log('error', 'main', `uncaught exception (serving continues): ${e.stack ?? String(e)}`));
  process.on('unhandledRejection', (e) => log('error', 'main', `unhandled rejection (serving continues): ${(e as Error)?.stack ?? String(e)}`));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  const s = o.first.snapshot;
  const summary = s.listeners.map((l) => `${l.name}→${o.listenHost}:${p.ports.get(l.name) ?? l.bindPort}`).join(', ');
  log('info', 'main', `sluice ready: config version ${s.version}, ${o.concurrency} workers, listeners [${summary || 'none'}], admin http://${o.adminHost}:${o.adminPort}`);
  return new Promise<number>(() => {});
}
