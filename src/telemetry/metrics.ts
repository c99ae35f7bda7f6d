import { Counter, Registry, type LabelValues, type Metric } from 'prom-client';
import { HttpSeries, SeriesMetric } from './series.js';
import type { Cluster, Workload } from '../compile/snapshot.js';
import { getHeader } from '../proxy/http/headers.js';
import { formatResponseFlags } from '../proxy/http/response-flags.js';
import type { HttpStream } from '../proxy/http/stream.js';
import type { TcpSession } from '../proxy/tcp/tcp-session.js';
import type { ClusterManager } from '../proxy/upstream/cluster-manager.js';
import { TelemetryMetrics } from './metric-overrides.js';

// Istio's standard metrics, labels as Istio's stats plugin sets them. A gateway reports as
// `source` (Istio: reporter="source" for clients and gateways).

const LABELS = [
  'reporter', 'source_workload', 'source_workload_namespace', 'source_principal', 'source_app', 'source_version',
  'source_canonical_service', 'source_canonical_revision', 'source_cluster',
  'destination_workload', 'destination_workload_namespace', 'destination_principal', 'destination_app', 'destination_version',
  'destination_service', 'destination_service_name', 'destination_service_namespace',
  'destination_canonical_service', 'destination_canonical_revision', 'destination_cluster',
  'request_protocol', 'response_code', 'grpc_response_status', 'response_flags', 'connection_security_policy',
] as const;
type Label = (typeof LABELS)[number];

export const DURATION_BUCKETS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];
export const SIZE_BUCKETS = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000];

interface TcpChildren {
  opened: { inc(v?: number): void };
  closed: { inc(v?: number): void };
  sent: { inc(v?: number): void };
  received: { inc(v?: number): void };
}

/** `reviews.default.svc.cluster.local` → name `reviews`, namespace `default`. */
function serviceParts(host: string): { name: string; namespace: string } {
  const m = /^([^.]+)\.([^.]+)\.svc\./.exec(host);
  if (m !== null) return { name: m[1]!, namespace: m[2]! };
  return { name: host, namespace: 'unknown' };
}

export class IstioMetrics {
  readonly registry = new Registry();
  /** HTTP series by cluster name, then by a number packing code, flags, grpc and TLS. */
  readonly #httpSeries = new Map<string, Map<number, HttpSeries>>();
  readonly #allHttp: HttpSeries[] = [];
  readonly #tcpOpened: Counter<Label>;
  readonly #tcpClosed: Counter<Label>;
  readonly #tcpSent: Counter<Label>;
  readonly #tcpReceived: Counter<Label>;
  readonly #tcp = new Map<string, TcpChildren>();
  readonly #source: Record<string, string>;
  /** Series reshaped by Telemetry metric overrides (metric-overrides.ts); used only with a Telemetry config. */
  readonly #overrides = new TelemetryMetrics(DURATION_BUCKETS, SIZE_BUCKETS);

  constructor(workload: Workload, workloadName: string, clusters: ClusterManager) {
    const registers = [this.registry];
    // The per-request HTTP metrics are plain counters in HttpSeries (no label hashing per
    // request); these registry entries read them at scrape time.
    const all = this.#allHttp;
    const requests = new SeriesMetric('istio_requests_total', 'Total requests handled by an Istio proxy', 'counter', all, (x) => x.requests);
    const duration = new SeriesMetric('istio_request_duration_milliseconds', 'Duration of requests', 'histogram', all, (x) => x.duration);
    const requestBytes = new SeriesMetric('istio_request_bytes', 'Size of requests', 'histogram', all, (x) => x.requestBytes);
    const responseBytes = new SeriesMetric('istio_response_bytes', 'Size of responses', 'histogram', all, (x) => x.responseBytes);
    for (const m of [requests, duration, requestBytes, responseBytes]) this.registry.registerMetric(m as unknown as Metric);
    this.#tcpOpened = new Counter({ name: 'istio_tcp_connections_opened_total', help: 'TCP connections opened', labelNames: LABELS, registers });
    this.#tcpClosed = new Counter({ name: 'istio_tcp_connections_closed_total', help: 'TCP connections closed', labelNames: LABELS, registers });
    this.#tcpSent = new Counter({ name: 'istio_tcp_sent_bytes_total', help: 'Bytes sent during TCP connections', labelNames: LABELS, registers });
    this.#tcpReceived = new Counter({ name: 'istio_tcp_received_bytes_total', help: 'Bytes received during TCP connections', labelNames: LABELS, registers });
    const app = workload.labels.app ?? workloadName;
    this.#source = {
      reporter: 'source',
      source_workload: workloadName,
      source_workload_namespace: workload.namespace,
      source_principal: workload.mode === 'sidecar' ? `spiffe://${workload.trustDomain}/ns/${workload.namespace}/sa/${workload.serviceAccount}` : 'unknown',
      source_app: app,
      source_version: workload.labels.version ?? 'unknown',
      source_canonical_service: workload.labels['service.istio.io/canonical-name'] ?? app,
      source_canonical_revision: workload.labels['service.istio.io/canonical-revision'] ?? workload.labels.version ?? 'latest',
      source_cluster: 'Kubernetes',
    };
    registerClusterStats(this.registry, clusters);
    this.#overrides.attach(requests, 'REQUEST_COUNT');
    this.#overrides.attach(duration, 'REQUEST_DURATION');
    this.#overrides.attach(requestBytes, 'REQUEST_SIZE');
    this.#overrides.attach(responseBytes, 'RESPONSE_SIZE');
    this.#overrides.attach(this.#tcpOpened, 'TCP_OPENED_CONNECTIONS');
    this.#overrides.attach(this.#tcpClosed, 'TCP_CLOSED_CONNECTIONS');
    this.#overrides.attach(this.#tcpSent, 'TCP_SENT_BYTES');
    this.#overrides.attach(this.#tcpReceived, 'TCP_RECEIVED_BYTES');
  }

  #destination(clusterName: string, cluster: Cluster | undefined): Record<string, string> {
    const host = cluster?.serviceHost ?? (clusterName.split('|')[3] ?? 'unknown');
    const { name, namespace } = serviceParts(host);
    return {
      destination_workload: 'unknown',
      destination_workload_namespace: namespace,
      destination_principal: 'unknown',
      destination_app: 'unknown',
      destination_version: cluster?.subset !== undefined && cluster.subset !== '' ? cluster.subset : 'unknown',
      destination_service: host === '' ? 'unknown' : host,
      destination_service_name: name === '' ? 'unknown' : name,
      destination_service_namespace: namespace,
      destination_canonical_service: name === '' ? 'unknown' : name,
      destination_canonical_revision: 'latest',
      destination_cluster: 'unknown',
    };
  }

  #httpLabels(s: HttpStream, grpc: boolean): Record<string, string> {
    return {
      ...this.#source,
      ...this.#destination(s.clusterName, s.conn.proxy.clusters.get(s.clusterName)?.config),
      request_protocol: grpc ? 'grpc' : 'http',
      response_code: String(s.responseCode),
      grpc_response_status: '',
      response_flags: formatResponseFlags(s.responseFlags),
      connection_security_policy: 'unknown',
    };
  }

  #tcpLabels(s: TcpSession, flags: string): Record<string, string> {
    return { ...this.#source, ...this.#destination(s.clusterName, s.conn.proxy.clusters.get(s.clusterName)?.config), request_protocol: 'tcp', response_code: '0', grpc_response_status: '', response_flags: flags, connection_security_policy: 'unknown' };
  }

  recordHttp(s: HttpStream): void {
    const grpc = s.protocol === 'HTTP/2' && getHeader(s.headers, 'content-type')?.startsWith('application/grpc') === true;
    const key = ((s.responseFlags * 1000 + s.responseCode) * 2 + (grpc ? 1 : 0)) * 2 + (s.conn.tls ? 1 : 0);
    // A Telemetry metrics config (metric-overrides.ts) records the request itself.
    const t = s.snapshot.telemetry;
    if (t != null && this.#overrides.recordHttp(s, t, `${s.clusterName}|${key}`, () => this.#httpLabels(s, grpc))) return;
    let byKey = this.#httpSeries.get(s.clusterName);
    if (byKey === undefined) this.#httpSeries.set(s.clusterName, (byKey = new Map()));
    let series = byKey.get(key);
    if (series === undefined) {
      series = new HttpSeries(this.#httpLabels(s, grpc), DURATION_BUCKETS, SIZE_BUCKETS);
      byKey.set(key, series);
      this.#allHttp.push(series);
    }
    series.requests++;
    series.duration.observe(performance.now() - s.startMs);
    series.requestBytes.observe(s.bytesReceived);
    series.responseBytes.observe(s.bytesSent);
  }

  recordTcp(s: TcpSession): void {
    const flags = formatResponseFlags(s.responseFlags);
    const key = `${s.clusterName}|${flags}`;
    const t = s.conn.snapshot.telemetry;
    if (t != null && this.#overrides.recordTcp(s, t, key, () => this.#tcpLabels(s, flags))) return;
    let ch = this.#tcp.get(key);
    if (ch === undefined) {
      const labels = this.#tcpLabels(s, flags) as LabelValues<Label>;
      ch = { opened: this.#tcpOpened.labels(labels), closed: this.#tcpClosed.labels(labels), sent: this.#tcpSent.labels(labels), received: this.#tcpReceived.labels(labels) };
      this.#tcp.set(key, ch);
    }
    ch.opened.inc();
    ch.closed.inc();
    ch.sent.inc(s.bytesSent);
    ch.received.inc(s.bytesReceived);
  }
}

/** Envoy's per-cluster counters, read at scrape time from the cluster runtimes. */
function registerClusterStats(registry: Registry, clusters: ClusterManager): void {
  const stats = ['upstream_rq_total', 'upstream_rq_completed', 'upstream_rq_pending_overflow', 'upstream_rq_retry', 'upstream_rq_timeout', 'upstream_rq_per_try_timeout', 'upstream_cx_connect_fail', 'outlier_detection_ejections_enforced_total'] as const;
  for (const stat of stats) {
    new Counter({
      name: `envoy_cluster_${stat}`,
      help: `Envoy cluster stat ${stat}`,
      labelNames: ['cluster_name'],
      registers: [registry],
      collect() {
        this.reset();
        for (const c of clusters.all()) this.labels({ cluster_name: c.config.name }).inc(c.stats[stat]);
      },
    });
  }
  new Counter({
    name: 'envoy_cluster_upstream_rq',
    help: 'Upstream responses by status class',
    labelNames: ['cluster_name', 'envoy_response_code_class'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of clusters.all()) {
        c.stats.byClass.forEach((n, cls) => { if (n > 0) this.labels({ cluster_name: c.config.name, envoy_response_code_class: String(cls) }).inc(n); });
      }
    },
  });
}
