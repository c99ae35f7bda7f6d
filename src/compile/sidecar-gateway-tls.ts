import type { Server } from '../api/types.js';
import type { CompileContext } from './context.js';
import { hostCovers, intersectHosts } from './hosts.js';
import { expectedMeshIdentities } from './mesh-identities.js';
import { meshSecret } from './secrets.js';
import { resourceOf } from './sidecar-common.js';
import type { ClientTls, RouteConfiguration, WeightedCluster } from './snapshot.js';
import { selectorMatches } from './visibility.js';

// What a sidecar originates towards a gateway: the gateway's own servers for the destination
// port say whether the hop is mesh mTLS (ISTIO_MUTUAL servers) or bytes as they are
// (PASSTHROUGH, TCP, plain HTTP).

/**
 * The Gateway servers a service's workloads serve on `port`: Gateways whose selector matches
 * the service's pods (the Service selector, or its endpoints' labels). This is how a sidecar
 * knows that `istio-egressgateway:443` expects ISTIO_MUTUAL for one host and passthrough for
 * another.
 */
function gatewayServersFor(ctx: CompileContext, host: string, port: number): Server[] {
  const svc = ctx.registry.lookup(host, ctx.workload.namespace);
  if (svc === undefined) return [];
  const labelSets: Readonly<Record<string, string>>[] = [];
  if (svc.kubernetes) {
    const k8s = ctx.store.get('Service', svc.namespace, svc.hostname.split('.')[0]!);
    if (k8s?.spec.selector !== undefined) labelSets.push(k8s.spec.selector);
  }
  for (const e of svc.endpoints) if (Object.keys(e.labels).length > 0) labelSets.push(e.labels);
  if (labelSets.length === 0) return [];
  const out: Server[] = [];
  for (const gw of ctx.store.list('Gateway')) {
    const sel = gw.spec.selector ?? {};
    if (Object.keys(sel).length === 0 || !labelSets.some((l) => selectorMatches(sel, l))) continue;
    for (const s of gw.spec.servers) if (s.port.number === port) out.push(s);
  }
  return out;
}

function serverHostNames(s: Server): string[] {
  return s.hosts.map((h) => (h.includes('/') ? h.slice(h.indexOf('/') + 1) : h).toLowerCase());
}

function intersectsAny(a: readonly string[], b: readonly string[]): boolean {
  return a.some((x) => b.some((y) => x === '*' || y === '*' || intersectHosts(x, y) !== null));
}

function meshClientTls(ctx: CompileContext, host: string, sni: string | null): ClientTls {
  meshSecret(ctx); // registers `default` (or its error) in the snapshot's secrets
  const svc = ctx.registry.lookup(host, ctx.workload.namespace);
  const sans = svc === undefined ? [] : expectedMeshIdentities(ctx, svc, svc.endpoints.map((e) => ({ address: e.address, port: 0, weight: e.weight, labels: e.labels, locality: e.locality, serviceAccount: e.serviceAccount })));
  return Object.freeze({ mode: 'ISTIO_MUTUAL', sni, autoSni: sni === null, subjectAltNames: Object.freeze(sans), caSecret: 'default', certSecret: 'default', insecureSkipVerify: false });
}

/**
 * TLS for one hop of a CONNECT tunnel. A destination Gateway server for these hosts decides:
 * ISTIO_MUTUAL (a `TLS` server terminating mesh mTLS, then `tcp` routes) → wrap the tunnel in
 * mesh mTLS with that SNI; PASSTHROUGH or TCP → bytes as they are (Istio's egress patterns).
 * Otherwise the cluster's own TLS (DestinationRule, auto mTLS) applies.
 */
export function l4UpstreamTls(ctx: CompileContext, c: WeightedCluster, routeHosts: readonly string[], kind: 'tls' | 'tcp'): ClientTls | null {
  const servers = gatewayServersFor(ctx, c.host, c.port).filter((s) => intersectsAny(serverHostNames(s), routeHosts));
  if (servers.length > 0) {
    const plain = servers.find((s) => s.tls === undefined || s.tls.mode === undefined || s.tls.mode === 'PASSTHROUGH' || s.tls.mode === 'AUTO_PASSTHROUGH');
    if (plain !== undefined) return null;
    const mutual = servers.find((s) => s.tls?.mode === 'ISTIO_MUTUAL');
    if (mutual !== undefined) {
      // tls rules keep the application's SNI (known per connection); tcp rules send the host.
      const concrete = kind === 'tcp' ? serverHostNames(mutual).find((h) => !h.startsWith('*') && routeHosts.some((r) => hostCovers(r, h) || r === h)) ?? null : null;
      return meshClientTls(ctx, c.host, concrete);
    }
  }
  return ctx.clusters.get(c.cluster)?.tls ?? null;
}

/**
 * HTTP towards a gateway that terminates mesh mTLS: when the destination cluster has no TLS of
 * its own (no DestinationRule `tls`, no auto mTLS) and a Gateway selecting the destination's
 * workloads serves ISTIO_MUTUAL on that port, the sidecar originates ISTIO_MUTUAL with the
 * request's host as SNI, so the gateway's server chain for that host is chosen. Istio needs a
 * DestinationRule `tls: {mode: ISTIO_MUTUAL, sni: <host>}` for this (the seed's Part 2 has
 * none, and Istio would send plaintext into the mTLS server); the warning says so.
 */
export function inferGatewayMeshTls(ctx: CompileContext, routeConfigs: ReadonlyMap<string, RouteConfiguration>): void {
  const done = new Set<string>();
  for (const rc of routeConfigs.values()) {
    for (const vh of rc.virtualHosts) {
      for (const r of vh.routes) {
        if (r.action.kind !== 'route') continue;
        for (const wc of r.action.clusters) {
          if (done.has(wc.cluster)) continue;
          done.add(wc.cluster);
          const cluster = ctx.clusters.get(wc.cluster);
          if (cluster === undefined || cluster.tls !== null || cluster.type === 'original_dst') continue;
          const servers = gatewayServersFor(ctx, cluster.serviceHost, cluster.port);
          const mutual = servers.filter((s) => (s.port.protocol.toUpperCase() === 'HTTPS') && s.tls?.mode === 'ISTIO_MUTUAL');
          if (mutual.length === 0) continue;
          ctx.clusters.set(cluster.name, Object.freeze({ ...cluster, tls: meshClientTls(ctx, cluster.serviceHost, null), origins: Object.freeze([...cluster.origins, 'Gateway ISTIO_MUTUAL server (inferred)']) }));
          const owner = resourceOf(ctx, r.source.resource);
          const hosts = [...new Set(mutual.flatMap(serverHostNames))].join(', ');
          if (owner !== null) {
            ctx.report(owner, ['spec'], 'SLU0420', 'warning',
              `${cluster.name}: the gateway serves ISTIO_MUTUAL on port ${cluster.port} (hosts ${hosts}) but no DestinationRule sets tls for ${cluster.serviceHost}; Sluice originates ISTIO_MUTUAL with the request host as SNI, Istio would send plaintext and the gateway would refuse it`,
              `add a DestinationRule for ${cluster.serviceHost} with trafficPolicy.portLevelSettings [{port: {number: ${cluster.port}}, tls: {mode: ISTIO_MUTUAL, sni: <host>}}]`);
          }
        }
      }
    }
  }
}
