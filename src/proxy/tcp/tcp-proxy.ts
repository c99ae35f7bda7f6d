import type { Duplex } from 'node:stream';
import type { L4Route } from '../../compile/snapshot.js';
import type { ConnectionEventLog } from '../listener/listener-manager.js';
import { ResponseFlag } from '../http/response-flags.js';
import type { DownstreamConnection, ProxyContext } from '../http/stream.js';
import { pickWeighted } from '../upstream/load-balancer.js';
import { sniFor } from '../upstream/transport.js';
import { TcpRelay } from './tcp-relay.js';
import { TcpSession } from './tcp-session.js';
import { allowConnection } from '../filters/rbac/network.js';
import { checkConnection } from '../filters/ext-authz/network.js';

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
  const relay = new TcpRelay(s, client, proxy);
  if (conn.chain.policies.networkRbac !== null && !allowConnection(conn, s)) {
    // Network RBAC denied (Istio: ONE_TIME_ON_FIRST_BYTE): closed without connecting upstream.
    client.destroy();
    relay.done();
    return;
  }
  // CUSTOM with a gRPC provider: the authorization service decides before anything is proxied.
  const checking = checkConnection(conn, s, proxy, (allowed) => {
    if (s.completed) return;
    if (allowed) { proxyAuthorized(client, initial, conn, proxy, s, relay); return; }
    client.destroy();
    relay.done();
  });
  if (checking) { client.pause(); return; }
  proxyAuthorized(client, initial, conn, proxy, s, relay);
}

/** proxyTcp once authorization let the connection through: the route, the cluster, the host. */
function proxyAuthorized(client: Duplex, initial: Buffer | null, conn: DownstreamConnection, proxy: ProxyContext, s: TcpSession, relay: TcpRelay): void {
  const route = selectL4Route(conn.chain.l4Routes, conn.sni, conn.localAddress);
  s.route = route;
  if (route === null || route.clusters.length === 0) { relay.fail(ResponseFlag.NR, 'filter_chain_not_found'); return; }
  const pick = pickWeighted(route, Math.random());
  s.clusterName = pick.cluster;
  const c = proxy.clusters.get(pick.cluster);
  if (c === undefined) { relay.fail(ResponseFlag.NC, 'cluster_not_found'); return; }
  const sni = c.tls !== null ? sniFor(c.config, c.tls.config, conn.sni !== '' ? conn.sni : c.config.serviceHost) : '';
  const pickHost = (): void => {
    if (s.completed) return;
    if (c.config.type === 'original_dst') {
      // At a gateway the original destination is the gateway itself: use the SNI's address.
      const name = conn.sni;
      if (name === '') { relay.fail(ResponseFlag.UF, 'upstream_reset_before_response_started{connection_failure}', 'no original destination (no SNI)'); return; }
      c.resolveName(name, (err, addrs) => {
        if (err !== null || addrs.length === 0) { relay.fail(ResponseFlag.UF, 'upstream_reset_before_response_started{connection_failure}', `DNS resolution of ${name} failed`); return; }
        relay.connect(c, c.tls, sni, addrs[0]!, pick.port, initial);
      });
      return;
    }
    const h = c.pick(null, null);
    if (h === null) { relay.fail(ResponseFlag.UH, 'no_healthy_upstream'); return; }
    relay.connect(c, c.tls, sni, h.address, h.port, initial);
  };
  client.pause();
  if (!c.ready) c.whenReady(pickHost);
  else pickHost();
}
