import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { L4Route } from '../../compile/snapshot.js';
import type { ConnectionEventLog } from '../listener/listener-manager.js';
import { ResponseFlag } from '../http/response-flags.js';
import type { DownstreamConnection, ProxyContext } from '../http/stream.js';
import type { ClusterRuntime } from '../upstream/cluster-manager.js';
import { pickWeighted } from '../upstream/load-balancer.js';
import { makeConnector, sniFor } from '../upstream/transport.js';
import { TcpSession } from './tcp-session.js';
import { allowConnection } from '../filters/rbac/network.js';

/**
 * The route for a connection: routes whose `destinationSubnets` exclude the destination address
 * are skipped; among the rest an exact SNI wins over the longest covering wildcard, which wins
 * over a route without SNI names (Envoy's server_names order); ties keep config order.
 */
export function selectL4Route(routes: readonly L4Route[], sni: string, destination = ''): L4Route | null {
  let best: L4Route | null = null;
  let bestScore = -1;
  for (let i = 0; i < routes.length; i++) {
    const r = routes[i]!;
    if (r.destinationMatcher !== null && r.destinationMatcher !== undefined && !r.destinationMatcher(destination)) continue;
    if (r.sniHosts.length === 0) { if (bestScore < 0) { best = r; bestScore = 0; } continue; }
    for (const h of r.sniHosts) {
      let score = -1;
      if (h === sni) score = 1 << 20;
      else if (h.charCodeAt(0) === 42 /* * */ && sni.length > h.length - 1 && sni.endsWith(h.slice(1))) score = h.length;
      if (score > bestScore) { best = r; bestScore = score; }
    }
  }
  return best;
}


/**
 * Envoy's tcp_proxy: one upstream connection per downstream connection (TLS originated when the
 * cluster's DestinationRule says so), bytes copied both ways with backpressure (pipe), weighted
 * destinations picked per connection. `initial` holds bytes already read (a peeked ClientHello).
 * A failed connect closes the client and logs flag UF with the transport failure reason.
 */
export function proxyTcp(client: Duplex, initial: Buffer | null, conn: DownstreamConnection, proxy: ProxyContext, _log: ConnectionEventLog): void {
  const s = new TcpSession(conn);
  let upstream: Socket | null = null;
  let cluster: ClusterRuntime | undefined;
  let counted = false;
  const done = (): void => {
    if (s.completed) return;
    s.completed = true;
    if (counted && cluster !== undefined) cluster.limits.connections--;
    proxy.onTcpComplete(s);
  };
  const fail = (flag: number, details: string, reason = ''): void => {
    s.responseFlags |= flag;
    s.details = details;
    if (reason !== '') s.upstreamTransportFailureReason = reason;
    client.destroy();
    done();
  };
  client.on('error', () => {});
  client.once('close', () => { upstream?.destroy(); done(); });
  if (conn.chain.policies.networkRbac !== null && !allowConnection(conn, s)) {
    // Network RBAC denied (Istio: ONE_TIME_ON_FIRST_BYTE): closed without connecting upstream.
    client.destroy();
    done();
    return;
  }
  const route = selectL4Route(conn.chain.l4Routes, conn.sni, conn.localAddress);
  s.route = route;
  if (route === null || route.clusters.length === 0) { fail(ResponseFlag.NR, 'filter_chain_not_found'); return; }
  const pick = pickWeighted(route, Math.random());
  s.clusterName = pick.cluster;
  cluster = proxy.clusters.get(pick.cluster);
  if (cluster === undefined) { fail(ResponseFlag.NC, 'cluster_not_found'); return; }
  const c = cluster;
  const go = (address: string, port: number): void => {
    if (s.completed) return;
    const lim = c.limits;
    if (lim.connections >= lim.maxConnections) { c.stats.upstream_rq_pending_overflow++; fail(ResponseFlag.UO, 'upstream_reset_before_response_started{overflow}', 'maxConnections reached'); return; }
    lim.connections++;
    counted = true;
    s.upstreamHost = address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
    const sni = c.tls !== null ? sniFor(c.config, c.tls.config, conn.sni !== '' ? conn.sni : c.config.serviceHost) : '';
    const connect = makeConnector(address, port, c.tls, sni, c.sourceAddress, []);
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      cancel();
      c.stats.upstream_cx_connect_fail++;
      fail(ResponseFlag.UF, 'upstream_reset_before_response_started{connection_failure}', `connect timeout after ${c.config.pool.connectTimeoutMs} ms`);
    }, c.config.pool.connectTimeoutMs);
    const cancel = connect((up) => {
      if (settled) { up.destroy(); return; }
      settled = true;
      clearTimeout(timer);
      if (s.completed) { up.destroy(); return; }
      upstream = up;
      up.setNoDelay(true);
      s.upstreamLocalAddress = `${up.localAddress ?? ''}:${up.localPort ?? 0}`;
      if (initial !== null && initial.length > 0) { s.bytesReceived += initial.length; up.write(initial); }
      client.on('data', (d: Buffer) => { s.bytesReceived += d.length; });
      up.on('data', (d: Buffer) => { s.bytesSent += d.length; });
      up.on('error', () => { client.destroy(); });
      up.once('close', () => { client.destroy(); done(); });
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
      fail(ResponseFlag.UF, 'upstream_reset_before_response_started{connection_failure}', reason);
    });
  };
  const pickHost = (): void => {
    if (s.completed) return;
    if (c.config.type === 'original_dst') {
      // At a gateway the original destination is the gateway itself: use the SNI's address.
      const name = conn.sni;
      if (name === '') { fail(ResponseFlag.UF, 'upstream_reset_before_response_started{connection_failure}', 'no original destination (no SNI)'); return; }
      c.resolveName(name, (err, addrs) => {
        if (err !== null || addrs.length === 0) { fail(ResponseFlag.UF, 'upstream_reset_before_response_started{connection_failure}', `DNS resolution of ${name} failed`); return; }
        go(addrs[0]!, pick.port);
      });
      return;
    }
    const h = c.pick(null, null);
    if (h === null) { fail(ResponseFlag.UH, 'no_healthy_upstream'); return; }
    go(h.address, h.port);
  };
  client.pause();
  if (!c.ready) c.whenReady(pickHost);
  else pickHost();
}
