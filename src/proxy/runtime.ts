import type { Snapshot } from '../compile/snapshot.js';
import { AccessLog, formatHttpLine, formatRefusedLine, formatTcpLine, type AccessLogTarget } from '../telemetry/access-log.js';
import { compileAccessLogFormat, type AccessLogFormat } from '../telemetry/access-log-format.js';
import { IstioMetrics } from '../telemetry/metrics.js';
import { TelemetryRuntime } from '../telemetry/telemetry-runtime.js';
import { log } from '../util/log.js';
import { FastHttp1Codec } from './codec/fast-http1.js';
import { NodeHttp1Codec, setClientErrorHook } from './codec/node-http1.js';
import { onSnapshotApplied } from './filters/index.js';
import { NodeHttp2Codec } from './codec/node-http2.js';
import type { Http1ServerCodec, HttpStream, ProxyContext } from './http/stream.js';
import { ListenerManager } from './listener/listener-manager.js';
import { SidecarListeners } from './sidecar/sidecar-listeners.js';
import type { TcpSession } from './tcp/tcp-session.js';
import { ClusterManager } from './upstream/cluster-manager.js';
import type { OutlierSink } from './upstream/outlier.js';
import type { ResourceFactory } from './upstream/resources.js';
import type { DnsResolver } from './upstream/dns.js';

export interface RuntimeOptions {
  initial: Snapshot;
  dns: DnsResolver;
  accessLog: AccessLogTarget;
  workloadName: string;
  sourceAddress?: string | null;
  headersTimeoutMs?: number;
  /** Downstream HTTP/1.1 codec: `fast` (llhttp on raw sockets, the default) or `node` (node:http, the reference). */
  codec?: 'fast' | 'node';
  /** ClientHello / TLS handshake deadline (`--listener-filters-timeout`), default 15 s. */
  listenerFiltersTimeoutMs?: number;
  /** A worker of `--concurrency N`: circuit breakers leased from the primary. */
  resources?: ResourceFactory;
  /** A worker of `--concurrency N`: outlier detection counted by the primary. */
  outlierSink?: OutlierSink;
}

/**
 * The data plane of one process: the current snapshot (swapped by reference on reload),
 * listeners, codecs, upstream clusters and telemetry. Requests read `snapshot` once when
 * they start, so in-flight work finishes on the config it began with.
 */
export class ProxyRuntime implements ProxyContext {
  snapshot: Snapshot;
  readonly clusters: ClusterManager;
  readonly listeners: ListenerManager;
  /** Sidecar mode: the outbound explicit proxy and the inbound listener. */
  readonly sidecar: SidecarListeners;
  readonly accessLog: AccessLog;
  readonly metrics: IstioMetrics;
  /** Telemetry API access logs and tracing (used only when the snapshot has a Telemetry config). */
  readonly telemetry: TelemetryRuntime;
  readonly h1: Http1ServerCodec;
  readonly h2: NodeHttp2Codec;
  /** When the current snapshot started serving. */
  appliedAt = new Date();
  /** meshConfig.accessLogFormat, compiled; null = Istio's default line. */
  #logFormat: AccessLogFormat | null = null;
  readonly #dnsOverride: (host: string) => string[] | undefined;

  constructor(o: RuntimeOptions) {
    this.snapshot = o.initial;
    this.#dnsOverride = (host) => o.dns.override(host);
    this.clusters = new ClusterManager({
      dns: o.dns,
      sourceAddress: o.sourceAddress ?? null,
      ...(o.resources !== undefined ? { resources: o.resources } : {}),
      ...(o.outlierSink !== undefined ? { outlierSink: o.outlierSink } : {}),
    });
    this.accessLog = new AccessLog(o.accessLog);
    this.metrics = new IstioMetrics(o.initial.workload, o.workloadName, this.clusters);
    this.telemetry = new TelemetryRuntime(this.accessLog, o.dns);
    this.telemetry.apply(o.initial.telemetry);
    const idle = 3_600_000;
    const h1Options = { idleTimeoutMs: idle, headersTimeoutMs: o.headersTimeoutMs ?? 60_000 };
    this.h1 = o.codec === 'node' ? new NodeHttp1Codec(h1Options) : new FastHttp1Codec(h1Options);
    this.h2 = new NodeHttp2Codec(idle);
    this.listeners = new ListenerManager(this, this.h1, this.h2, {
      connectionRefused: (l, socket, reason, sni, kind) => {
        log('warn', 'listener', `${l.name}: connection from ${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}${sni !== '' ? ` (SNI ${sni})` : ''} closed: ${reason}`);
        // Istio's listener access log records connections no filter chain accepted (NR).
        if (kind === 'no_filter_chain' && this.accessLog.enabled && !this.telemetry.logsDisabled(this.snapshot.telemetry)) this.accessLog.write(formatRefusedLine(socket, sni));
      },
    }, { listenerFiltersTimeoutMs: o.listenerFiltersTimeoutMs ?? 15_000 });
    this.sidecar = new SidecarListeners(this, this.h1, this.h2, {
      connectionRefused: (l, socket, reason, sni) => {
        log('warn', 'listener', `${l.name}: connection from ${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}${sni !== '' ? ` (SNI ${sni})` : ''} closed: ${reason}`);
      },
    });
    setClientErrorHook((status, code, socket) => {
      log('info', 'http', `${status} for malformed request from ${socket.remoteAddress ?? '?'}: ${code}`);
    });
  }

  /** Makes `snapshot` live: clusters first (routes may name new ones), then the swap, then listeners. */
  async apply(snapshot: Snapshot): Promise<string[]> {
    onSnapshotApplied(snapshot, this.#dnsOverride);
    this.clusters.update(snapshot);
    this.#useLogFormat(snapshot.accessLogFormat ?? null);
    this.telemetry.apply(snapshot.telemetry);
    this.snapshot = snapshot;
    this.appliedAt = new Date();
    const errors = await this.listeners.update(snapshot);
    return [...errors, ...(await this.sidecar.update(snapshot))];
  }

  #useLogFormat(text: string | null): void {
    if ((this.#logFormat?.text ?? null) === text) return;
    this.#logFormat = text === null ? null : compileAccessLogFormat(text);
    if (this.#logFormat !== null && this.#logFormat.unknown.length > 0) log('warn', 'accesslog', `accessLogFormat: ${this.#logFormat.unknown.join(', ')} not supported by Sluice; printed as -`);
  }

  onStreamComplete(s: HttpStream): void {
    const t = s.snapshot.telemetry;
    if (t == null || !this.telemetry.onHttpComplete(s, t)) {
      const f = this.#logFormat;
      if (this.accessLog.enabled) this.accessLog.write(f === null ? formatHttpLine(s) : f.http(s));
    }
    this.metrics.recordHttp(s);
  }

  onTcpComplete(s: TcpSession): void {
    const t = s.conn.snapshot.telemetry;
    if (t == null || !this.telemetry.onTcpComplete(s, t)) {
      const f = this.#logFormat;
      if (this.accessLog.enabled) this.accessLog.write(f === null ? formatTcpLine(s) : f.tcp(s));
    }
    this.metrics.recordTcp(s);
  }

  /**
   * Graceful drain: stop accepting, ask keep-alive clients to go (Connection: close /
   * GOAWAY), wait for open connections up to `timeoutMs`, then close what is left.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.listeners.stopAccepting();
    this.sidecar.stopAccepting();
    this.h1.drain();
    this.h2.drain();
    const deadline = Date.now() + timeoutMs;
    while (this.listeners.openConnections() + this.sidecar.openConnections() > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    this.listeners.closeAll();
    this.sidecar.closeAll();
    this.clusters.close();
    await this.telemetry.close();
    await this.accessLog.close();
  }
}
