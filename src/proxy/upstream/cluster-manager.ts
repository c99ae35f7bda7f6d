import type { Cluster, Snapshot, TlsSecret } from '../../compile/snapshot.js';
import { DnsResolver, DNS_REFRESH_MS } from './dns.js';
import { Http1Pool, type PoolLimits } from './http1-pool.js';
import { Http2Pool } from './http2-pool.js';
import { createBalancer, type BalancedHost, type Balancer } from './load-balancer.js';
import { ejectionAllowed, OutlierCounters, type OutlierSink } from './outlier.js';
import { ClusterResources, ResourceRegistry, type ResourceFactory } from './resources.js';
import { buildClientTls, makeConnector, sniFor, type ClientTlsContext } from './transport.js';

/** Counters per cluster, named as Envoy's cluster stats (`cluster.<name>.<stat>`). */
export class ClusterStats {
  upstream_rq_total = 0;
  upstream_rq_completed = 0;
  upstream_rq_pending_overflow = 0;
  upstream_cx_overflow = 0;
  upstream_rq_retry = 0;
  upstream_rq_retry_overflow = 0;
  upstream_rq_timeout = 0;
  upstream_rq_per_try_timeout = 0;
  upstream_cx_connect_fail = 0;
  upstream_rq_rx_reset = 0;
  outlier_detection_ejections_enforced_total = 0;
  readonly byClass = [0, 0, 0, 0, 0, 0];
}

/** One upstream endpoint (resolved address) and its pools, keyed by SNI when TLS varies. */
export class HostRuntime implements BalancedHost {
  readonly address: string;
  readonly port: number;
  /** The endpoint as configured (a DNS name for DNS clusters). */
  readonly hostname: string;
  readonly weight: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly hashKey: string;
  activeRequests = 0;
  ejectedUntil = 0;
  ejections = 0;
  /** Outlier detection's consecutive-error counters (this process's; the primary's with `--concurrency`). */
  readonly outlier = new OutlierCounters();
  readonly #cluster: ClusterRuntime;
  readonly #pools = new Map<string, Http1Pool>();
  readonly #h2pools = new Map<string, Http2Pool>();

  constructor(cluster: ClusterRuntime, address: string, port: number, hostname: string, weight: number, labels: Readonly<Record<string, string>>) {
    this.#cluster = cluster;
    this.address = address;
    this.port = port;
    this.hostname = hostname;
    this.weight = weight;
    this.labels = labels;
    this.hashKey = `${address}:${port}`;
  }

  /** `address:port`, as %UPSTREAM_HOST% prints it. */
  get id(): string {
    return this.address.includes(':') ? `[${this.address}]:${this.port}` : `${this.address}:${this.port}`;
  }

  pool(requestHost: string): Http1Pool {
    const c = this.#cluster;
    const sni = c.tls !== null ? sniFor(c.config, c.tls.config, requestHost) : '';
    let p = this.#pools.get(sni);
    if (p === undefined) {
      p = new Http1Pool(c.limits, makeConnector(this.address, this.port, c.tls, sni, c.sourceAddress, undefined, true));
      this.#pools.set(sni, p);
    }
    return p;
  }

  /** HTTP/2 connections to this endpoint (cluster protocol http2, h2UpgradePolicy, useClientProtocol). */
  h2Pool(requestHost: string): Http2Pool {
    const c = this.#cluster;
    const sni = c.tls !== null ? sniFor(c.config, c.tls.config, requestHost) : '';
    let p = this.#h2pools.get(sni);
    if (p === undefined) {
      const authority = this.address.includes(':') ? `[${this.address}]:${this.port}` : `${this.address}:${this.port}`;
      p = new Http2Pool(c.limits, makeConnector(this.address, this.port, c.tls, sni, c.sourceAddress, ['h2']), authority);
      this.#h2pools.set(sni, p);
    }
    return p;
  }

  close(): void {
    for (const p of this.#pools.values()) p.close();
    this.#pools.clear();
    for (const p of this.#h2pools.values()) p.close();
    this.#h2pools.clear();
  }
}

/**
 * The live side of a Cluster: resolved hosts, load balancer, pools and circuit breaker
 * counters. It outlives snapshots while the cluster's config is unchanged, so reloads keep
 * connections warm.
 */
export class ClusterRuntime {
  readonly config: Cluster;
  readonly fingerprint: string;
  readonly stats = new ClusterStats();
  readonly limits: PoolLimits;
  /** Circuit breakers: connections, pending requests, requests and retries. */
  readonly resources: ClusterResources;
  readonly tls: ClientTlsContext | null;
  readonly sourceAddress: string | null;
  hosts: HostRuntime[] = [];
  /** Last DNS failure, for logs and the admin view. */
  dnsError = '';
  readonly #balancer: Balancer<HostRuntime>;
  readonly #dns: DnsResolver;
  readonly #outlierSink: OutlierSink | null;
  #resolved = false;
  #waiters: (() => void)[] = [];
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  /** original_dst: hosts created on demand per destination. */
  readonly #dynamic = new Map<string, HostRuntime>();

  constructor(config: Cluster, fingerprint: string, dns: DnsResolver, secrets: ReadonlyMap<string, TlsSecret>, sourceAddress: string | null, resources: ResourceRegistry, outlierSink: OutlierSink | null) {
    this.config = config;
    this.fingerprint = fingerprint;
    this.#dns = dns;
    this.sourceAddress = sourceAddress;
    this.#outlierSink = outlierSink;
    this.#balancer = createBalancer<HostRuntime>(config.lb);
    this.resources = new ClusterResources(resources, config.name, config.pool);
    const stats = this.stats;
    this.limits = {
      resources: this.resources,
      onConnectionOverflow: () => { stats.upstream_cx_overflow++; },
      maxRequestsPerConnection: config.pool.maxRequestsPerConnection,
      maxConcurrentStreams: Math.max(1, config.pool.maxConcurrentStreams ?? 2 ** 31 - 1),
      idleTimeoutMs: config.pool.idleTimeoutMs,
      connectTimeoutMs: config.pool.connectTimeoutMs,
      maxConnectionDurationMs: config.pool.maxConnectionDurationMs,
    };
    this.tls = config.tls !== null ? buildClientTls(config.tls, secrets) : null;
    if (config.type === 'strict_dns') this.#resolve();
    else {
      this.hosts = config.endpoints.map((e) => new HostRuntime(this, e.address, e.port, e.address, e.weight, e.labels));
      this.#resolved = true;
    }
  }

  get ready(): boolean {
    return this.#resolved;
  }

  /** Calls back once the first DNS resolution finished (at once for static clusters). */
  whenReady(cb: () => void): void {
    if (this.#resolved) cb();
    else this.#waiters.push(cb);
  }

  pick(hash: number | null, exclude: readonly HostRuntime[] | null): HostRuntime | null {
    const hosts = this.hosts;
    if (hosts.length === 0) return null;
    let now = Date.now();
    // outlierDetection.minHealthPercent is Envoy's panic threshold: below it, ejections are
    // ignored and every host takes traffic (Istio's default 0 % never panics).
    const min = this.config.outlier?.minHealthPercent ?? 0;
    if (min > 0) {
      let healthy = 0;
      for (const h of hosts) if (h.ejectedUntil <= now) healthy++;
      if ((healthy * 100) / hosts.length < min) now = Number.POSITIVE_INFINITY;
    }
    return this.#balancer.pick(hosts, hash, exclude, now);
  }

  /** original_dst clusters: the host the request itself names. */
  dynamicHost(address: string, port: number, hostname: string): HostRuntime {
    const key = `${address}:${port}`;
    let h = this.#dynamic.get(key);
    if (h === undefined) this.#dynamic.set(key, (h = new HostRuntime(this, address, port, hostname, 1, {})));
    return h;
  }

  resolveName(name: string, cb: (err: Error | null, addresses: string[]) => void): void {
    this.#dns.resolve(name, cb);
  }

  /** Like resolveName, honouring `--resolve HOST:PORT=IP:PORT` redirects. */
  resolveEndpoint(name: string, port: number, cb: (err: Error | null, endpoints: { address: string; port: number }[]) => void): void {
    this.#dns.resolveEndpoint(name, port, cb);
  }

  /** Outlier detection: record an upstream result for `h` (Envoy's consecutive-error detectors). */
  recordResult(h: HostRuntime, status: number, localOriginFailure: boolean): void {
    const od = this.config.outlier;
    if (od === null) return;
    if (this.#outlierSink !== null) { this.#outlierSink.record(this, h, status, localOriginFailure); return; }
    if (!h.outlier.record(od, status, localOriginFailure)) return;
    const now = Date.now();
    if (!ejectionAllowed(od, this.hosts.filter((x) => x.ejectedUntil > now).length, this.hosts.length)) return;
    h.outlier.reset();
    this.eject(h, now + od.baseEjectionTimeMs * (h.ejections + 1), h.ejections + 1, true);
  }

  /** Takes `h` out of load balancing until `until` (its `ejections`-th time). */
  eject(h: HostRuntime, until: number, ejections: number, counted: boolean): void {
    h.ejections = ejections;
    h.ejectedUntil = until;
    if (counted) this.stats.outlier_detection_ejections_enforced_total++;
  }

  /** The host with `hashKey` (`address:port`), also among original_dst hosts. */
  host(hashKey: string): HostRuntime | undefined {
    return this.hosts.find((h) => h.hashKey === hashKey) ?? this.#dynamic.get(hashKey);
  }

  #resolve(): void {
    const names = this.config.endpoints;
    let left = names.length;
    const next: HostRuntime[] = [];
    const errors: string[] = [];
    const done = (): void => {
      if (this.#closed) return;
      // A failed lookup keeps the hosts of the last good one (Envoy keeps serving them).
      if (errors.length < names.length || this.hosts.length === 0) {
        // Keep the runtime (and pool) of addresses that did not change.
        const old = new Map(this.hosts.map((h) => [`${h.address}:${h.port}`, h]));
        this.hosts = next.map((h) => {
          const prev = old.get(`${h.address}:${h.port}`);
          if (prev !== undefined) { old.delete(`${h.address}:${h.port}`); return prev; }
          return h;
        });
        for (const h of old.values()) h.close();
      }
      this.dnsError = errors.join('; ');
      if (!this.#resolved) {
        this.#resolved = true;
        for (const w of this.#waiters.splice(0)) w();
      }
      this.#timer = setTimeout(() => this.#resolve(), DNS_REFRESH_MS);
      this.#timer.unref();
    };
    if (left === 0) { done(); return; }
    for (const e of names) {
      this.#dns.resolveEndpoint(e.address, e.port, (err, eps) => {
        if (err !== null) errors.push(`${e.address}: ${(err as NodeJS.ErrnoException).code ?? err.message}`);
        for (const a of eps) next.push(new HostRuntime(this, a.address, a.port, e.address, e.weight, e.labels));
        if (--left === 0) done();
      });
    }
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    for (const h of this.hosts) h.close();
    for (const h of this.#dynamic.values()) h.close();
    for (const w of this.#waiters.splice(0)) w();
  }
}

export interface ClusterManagerOptions {
  dns: DnsResolver;
  /** Bind outbound connections to this source address (egress "fixed source IP"). */
  sourceAddress?: string | null;
  /** Circuit breakers across processes (`--concurrency` > 1): leased from the primary. Default: this process's own counters. */
  resources?: ResourceFactory;
  /** Outlier detection across processes: results go to the primary, which ejects for every worker. */
  outlierSink?: OutlierSink;
}

/** Reconciles cluster runtimes with each new snapshot. */
export class ClusterManager {
  readonly #clusters = new Map<string, ClusterRuntime>();
  readonly #dns: DnsResolver;
  readonly #sourceAddress: string | null;
  readonly #resources: ResourceRegistry;
  readonly #outlierSink: OutlierSink | null;

  constructor(o: ClusterManagerOptions) {
    this.#dns = o.dns;
    this.#sourceAddress = o.sourceAddress ?? null;
    this.#resources = new ResourceRegistry(o.resources);
    this.#outlierSink = o.outlierSink ?? null;
  }

  get(name: string): ClusterRuntime | undefined {
    return this.#clusters.get(name);
  }

  all(): IterableIterator<ClusterRuntime> {
    return this.#clusters.values();
  }

  update(snapshot: Snapshot): void {
    const seen = new Set<string>();
    for (const [name, config] of snapshot.clusters) {
      seen.add(name);
      const fp = fingerprint(config, snapshot.secrets);
      const cur = this.#clusters.get(name);
      if (cur !== undefined && cur.fingerprint === fp) continue;
      this.#clusters.set(name, new ClusterRuntime(config, fp, this.#dns, snapshot.secrets, this.#sourceAddress, this.#resources, this.#outlierSink));
      // The old runtime's busy connections finish their exchange; idle ones close now.
      cur?.close();
    }
    for (const [name, rt] of this.#clusters) {
      if (!seen.has(name)) { rt.close(); this.#clusters.delete(name); }
    }
  }

  close(): void {
    for (const rt of this.#clusters.values()) rt.close();
    this.#clusters.clear();
  }
}

function fingerprint(c: Cluster, secrets: ReadonlyMap<string, TlsSecret>): string {
  let fp = JSON.stringify(c);
  if (c.tls !== null) {
    for (const n of [c.tls.caSecret, c.tls.certSecret]) {
      if (n === null) continue;
      const s = secrets.get(n);
      fp += `|${s?.cert ?? ''}|${s?.key ?? ''}|${s?.ca ?? ''}`;
    }
  }
  return fp;
}
