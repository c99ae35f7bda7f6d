import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ResponseFlag } from '../http/response-flags.js';
import type { ProxyContext } from '../http/stream.js';
import type { ClusterRuntime } from '../upstream/cluster-manager.js';
import { makeConnector, type ClientTlsContext } from '../upstream/transport.js';
import type { TcpSession } from './tcp-session.js';

const CONNECTION_FAILURE = 'upstream_reset_before_response_started{connection_failure}';

function ignoreError(): void {}

/**
 * The upstream half of one proxied TCP session, as Envoy's tcp_proxy runs it: the cluster's
 * maxConnections, connect timeout and idle timeout apply, bytes are copied both ways with
 * backpressure (pipe) and counted for the access log. Shared by the listeners' tcp_proxy
 * chains (proxyTcp) and the sidecar's CONNECT tunnels (openTunnel); each picks its cluster
 * and host, then calls connect().
 *
 * The relay owns the session's end: done() runs once, gives back the cluster connection slot
 * and reports the session (access log, TCP metrics). The client's close ends the session and
 * closes the upstream.
 */
export class TcpRelay {
  readonly session: TcpSession;
  readonly client: Duplex;
  readonly #proxy: ProxyContext;
  #upstream: Socket | null = null;
  /** The cluster whose connection slot this session holds, null when it holds none. */
  #slot: ClusterRuntime | null = null;

  constructor(session: TcpSession, client: Duplex, proxy: ProxyContext) {
    this.session = session;
    this.client = client;
    this.#proxy = proxy;
    client.on('error', ignoreError);
    client.once('close', () => { this.#upstream?.destroy(); this.done(); });
  }

  /** Ends the session once: releases the connection slot and reports it. */
  done(): void {
    const s = this.session;
    if (s.completed) return;
    s.completed = true;
    if (this.#slot !== null) { this.#slot.resources.connections.release(); this.#slot = null; }
    this.#proxy.onTcpComplete(s);
  }

  /** Records the failure (flag, details, transport failure reason), closes the client, ends the session. */
  fail(flag: number, details: string, reason = ''): void {
    const s = this.session;
    s.responseFlags |= flag;
    s.details = details;
    if (reason !== '') s.upstreamTransportFailureReason = reason;
    this.client.destroy();
    this.done();
  }

  /**
   * Connects to `address:port` of cluster `c` (TLS originated when `tls` is set) and pipes the
   * client through. `initial` holds bytes already read from the client (a peeked ClientHello,
   * a CONNECT head). `onConnectError` hears a failed connect before the session fails.
   */
  connect(c: ClusterRuntime, tls: ClientTlsContext | null, sni: string, address: string, port: number, initial: Buffer | null, onConnectError: ((reason: string) => void) | null = null): void {
    if (this.session.completed) return;
    const cx = c.resources.connections;
    if (cx.tryAcquire()) { this.#connect(c, tls, sni, address, port, initial, onConnectError); return; }
    // With --concurrency the slot may be held by another worker: the primary answers.
    cx.acquire((ok) => {
      if (!ok) { c.stats.upstream_rq_pending_overflow++; this.fail(ResponseFlag.UO, 'upstream_reset_before_response_started{overflow}', 'maxConnections reached'); return; }
      if (this.session.completed) { cx.release(); return; }
      this.#connect(c, tls, sni, address, port, initial, onConnectError);
    });
  }

  /** connect() once the connection slot is taken. */
  #connect(c: ClusterRuntime, tls: ClientTlsContext | null, sni: string, address: string, port: number, initial: Buffer | null, onConnectError: ((reason: string) => void) | null): void {
    const s = this.session;
    const client = this.client;
    this.#slot = c;
    s.upstreamHost = address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      cancel();
      c.stats.upstream_cx_connect_fail++;
      this.fail(ResponseFlag.UF, CONNECTION_FAILURE, `connect timeout after ${c.config.pool.connectTimeoutMs} ms`);
    }, c.config.pool.connectTimeoutMs);
    const cancel = makeConnector(address, port, tls, sni, c.sourceAddress, [])((up) => {
      if (settled) { up.destroy(); return; }
      settled = true;
      clearTimeout(timer);
      if (s.completed || client.destroyed) { up.destroy(); this.done(); return; }
      this.#upstream = up;
      up.setNoDelay(true);
      s.upstreamLocalAddress = `${up.localAddress ?? ''}:${up.localPort ?? 0}`;
      if (initial !== null && initial.length > 0) { s.bytesReceived += initial.length; up.write(initial); }
      client.on('data', (d: Buffer) => { s.bytesReceived += d.length; });
      up.on('data', (d: Buffer) => { s.bytesSent += d.length; });
      up.on('error', () => { client.destroy(); });
      up.once('close', () => { client.destroy(); this.done(); });
      // Envoy's tcp_proxy idle_timeout (Istio: 1 h): no bytes either way for that long closes both.
      const idle = c.config.pool.idleTimeoutMs;
      if (idle > 0) {
        const onIdle = (): void => { s.details = 'idle_timeout'; up.destroy(); client.destroy(); };
        up.setTimeout(idle, onIdle);
        if ('setTimeout' in client) (client as Socket).setTimeout(idle, onIdle);
      }
      client.pipe(up);
      up.pipe(client);
      client.resume();
    }, (reason) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      c.stats.upstream_cx_connect_fail++;
      onConnectError?.(reason);
      this.fail(ResponseFlag.UF, CONNECTION_FAILURE, reason);
    });
  }
}
