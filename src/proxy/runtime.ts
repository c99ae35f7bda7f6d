import type { Snapshot } from '../compile/snapshot.js';
import { AccessLog, formatHttpLine, formatRefusedLine, formatTcpLine, type AccessLogTarget } from '../telemetry/access-log.js';
import { IstioMetrics } from '../telemetry/metrics.js';
import { log } from '../util/log.js';
import { FastHttp1Codec } from './codec/fast-http1.js';
import { NodeHttp1Codec, setClientErrorHook } from './codec/node-http1.js';
import './filters/index.js';
import { NodeHttp2Codec } from './codec/node-http2.js';
import type { Http1ServerCodec, HttpStream, ProxyContext } from './http/stream.js';
import { ListenerManager } from './listener/listener-manager.js';
import type { TcpSession } from './tcp/tcp-session.js';
import { ClusterManager } from './upstream/cluster-manager.js';
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
  readonly accessLog: AccessLog;
  readonly metrics: IstioMetrics;
  readonly h1: Http1ServerCodec;
  readonly h2: NodeHttp2Codec;
  /** When the current snapshot started serving. */
  appliedAt = new Date();

  constructor(o: RuntimeOptions) {
    this.snapshot = o.initial;
    this.clusters = new ClusterManager({ dns: o.dns, sourceAddress: o.sourceAddress ?? null });
    this.accessLog = new AccessLog(o.accessLog);
    this.metrics = new IstioMetrics(o.initial.workload, o.workloadName, this.clusters);
    const idle = 3_600_000;
    const h1Options = { idleTimeoutMs: idle, headersTimeoutMs: o.headersTimeoutMs ?? 60_000 };
    this.h1 = o.codec === 'node' ? new NodeHttp1Codec(h1Options) : new FastHttp1Codec(h1Options);
    this.h2 = new NodeHttp2Codec(idle);
    this.listeners = new ListenerManager(this, this.h1, this.h2, {
      connectionRefused: (l, socket, reason, sni, kind) => {
        log('warn', 'listener', `${l.name}: connection from ${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}${sni !== '' ? ` (SNI ${sni})` : ''} closed: ${reason}`);
        // Istio's listener access log records connections no filter chain accepted (NR).
        if (kind === 'no_filter_chain' && this.accessLog.enabled) this.accessLog.write(formatRefusedLine(socket, sni));
      },
    }, { listenerFiltersTimeoutMs: o.listenerFiltersTimeoutMs ?? 15_000 });
    setClientErrorHook((status, code, socket) => {
      log('info', 'http', `${status} for malformed request from ${socket.remoteAddress ?? '?'}: ${code}`);
    });
  }

  /** Makes `snapshot` live: clusters first (routes may name new ones), then the swap, then listeners. */
  async apply(snapshot: Snapshot): Promise<string[]> {
    this.clusters.update(snapshot);
    this.snapshot = snapshot;
    this.appliedAt = new Date();
    return this.listeners.update(snapshot);
  }

  onStreamComplete(s: HttpStream): void {
    if (this.accessLog.enabled) this.accessLog.write(formatHttpLine(s));
    this.metrics.recordHttp(s);
  }

  onTcpComplete(s: TcpSession): void {
    if (this.accessLog.enabled) this.accessLog.write(formatTcpLine(s));
    this.metrics.recordTcp(s);
  }

  /**
   * Graceful drain: stop accepting, ask keep-alive clients to go (Connection: close /
   * GOAWAY), wait for open connections up to `timeoutMs`, then close what is left.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.listeners.stopAccepting();
    this.h1.drain();
    this.h2.drain();
    const deadline = Date.now() + timeoutMs;
    while (this.listeners.openConnections() > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    this.listeners.closeAll();
    this.clusters.close();
    await this.accessLog.close();
  }
}
