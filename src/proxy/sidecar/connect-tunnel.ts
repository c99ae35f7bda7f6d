import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { hostCovers, lowerAscii } from '../../compile/hosts.js';
import { BLACKHOLE_CLUSTER, type OutboundL4Route, type OutboundL4Table, type SidecarConfig } from '../../compile/sidecar-snapshot.js';
import type { ClientTls, Snapshot } from '../../compile/snapshot.js';
import { log } from '../../util/log.js';
import { ResponseFlag } from '../http/response-flags.js';
import type { DownstreamConnection, ProxyContext } from '../http/stream.js';
import { MAX_CLIENT_HELLO, parseClientHello, PeekResult } from '../listener/client-hello.js';
import { TcpRelay } from '../tcp/tcp-relay.js';
import { TcpSession } from '../tcp/tcp-session.js';
import { pickWeighted } from '../upstream/load-balancer.js';
import { buildClientTls, type ClientTlsContext } from '../upstream/transport.js';

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

function pickTarget(r: OutboundL4Route): TunnelTarget {
  const picked = pickWeighted(r.route, Math.random());
  return { cluster: picked.cluster, tls: r.upstreamTls[r.route.clusters.indexOf(picked)] ?? null };
}

/** The first hit: tls rule by SNI, tcp rule by host, service by name, else the policy. */
function selectTunnelTarget(table: OutboundL4Table, sni: string, host: string): TunnelTarget | null {
  const name = sni !== '' ? sni : host;
  if (sni !== '') {
    for (const r of table.tlsRoutes) if (r.route.clusters.length > 0 && covers(r.route.sniHosts, sni)) return pickTarget(r);
  }
  for (const r of table.tcpRoutes) if (r.route.clusters.length > 0 && (covers(r.hosts, host) || covers(r.hosts, name))) return pickTarget(r);
  for (const s of table.services) if (s.host === name || s.host === host || hostCovers(s.host, name)) return { cluster: s.cluster, tls: s.upstreamTls };
  return null;
}

function route(conn: DownstreamConnection, client: Socket, initial: Buffer, sni: string, target: { host: string; port: number }, table: OutboundL4Table, sc: SidecarConfig, snapshot: Snapshot, proxy: ProxyContext): void {
  const s = new TcpSession({ ...conn, sni, snapshot });
  s.authority = `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
  const relay = new TcpRelay(s, client, proxy);
  let hit = selectTunnelTarget(table, sni, target.host);
  if (hit === null) {
    if (sc.outbound.mode === 'REGISTRY_ONLY') {
      s.clusterName = BLACKHOLE_CLUSTER;
      s.responseFlags |= ResponseFlag.UH;
      log('info', 'sidecar', `REGISTRY_ONLY: blocked CONNECT ${s.authority}${sni !== '' ? ` (SNI ${sni})` : ''}: no ServiceEntry, service or VirtualService declares it`);
      client.destroy();
      relay.done();
      return;
    }
    hit = { cluster: sc.outbound.passthroughCluster, tls: null };
  }
  s.clusterName = hit.cluster;
  const cluster = proxy.clusters.get(hit.cluster);
  if (cluster === undefined) {
    s.responseFlags |= ResponseFlag.NC;
    client.destroy();
    relay.done();
    return;
  }
  const tls = hit.tls === null ? null : tlsContext(hit.tls, snapshot);
  const sniOut = hit.tls === null ? '' : hit.tls.sni ?? (hit.tls.autoSni ? (sni !== '' ? sni : target.host) : '');
  const onConnectError = (reason: string): void => {
    log('info', 'sidecar', `CONNECT ${s.authority} via ${cluster.config.name} to ${s.upstreamHost} failed: ${reason}`);
  };
  const pickHost = (): void => {
    if (cluster.config.type === 'original_dst') {
      cluster.resolveEndpoint(target.host, target.port, (err, eps) => {
        if (err !== null || eps.length === 0) { relay.fail(ResponseFlag.UF, 'upstream_reset_before_response_started{connection_failure}', `DNS resolution of ${target.host} failed`); return; }
        relay.connect(cluster, tls, sniOut, eps[0]!.address, eps[0]!.port, initial, onConnectError);
      });
      return;
    }
    const h = cluster.pick(null, null);
    if (h === null) { relay.fail(ResponseFlag.UH, 'no_healthy_upstream'); return; }
    relay.connect(cluster, tls, sniOut, h.address, h.port, initial, onConnectError);
  };
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
