import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { hostCovers, lowerAscii } from '../../compile/hosts.js';
import { BLACKHOLE_CLUSTER, type OutboundL4Route, type OutboundL4Table, type SidecarConfig } from '../../compile/sidecar-snapshot.js';
import type { ClientTls, Snapshot } from '../../compile/snapshot.js';
import { log } from '../../util/log.js';
import { ResponseFlag } from '../http/response-flags.js';
import type { DownstreamConnection, ProxyContext } from '../http/stream.js';
import { MAX_CLIENT_HELLO, parseClientHello, PeekResult } from '../listener/client-hello.js';
import { TcpSession } from '../tcp/tcp-session.js';
import { buildClientTls, makeConnector, type ClientTlsContext } from '../upstream/transport.js';

/** Time allowed for the tunnelled ClientHello before the tunnel is routed as plain TCP. */
const CLIENT_HELLO_TIMEOUT_MS = 5_000;

/** What a tunnel was routed to: a cluster (with the TLS this hop originates), or nothing. */
interface TunnelTarget {
  readonly cluster: string;
  readonly tls: ClientTls | null;
}

/**
 * A CONNECT tunnel through the sidecar's explicit proxy (https_proxy). The tunnel is
 * accepted (200), then routed like Istio routes the connection on a sidecar's outbound
 * listener for that port: by the tunnelled ClientHello's SNI against `tls` rules bound to
 * `mesh`, by the CONNECT host against `tcp` rules and registry services, else by the outbound
 * traffic policy — ALLOW_ANY goes to the CONNECT target as is (PassthroughCluster),
 * REGISTRY_ONLY closes the tunnel (BlackHoleCluster, flag UH). One access-log line per tunnel,
 * with the CONNECT target as authority and the SNI as requested server name.
 */
export function openTunnel(conn: DownstreamConnection, req: IncomingMessage, client: Socket, head: Buffer, proxy: ProxyContext): void {
  const snapshot = proxy.snapshot;
  const sc = snapshot.sidecar ?? null;
  const target = parseTarget(req.url ?? '');
  if (sc === null || target === null) {
    client.end(`HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
    return;
  }
  client.setNoDelay(true);
  client.write('HTTP/1.1 200 OK\r\n\r\n');
  const table = sc.outbound.l4.get(target.port) ?? sc.outbound.anyPort;
  if (!table.inspectTls) { route(conn, client, head, '', target, table, sc, snapshot, proxy); return; }
  // Read the ClientHello the application sends first (TLS is client-first).
  let buf = head;
  const done = (sni: string): void => {
    clearTimeout(timer);
    client.removeListener('data', onData);
    client.pause();
    route(conn, client, buf, sni, target, table, sc, snapshot, proxy);
  };
  const onData = (d: Buffer): void => {
    buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
    const hello = parseClientHello(buf);
    if (hello === PeekResult.Incomplete) { if (buf.length > MAX_CLIENT_HELLO) done(''); return; }
    done(hello === PeekResult.NotTls ? '' : hello.serverName.toLowerCase());
  };
  const timer = setTimeout(() => done(''), CLIENT_HELLO_TIMEOUT_MS);
  client.on('data', onData);
  client.once('close', () => clearTimeout(timer));
  if (buf.length > 0) { const b = buf; buf = Buffer.alloc(0); onData(b); }
}

function parseTarget(url: string): { host: string; port: number } | null {
  const m = /^(?:\[([^\]]+)\]|([^:/\s]+)):(\d{1,5})$/.exec(url);
  if (m === null) return null;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  return { host: lowerAscii(m[1] ?? m[2]!), port };
}

function covers(hosts: readonly string[], name: string): boolean {
  for (const h of hosts) if (h === name || hostCovers(h, name)) return true;
  return false;
}

function pickWeighted(r: OutboundL4Route): TunnelTarget {
  const cs = r.route.clusters;
  let i = 0;
  if (cs.length > 1 && r.route.totalWeight > 0) {
    const x = Math.random() * r.route.totalWeight;
    while (i < cs.length - 1 && x >= cs[i]!.cumulative) i++;
  }
  return { cluster: cs[i]!.cluster, tls: r.upstreamTls[i] ?? null };
}

/** The first hit: tls rule by SNI, tcp rule by host, service by name, else the policy. */
export function selectTunnelTarget(table: OutboundL4Table, sni: string, host: string): { target: TunnelTarget | null; route: string } {
  const name = sni !== '' ? sni : host;
  if (sni !== '') {
    for (const r of table.tlsRoutes) if (r.route.clusters.length > 0 && covers(r.route.sniHosts, sni)) return { target: pickWeighted(r), route: r.route.name };
  }
  for (const r of table.tcpRoutes) if (r.route.clusters.length > 0 && (covers(r.hosts, host) || covers(r.hosts, name))) return { target: pickWeighted(r), route: r.route.name };
  for (const s of table.services) if (s.host === name || s.host === host || hostCovers(s.host, name)) return { target: { cluster: s.cluster, tls: s.upstreamTls }, route: '' };
  return { target: null, route: '' };
}

function route(conn: DownstreamConnection, client: Socket, initial: Buffer, sni: string, target: { host: string; port: number }, table: OutboundL4Table, sc: SidecarConfig, snapshot: Snapshot, proxy: ProxyContext): void {
  const s = new TcpSession({ ...conn, sni, snapshot });
  s.authority = `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
  let completed = false;
  const finish = (): void => {
    if (completed) return;
    completed = true;
    s.completed = true;
    proxy.onTcpComplete(s);
  };
  let { target: hit } = selectTunnelTarget(table, sni, target.host);
  if (hit === null) {
    if (sc.outbound.mode === 'REGISTRY_ONLY') {
      s.clusterName = BLACKHOLE_CLUSTER;
      s.responseFlags |= ResponseFlag.UH;
      log('info', 'sidecar', `REGISTRY_ONLY: blocked CONNECT ${s.authority}${sni !== '' ? ` (SNI ${sni})` : ''}: no ServiceEntry, service or VirtualService declares it`);
      client.destroy();
      finish();
      return;
    }
    hit = { cluster: sc.outbound.passthroughCluster, tls: null };
  }
  s.clusterName = hit.cluster;
  const cluster = proxy.clusters.get(hit.cluster);
  if (cluster === undefined) {
    s.responseFlags |= ResponseFlag.NC;
    client.destroy();
    finish();
    return;
  }
  const tls = hit.tls === null ? null : tlsContext(hit.tls, snapshot);
  const sniOut = hit.tls === null ? '' : hit.tls.sni ?? (hit.tls.autoSni ? (sni !== '' ? sni : target.host) : '');
  let counted = false;
  let upstream: Socket | null = null;
  const done = (): void => {
    if (counted) { counted = false; cluster.limits.connections--; }
    finish();
  };
  const fail = (flag: number, details: string, reason: string): void => {
    s.responseFlags |= flag;
    s.details = details;
    if (reason !== '') s.upstreamTransportFailureReason = reason;
    client.destroy();
    done();
  };
  client.once('close', () => { upstream?.destroy(); done(); });
  // As Envoy's tcp_proxy: the cluster's maxConnections, connect timeout and idle timeout apply.
  const go = (address: string, port: number): void => {
    if (completed) return;
    const lim = cluster.limits;
    if (lim.connections >= lim.maxConnections) { cluster.stats.upstream_rq_pending_overflow++; fail(ResponseFlag.UO, 'upstream_reset_before_response_started{overflow}', 'maxConnections reached'); return; }
    lim.connections++;
    counted = true;
    s.upstreamHost = address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      cancel();
      cluster.stats.upstream_cx_connect_fail++;
      fail(ResponseFlag.UF, 'upstream_reset_before_response_started{connection_failure}', `connect timeout after ${cluster.config.pool.connectTimeoutMs} ms`);
    }, cluster.config.pool.connectTimeoutMs);
    const cancel = makeConnector(address, port, tls, sniOut, cluster.sourceAddress, [])((up) => {
      if (settled) { up.destroy(); return; }
      settled = true;
      clearTimeout(timer);
      if (completed || client.destroyed) { up.destroy(); done(); return; }
      upstream = up;
      up.setNoDelay(true);
      s.upstreamLocalAddress = `${up.localAddress ?? ''}:${up.localPort ?? 0}`;
      if (initial.length > 0) { s.bytesReceived += initial.length; up.write(initial); }
      client.on('data', (d: Buffer) => { s.bytesReceived += d.length; });
      up.on('data', (d: Buffer) => { s.bytesSent += d.length; });
      up.on('error', () => client.destroy());
      up.once('close', () => { client.destroy(); done(); });
      const idle = cluster.config.pool.idleTimeoutMs;
      if (idle > 0) {
        const onIdle = (): void => { s.details = 'idle_timeout'; up.destroy(); client.destroy(); };
        up.setTimeout(idle, onIdle);
        client.setTimeout(idle, onIdle);
      }
      client.pipe(up);
      up.pipe(client);
      client.resume();
    }, (reason) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      cluster.stats.upstream_cx_connect_fail++;
      log('info', 'sidecar', `CONNECT ${s.authority} via ${cluster.config.name} to ${s.upstreamHost} failed: ${reason}`);
      fail(ResponseFlag.UF, 'upstream_reset_before_response_started{connection_failure}', reason);
    });
  };
  const pickHost = (): void => {
    if (cluster.config.type === 'original_dst') {
      cluster.resolveEndpoint(target.host, target.port, (err, eps) => {
        if (err !== null || eps.length === 0) { fail(ResponseFlag.UF, 'upstream_reset_before_response_started{connection_failure}', `DNS resolution of ${target.host} failed`); return; }
        go(eps[0]!.address, eps[0]!.port);
      });
      return;
    }
    const h = cluster.pick(null, null);
    if (h === null) { fail(ResponseFlag.UH, 'no_healthy_upstream', ''); return; }
    go(h.address, h.port);
  };
  client.on('error', () => {});
  if (!cluster.ready) cluster.whenReady(pickHost);
  else pickHost();
}

// Client TLS contexts for tunnel hops, built once per (snapshot, TLS config): the ClientTls
// objects belong to one snapshot, so a renewed certificate gets a new context.
const tlsContexts = new WeakMap<ClientTls, ClientTlsContext>();

function tlsContext(cfg: ClientTls, snapshot: Snapshot): ClientTlsContext {
  let c = tlsContexts.get(cfg);
  if (c === undefined) tlsContexts.set(cfg, (c = buildClientTls(cfg, snapshot.secrets)));
  return c;
}
