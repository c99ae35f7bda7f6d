import cluster from 'node:cluster';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Command } from 'commander';
import { usableCores } from '../cluster/cores.js';
import { runPrimary } from '../cluster/primary.js';
import { certificateFromPrimary, joinPrimary, outlierReporter, primaryLimits, serveAsWorker, workerFailed, workerLeases } from '../cluster/worker.js';
import { startAdmin, type ConfigStatus } from '../admin/admin-server.js';
import { debugTraceHandler } from '../admin/debug-trace.js';
import { formatDiagnostic, hasErrors, type Diagnostic } from '../config/diagnostic.js';
import { parseDurationMs } from '../compile/duration.js';
import { referencedPaths } from '../config/credentials.js';
import { ConfigPipeline } from '../config/pipeline.js';
import { ConfigWatcher } from '../config/watch.js';
import { sourceFlagsError } from '../config/kubernetes/flags.js';
import type { KubernetesSource } from '../config/kubernetes/index.js';
import { readMeshConfigFile } from '../config/mesh.js';
import type { MeshIdentity } from '../security/mesh-identity.js';
import { ProxyRuntime } from '../proxy/runtime.js';
import { MemoryBackend, RateLimitService, readRateLimitConfigFile, RedisBackend, setRateLimitService } from '../proxy/filters/ratelimit/service.js';
import { DnsResolver, parseResolveFlag } from '../proxy/upstream/dns.js';
import type { AccessLogTarget } from '../telemetry/access-log.js';
import { log, setLogLevel, type LogLevel } from '../util/log.js';
import { capYoungGeneration, youngGenerationServing } from '../util/young-generation.js';
import { collect, parseLabels, parsePort, parsePortMap } from './flags.js';

export interface RunFlags {
  config?: string[];
  mode: string;
  labels: string;
  namespace: string;
  serviceAccount: string;
  portMap?: string[];
  listenHost: string;
  adminPort: string;
  adminHost: string;
  mesh?: string;
  credentials?: string;
  resolve?: string[];
  outboundPort: string;
  inboundPort: string;
  appPort?: string;
  meshCaDir?: string;
  workloadCertTtl?: string;
  accessLog: string;
  logLevel: string;
  drainTimeout: string;
  sourceAddress?: string;
  workloadName?: string;
  codec?: string;
  concurrency?: string;
  ratelimitConfig?: string[];
  ratelimitRedis?: string;
  listenerFiltersTimeout?: string;
  requestHeadersTimeout: string;
  source?: string;
  kubeconfig?: string;
  watchNamespace?: string[];
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('serve Istio config from files or the Kubernetes API: the gateway (or sidecar) data plane')
    .option('-c, --config <path>', 'YAML file or folder (repeatable; folders recursively, multi-document; default ./)', collect)
    .option('--mode <mode>', 'gateway | sidecar', 'gateway')
    .option('--labels <k=v,...>', "this workload's labels (Gateway selectors match them)", 'istio=ingressgateway')
    .option('--namespace <ns>', "this workload's namespace", 'istio-system')
    .option('--service-account <sa>', "this workload's service account", 'default')
    .option('--port-map <P=L,...>', 'bind Gateway server port P on local port L (repeatable)', collect)
    .option('--listen-host <host>', 'address to bind listeners on', '0.0.0.0')
    .option('--admin-port <port>', 'admin API port', '15000')
    .option('--admin-host <host>', 'admin API address', '127.0.0.1')
    .option('--mesh <file>', 'Istio MeshConfig YAML')
    .option('--credentials <dir>', 'TLS credentials as DIR/<credentialName>/{tls.crt,tls.key,ca.crt}')
    .option('--resolve <HOST=IP,...>', 'DNS overrides for DNS-resolved hosts (repeatable)', collect)
    .option('--outbound-port <port>', 'sidecar outbound listener', '15001')
    .option('--inbound-port <port>', 'sidecar inbound listener', '15006')
    .option('--app-port <port>', 'sidecar: the application port inbound traffic goes to')
    .option('--mesh-ca-dir <dir>', 'mesh CA folder from `sluice ca init` (ISTIO_MUTUAL)')
    .option('--workload-cert-ttl <duration>', 'lifetime of the workload certificate issued from --mesh-ca-dir (renewed at half-life)', '24h')
    .option('--access-log <target>', 'stdout | off | FILE', 'stdout')
    .option('--log-level <level>', 'debug | info | warn | error', 'info')
    .option('--drain-timeout <seconds>', 'graceful drain on SIGTERM', '5')
    .option('--source-address <ip>', 'bind outbound connections to this local address')
    .option('--workload-name <name>', 'workload name for metrics (default from labels)')
    .option('--codec <codec>', 'downstream HTTP/1.1 codec: fast (llhttp on raw sockets) | node (node:http, the reference)', 'fast')
    .option('--concurrency <n>', 'worker processes sharing the listeners: a number, or auto (the cores, capped by a CPU limit); default auto, at most 2 for a sidecar, 1 with --source kubernetes')
    .option('--ratelimit-config <file>', 'global rate limits: the ratelimit service config (domain + descriptors, or its ConfigMap) (repeatable)', collect)
    .option('--ratelimit-redis <url>', 'global rate limits: Redis shared by replicas, e.g. redis://127.0.0.1:6379 (default: counters in this process)')
    .option('--listener-filters-timeout <duration>', 'time allowed for a TLS ClientHello, and then for the handshake (e.g. 15s, 500ms)', '15s')
    .option('--request-headers-timeout <seconds>', 'time a client has to send its request headers (slowloris guard)', '60')
    .option('--source <source>', 'where config comes from: files (the -c paths) | kubernetes (watch the API server: Istio CRDs, Services, Endpoints/EndpointSlices, Pods, Secrets of --namespace)', 'files')
    .option('--kubeconfig <file>', '--source kubernetes: kubeconfig file (default: in-cluster service account, else $KUBECONFIG or ~/.kube/config)')
    .option('--watch-namespace <ns>', '--source kubernetes: read objects of this namespace only (repeatable; default all namespaces)', collect)
    .action(async (flags: RunFlags) => {
      process.exitCode = await run(flags);
    });
}

function workloadNameOf(labels: Record<string, string>, explicit: string | undefined): string {
  if (explicit !== undefined) return explicit;
  if (labels.app !== undefined) return labels.app;
  if (labels.istio !== undefined) return `istio-${labels.istio}`;
  return 'sluice';
}

function accessLogTarget(v: string): AccessLogTarget {
  if (v === 'off' || v === 'none') return { kind: 'off' };
  if (v === 'stdout' || v === '/dev/stdout' || v === '-') return { kind: 'stdout' };
  return { kind: 'file', path: v };
}

function printDiagnostics(ds: readonly Diagnostic[], minLevel: 'warning' | 'error'): void {
  for (const d of ds) {
    if (minLevel === 'error' && d.level !== 'error') continue;
    if (d.level === 'info') continue;
    process.stderr.write(`${formatDiagnostic(d)}\n`);
  }
}

type AdminRoute = (req: IncomingMessage, url: URL, res: ServerResponse) => void;

/**
 * `/certs` and `/certs/renew` (src/security/admin-certs.ts), loaded on their first request:
 * their X.509 parser costs every gateway process about 10 MB of RSS otherwise.
 */
function lazyCertsRoutes(runtime: ProxyRuntime, identity: MeshIdentity | null): [string, AdminRoute][] {
  const route = (path: string): AdminRoute => (req, url, res) => {
    import('../security/admin-certs.js').then(
      (m) => m.certsAdminRoutes(runtime, identity).get(path)!(req, url, res),
      (e: Error) => { res.statusCode = 500; res.end(`${e.message}\n`); },
    );
  };
  return [['/certs', route('/certs')], ['/certs/renew', route('/certs/renew')]];
}

/**
 * `--concurrency`: a positive number, or `auto` for the cores this process may use (capped by
 * a container's CPU limit). The default is `auto` for a gateway; a sidecar takes at most 2, as
 * Istio's sidecars do; `--source kubernetes` takes 1, as its workers would each open watches.
 */
function parseConcurrency(v: string | undefined, mode: string, source: string | undefined): number {
  if (v === undefined || v === '') return source === 'kubernetes' ? 1 : mode === 'sidecar' ? Math.min(2, usableCores()) : usableCores();
  if (v === 'auto') return usableCores();
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new Error(`--concurrency ${v}: expected a number of worker processes (1-256) or auto`);
  return n;
}

/** --ratelimit-config / --ratelimit-redis → the in-process rate limit service; an error text or null. */
async function configureRateLimits(flags: RunFlags): Promise<string | null> {
  if (flags.ratelimitConfig === undefined && flags.ratelimitRedis === undefined) return null;
  try {
    const domains = (flags.ratelimitConfig ?? []).flatMap((f) => readRateLimitConfigFile(f));
    // Without Redis, the counters of --concurrency workers live in the primary (one gateway, one limit).
    const backend = flags.ratelimitRedis !== undefined ? await RedisBackend.connect(flags.ratelimitRedis) : cluster.isWorker ? primaryLimits : new MemoryBackend();
    setRateLimitService(new RateLimitService(domains, backend));
    log('info', 'ratelimit', `rate limit service: domains [${domains.map((d) => d.domain).join(', ')}], counters in ${backend.name}`);
    return null;
  } catch (e) {
    return `--ratelimit-config: ${(e as Error).message}`;
  }
}

/** `sluice run`: returns the exit code (2 = invalid start-up config or flags). */
export async function run(flags: RunFlags): Promise<number> {
  capYoungGeneration();
  let labels: Record<string, string>;
  let portMap: Map<number, number>;
  let resolve: Map<string, string[]>;
  let adminPort: number;
  let sidecarPorts: { outboundPort: number; inboundPort: number; appPort: number | null };
  let listenerFiltersTimeoutMs: number;
  let concurrency: number;
  try {
    setLogLevel(flags.logLevel as LogLevel);
    if (flags.mode !== 'gateway' && flags.mode !== 'sidecar') throw new Error(`--mode ${flags.mode}: expected gateway or sidecar`);
    labels = parseLabels(flags.labels);
    portMap = parsePortMap(flags.portMap ?? []);
    resolve = parseResolveFlag(flags.resolve ?? []);
    adminPort = parsePort('--admin-port', flags.adminPort);
    if (flags.codec !== undefined && flags.codec !== 'fast' && flags.codec !== 'node') throw new Error(`--codec ${flags.codec}: expected fast or node`);
    sidecarPorts = { outboundPort: parsePort('--outbound-port', flags.outboundPort), inboundPort: parsePort('--inbound-port', flags.inboundPort), appPort: flags.appPort !== undefined ? parsePort('--app-port', flags.appPort) : null };
    const lft = parseDurationMs(flags.listenerFiltersTimeout ?? '15s');
    if (lft === null || lft <= 0) throw new Error(`--listener-filters-timeout ${flags.listenerFiltersTimeout}: expected a duration such as 15s or 500ms`);
    listenerFiltersTimeoutMs = lft;
    concurrency = parseConcurrency(flags.concurrency, flags.mode, flags.source);
    const sourceError = sourceFlagsError({ ...flags, concurrency });
    if (sourceError !== null) throw new Error(sourceError);
  } catch (e) {
    process.stderr.write(`sluice run: ${(e as Error).message}\n`);
    return 2;
  }
  // A worker listens to its primary before it builds anything (key sets, leases, certificate).
  if (cluster.isWorker) joinPrimary();
  const rateLimitError = await configureRateLimits(flags);
  if (rateLimitError !== null) {
    process.stderr.write(`sluice run: ${rateLimitError}\n`);
    return 2;
  }
  const configPaths = flags.source === 'kubernetes' ? [] : flags.config ?? ['./'];
  // --source kubernetes: every object listed before the first build (the gateway is not ready before).
  let kube: KubernetesSource | null = null;
  if (flags.source === 'kubernetes') {
    try {
      const { createKubernetesSource } = await import('../config/kubernetes/index.js');
      kube = createKubernetesSource({ kubeconfig: flags.kubeconfig, namespaces: flags.watchNamespace ?? [], gatewayNamespace: flags.namespace });
    } catch (e) {
      process.stderr.write(`sluice run: ${(e as Error).message}\n`);
      return 2;
    }
    await kube.start();
  }
  // The mesh identity (ISTIO_MUTUAL): issued before the first compile, renewed in the background.
  let identity: MeshIdentity | null = null;
  if (flags.meshCaDir !== undefined) {
    const ttlMs = parseDurationMs(flags.workloadCertTtl ?? '24h');
    if (ttlMs === null || ttlMs < 1000) { process.stderr.write(`sluice run: --workload-cert-ttl ${flags.workloadCertTtl}: expected a duration of at least 1s, e.g. 24h\n`); return 2; }
    try {
      const td = (flags.mesh !== undefined ? (readMeshConfigFile(flags.mesh).trustDomain as string | undefined) : undefined) ?? 'cluster.local';
      // Loaded only with a mesh CA: the X.509 stack is not needed to serve otherwise (RSS).
      const { MeshIdentity } = await import('../security/mesh-identity.js');
      if (cluster.isWorker) {
        // One certificate for the gateway: the primary issued it and renews it.
        identity = await certificateFromPrimary(flags.meshCaDir);
      } else {
        identity = await MeshIdentity.start({ caDir: flags.meshCaDir, trustDomain: td, namespace: flags.namespace, serviceAccount: flags.serviceAccount, ttlMs, onError: (e) => log('error', 'ca', `workload certificate renewal failed (retrying): ${e.message}`) });
        log('info', 'ca', `workload certificate ${identity.certificate().identity} serial ${identity.certificate().serialNumber.toLowerCase()} valid until ${identity.certificate().notAfter.toISOString()}`);
      }
    } catch (e) {
      process.stderr.write(`sluice run: --mesh-ca-dir ${flags.meshCaDir}: ${(e as Error).message}\n`);
      return 2;
    }
  }
  const pipeline = new ConfigPipeline({
    configPaths,
    meshFile: flags.mesh,
    credentialsDir: flags.credentials,
    workload: { mode: flags.mode as 'gateway' | 'sidecar', labels, namespace: flags.namespace, serviceAccount: flags.serviceAccount, portMap, listenHost: flags.listenHost, sidecarPorts },
    ...(kube !== null ? { source: kube } : {}),
    ...(identity !== null ? { meshCa: () => identity!.material() } : {}),
    // A worker (--concurrency) that replaces another one joins at the version the others serve.
    ...(cluster.isWorker ? { firstVersion: Number(process.env.SLUICE_CONFIG_VERSION ?? '1') } : {}),
  });
  let first = pipeline.build();
  if (identity !== null && (first.mesh.trustDomain ?? 'cluster.local') !== identity.trustDomain) {
    // A MeshConfig document in the config set names another trust domain: re-issue for it.
    await identity.setTrustDomain(first.mesh.trustDomain ?? 'cluster.local');
    first = pipeline.build();
  }
  if (cluster.isWorker && hasErrors(first.diagnostics)) return workerFailed(first.diagnostics.filter((d) => d.level === 'error').map(formatDiagnostic));
  // A cluster object that is invalid does not keep the gateway from serving the valid ones (as Istio).
  if (hasErrors(first.diagnostics) && kube === null) {
    printDiagnostics(first.diagnostics, 'warning');
    const n = first.diagnostics.filter((d) => d.level === 'error').length;
    process.stderr.write(`sluice run: the configuration has ${n} error${n === 1 ? '' : 's'}; not starting\n`);
    return 2;
  }
  if (!cluster.isWorker) printDiagnostics(first.diagnostics, 'warning');
  if (concurrency > 1 && cluster.isPrimary) {
    const fixed = [flags.credentials, flags.mesh].filter((x): x is string => x !== undefined);
    return runPrimary({
      concurrency, pipeline, first, configPaths,
      watchExtra: (latest) => [...fixed, ...referencedPaths(latest.store)],
      adminHost: flags.adminHost, adminPort, listenHost: flags.listenHost, drainTimeoutMs: Number(flags.drainTimeout) * 1000,
      identity,
      adminRoutes: (view, latest) => new Map([['/debug/trace', debugTraceHandler(() => ({ snapshot: view.snapshot, store: latest().store }))], ...lazyCertsRoutes(view, identity)]),
    });
  }

  const runtime = new ProxyRuntime({
    initial: first.snapshot,
    dns: new DnsResolver(resolve),
    accessLog: accessLogTarget(flags.accessLog),
    workloadName: workloadNameOf(labels, flags.workloadName),
    sourceAddress: flags.sourceAddress ?? null,
    codec: flags.codec === 'node' ? 'node' : 'fast',
    listenerFiltersTimeoutMs,
    headersTimeoutMs: Number(flags.requestHeadersTimeout) * 1000,
    // Workers count circuit breakers and outlier detection in the primary, for the whole gateway.
    ...(cluster.isWorker ? { resources: workerLeases.factory, outlierSink: outlierReporter } : {}),
  });
  const bindErrors = await runtime.apply(first.snapshot);
  if (cluster.isWorker) {
    if (bindErrors.length > 0) { runtime.listeners.closeAll(); return workerFailed(bindErrors); }
    youngGenerationServing();
    return serveAsWorker(runtime, pipeline, first.snapshot.version, identity);
  }
  if (bindErrors.length > 0) {
    for (const e of bindErrors) process.stderr.write(`sluice run: ${e}\n`);
    runtime.listeners.closeAll();
    return 2;
  }
  // The config the serving snapshot came from: lets /debug/trace name Gateways in its fixes.
  let servingStore = first.store;
  let latestStore = first.store;
  let status: ConfigStatus = { version: first.snapshot.version, appliedAt: runtime.appliedAt.toISOString(), diagnostics: first.diagnostics, heldBack: first.heldBack, lastReloadError: null };

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log('info', 'main', `${signal}: draining (up to ${flags.drainTimeout}s)`);
    watcher.stop();
    kube?.stop();
    identity?.stop();
    admin.close();
    await runtime.drain(Number(flags.drainTimeout) * 1000);
    log('info', 'main', 'drained, exiting');
    process.exit(0);
  };

  let admin: Awaited<ReturnType<typeof startAdmin>>;
  try {
    const source = (): ConfigStatus['source'] => kube?.status() ?? { type: 'files', healthy: true, paths: configPaths };
    admin = await startAdmin(flags.adminHost, adminPort, { runtime, status: () => ({ ...status, source: source() }), onQuit: () => void stop('quitquitquit'), startedAt: new Date(), routes: new Map([['/debug/trace', debugTraceHandler(() => ({ snapshot: runtime.snapshot, store: servingStore }))], ...lazyCertsRoutes(runtime, identity)]) });
  } catch (e) {
    process.stderr.write(`sluice run: admin API cannot bind ${flags.adminHost}:${adminPort}: ${(e as Error).message}\n`);
    runtime.listeners.closeAll();
    return 2;
  }

  const reload = (): void => {
    let result;
    try {
      result = pipeline.build();
    } catch (e) {
      status = { ...status, lastReloadError: (e as Error).stack ?? String(e) };
      log('error', 'config', `reload failed, version ${status.version} keeps serving: ${(e as Error).message}`);
      return;
    }
    latestStore = result.store;
    if (identity !== null && (result.mesh.trustDomain ?? 'cluster.local') !== identity.trustDomain) {
      const td = result.mesh.trustDomain ?? 'cluster.local';
      identity.setTrustDomain(td).then(reload, (e: Error) => log('error', 'ca', `cannot issue a certificate for trust domain ${td}: ${e.message}`));
      return;
    }
    const errors = result.diagnostics.filter((d) => d.level === 'error');
    for (const d of errors) log('warn', 'config', formatDiagnostic(d));
    if (result.heldBack.length > 0) log('warn', 'config', `last good version kept for: ${result.heldBack.join(', ')}`);
    runtime.apply(result.snapshot).then((bindErrs) => {
      for (const e of bindErrs) log('error', 'listener', e);
      status = { version: result.snapshot.version, appliedAt: runtime.appliedAt.toISOString(), diagnostics: result.diagnostics, heldBack: result.heldBack, lastReloadError: bindErrs.length > 0 ? bindErrs.join('; ') : null };
      servingStore = result.store;
      log('info', 'config', `config version ${result.snapshot.version} serving (${result.snapshot.listeners.length} listeners, ${result.snapshot.clusters.size} clusters)`);
    }, (e: Error) => log('error', 'config', `applying version ${result.snapshot.version} failed: ${e.message}`));
  };
  identity?.onRenewed((c) => {
    log('info', 'ca', `workload certificate renewed: serial ${c.serialNumber.toLowerCase()} valid until ${c.notAfter.toISOString()}; new handshakes use it`);
    reload();
  });
  // Certificate files named by the config are watched too: rotating one is a reload.
  const fixedExtra = [flags.credentials, flags.mesh].filter((x): x is string => x !== undefined);
  const watcher = new ConfigWatcher(configPaths, () => [...fixedExtra, ...referencedPaths(latestStore)], reload);
  watcher.start();
  kube?.subscribe(reload);

  // Last line of defence: a bug reached by one request must not take every other one down.
  process.on('uncaughtException', (e) => log('error', 'main', `uncaught exception (serving continues): ${e.stack ?? String(e)}`));
  process.on('unhandledRejection', (e) => log('error', 'main', `unhandled rejection (serving continues): ${(e as Error)?.stack ?? String(e)}`));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  const ports = runtime.listeners.boundPorts();
  const sidecarBound = runtime.sidecar.bound();
  const summary = [
    ...first.snapshot.listeners.map((l) => `${l.name}→${flags.listenHost}:${ports.get(l.name) ?? l.bindPort}`),
    ...[...sidecarBound].map(([name, port]) => `${name}→${flags.listenHost}:${port}`),
  ].join(', ');
  log('info', 'main', `sluice ready: config version ${first.snapshot.version}, listeners [${summary || 'none'}], admin http://${flags.adminHost}:${adminPort}`);
  youngGenerationServing();
  return new Promise<number>(() => {}); // runs until a signal
}
