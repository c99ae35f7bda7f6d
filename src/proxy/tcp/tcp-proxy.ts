import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { hostCovers } from '../../compile/hosts.js';
import type { L4Route } from '../../compile/snapshot.js';
import type { ConnectionEventLog } from '../listener/listener-manager.js';
import { ResponseFlag } from '../http/response-flags.js';
import type { DownstreamConnection, ProxyContext } from '../http/stream.js';
import { pickWeighted } from '../upstream/load-balancer.js';
import { TcpSession } from './tcp-session.js';

/** The first L4 route whose SNI set covers `sni` (tls routes) or that has none (tcp routes). */
export function selectL4Route(routes: readonly L4Route[], sni: string): L4Route | null {
  for (const r of routes) {
    if (r.sniHosts.length === 0) return r;
    for (const h of r.sniHosts) if (h === sni || hostCovers(h, sni)) return r;
  }
  return null;
}

/**
 * Envoy's tcp_proxy: one upstream connection per downstream connection, bytes copied both
 * ways with backpressure (pipe). `initial` holds bytes already read (a peeked ClientHello).
 */
export function proxyTcp(client: Duplex, initial: Buffer | null, conn: DownstreamConnection, proxy: ProxyContext, _log: ConnectionEventLog): void {
  const s = new TcpSession(conn);
  const done = (): void => {
    if (s.completed) return;
    s.completed = true;
    proxy.onTcpComplete(s);
  };
  const route = selectL4Route(conn.chain.l4Routes, conn.sni);
  s.route = route;
  if (route === null || route.clusters.length === 0) {
    s.responseFlags |= ResponseFlag.NR;
    s.details = 'filter_chain_not_found';
    client.destroy();
    done();
    return;
  }
  const pick = pickWeighted(route, Math.random());
  s.clusterName = pick.cluster;
  const cluster = proxy.clusters.get(pick.cluster);
  if (cluster === undefined) {
    s.responseFlags |= ResponseFlag.NC;
    client.destroy();
    done();
    return;
  }
  const go = (address: string, port: number): void => {
    s.upstreamHost = address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
    const up: Socket = connect({ host: address, port, ...(cluster.sourceAddress !== null ? { localAddress: cluster.sourceAddress } : {}) });
    up.setNoDelay(true);
    let connected = false;
    up.once('connect', () => {
      connected = true;
      s.upstreamLocalAddress = `${up.localAddress ?? ''}:${up.localPort ?? 0}`;
      if (initial !== null && initial.length > 0) { s.bytesReceived += initial.length; up.write(initial); }
      client.on('data', (d: Buffer) => { s.bytesReceived += d.length; });
      up.on('data', (d: Buffer) => { s.bytesSent += d.length; });
      client.pipe(up);
      up.pipe(client);
    });
    up.on('error', (e: NodeJS.ErrnoException) => {
      if (!connected) { s.responseFlags |= ResponseFlag.UF; s.upstreamTransportFailureReason = `${e.code ?? ''} ${e.message}`.trim(); }
      client.destroy();
    });
    up.on('close', () => { client.destroy(); done(); });
    client.on('close', () => { up.destroy(); done(); });
    client.on('error', () => up.destroy());
  };
  const pickHost = (): void => {
    if (cluster.config.type === 'original_dst') {
      const name = conn.sni;
      cluster.resolveName(name, (err, addrs) => {
        if (err !== null || addrs.length === 0) { s.responseFlags |= ResponseFlag.UF; s.upstreamTransportFailureReason = `DNS resolution of ${name} failed`; client.destroy(); done(); return; }
        go(addrs[0]!, pick.port);
      });
      return;
    }
    const h = cluster.pick(null, null);
    if (h === null) { s.responseFlags |= ResponseFlag.UH; s.details = 'no_healthy_upstream'; client.destroy(); done(); return; }
    go(h.address, h.port);
  };
  client.pause();
  if (!cluster.ready) cluster.whenReady(pickHost);
  else pickHost();
}
