import type { L4MatchAttributes } from '../api/types.js';
import { resourceRef } from '../config/resource.js';
import { ensureCluster } from './clusters.js';
import type { CompileContext } from './context.js';
import { normalizeHost } from './hosts.js';
import { weightedL4Clusters } from './l4-routes.js';
import type { RegistryService } from './registry.js';
import { meshBlock, resourceOf, vsHosts, type VS } from './sidecar-common.js';
import { l4UpstreamTls } from './sidecar-gateway-tls.js';
import type { SidecarScope } from './sidecar-scope.js';
import type { OutboundL4Route, OutboundL4Table, OutboundService } from './sidecar-snapshot.js';
import type { L4Route, WeightedCluster } from './snapshot.js';
import { selectorMatches } from './visibility.js';

// The sidecar's CONNECT tables: per destination port, the `tls` rules (by SNI) and `tcp` rules
// (by host) of VirtualServices bound to mesh, then the services on the port.

function keepL4(ctx: CompileContext, vs: VS, m: L4MatchAttributes | undefined, port: number): boolean {
  if (!meshBlock(vs, m?.gateways)) return false;
  if (m === undefined) return true;
  if (m.port !== undefined && m.port !== port) return false;
  if (m.sourceLabels !== undefined && !selectorMatches(m.sourceLabels, ctx.workload.labels)) return false;
  if (m.sourceNamespace !== undefined && m.sourceNamespace !== ctx.workload.namespace) return false;
  return true;
}

/**
 * `port` 0 builds the table for ports no service or rule names: only rules without a `port`
 * match apply there, and no service does.
 */
export function buildL4Table(ctx: CompileContext, scope: SidecarScope, port: number, virtualServices: readonly VS[], services: readonly RegistryService[]): OutboundL4Table {
  const tlsRoutes: OutboundL4Route[] = [];
  const tcpRoutes: OutboundL4Route[] = [];
  for (const vs of virtualServices) {
    const hosts = vsHosts(ctx, vs);
    (vs.spec.tls ?? []).forEach((rule, ruleIndex) => {
      rule.match.forEach((m, matchIndex) => {
        if (port === 0 ? m.port !== undefined || !meshBlock(vs, m.gateways) : !keepL4(ctx, vs, m, port)) return;
        const sni = m.sniHosts.map((h) => normalizeHost(h, vs.namespace, ctx.workload.domainSuffix));
        const at = ['spec', 'tls', ruleIndex];
        const { clusters, total } = weightedL4Clusters(ctx, vs, at, rule.route ?? [], port);
        const route = l4Route(vs, `${vs.namespace}.${vs.name}.tls.${ruleIndex}`, sni, m.destinationSubnets ?? [], clusters, total, at, matchIndex);
        tlsRoutes.push(Object.freeze({ route, hosts: Object.freeze(hosts), upstreamTls: Object.freeze(clusters.map((c) => l4UpstreamTls(ctx, c, sni, 'tls'))) }));
      });
    });
    (vs.spec.tcp ?? []).forEach((rule, ruleIndex) => {
      const blocks = rule.match !== undefined && rule.match.length > 0 ? rule.match : [undefined];
      blocks.forEach((m, matchIndex) => {
        if (port === 0 ? m?.port !== undefined || !meshBlock(vs, m?.gateways) : !keepL4(ctx, vs, m, port)) return;
        const at = ['spec', 'tcp', ruleIndex];
        const { clusters, total } = weightedL4Clusters(ctx, vs, at, rule.route ?? [], port);
        const route = l4Route(vs, `${vs.namespace}.${vs.name}.tcp.${ruleIndex}`, [], m?.destinationSubnets ?? [], clusters, total, at, m === undefined ? -1 : matchIndex);
        tcpRoutes.push(Object.freeze({ route, hosts: Object.freeze(hosts), upstreamTls: Object.freeze(clusters.map((c) => l4UpstreamTls(ctx, c, hosts, 'tcp'))) }));
      });
    });
  }
  const svcEntries: OutboundService[] = [];
  let tlsService = false;
  for (const svc of services) {
    const sp = svc.ports.find((p) => p.number === port);
    if (sp === undefined || !scope.allowsService(svc, port)) continue;
    const owner = resourceOf(ctx, svc.origin);
    if (owner === null) continue;
    const r = ensureCluster(ctx, owner, ['spec'], { host: svc.hostname, port: { number: port } }, port);
    if (sp.protocol === 'HTTPS' || sp.protocol === 'TLS') tlsService = true;
    svcEntries.push(Object.freeze({ host: svc.hostname, cluster: r.cluster, upstreamTls: ctx.clusters.get(r.cluster)?.tls ?? null }));
  }
  // Exact names before wildcards, longer wildcards first: the most specific service wins.
  svcEntries.sort((a, b) => Number(a.host.startsWith('*')) - Number(b.host.startsWith('*')) || b.host.length - a.host.length);
  return Object.freeze({
    port,
    inspectTls: tlsRoutes.length > 0 || tlsService || port === 443,
    tlsRoutes: Object.freeze(tlsRoutes),
    tcpRoutes: Object.freeze(tcpRoutes),
    services: Object.freeze(svcEntries),
  });
}

function l4Route(vs: VS, name: string, sniHosts: readonly string[], subnets: readonly string[], clusters: readonly WeightedCluster[], total: number, at: (string | number)[], matchIndex: number): L4Route {
  const pos = vs.pos(matchIndex >= 0 ? [...at, 'match', matchIndex] : at);
  return Object.freeze({
    name,
    sniHosts: Object.freeze([...new Set(sniHosts)]),
    destinationSubnets: Object.freeze([...subnets]),
    clusters: Object.freeze([...clusters]),
    totalWeight: total,
    source: Object.freeze({ resource: resourceRef(vs), file: pos.file, line: pos.line, col: pos.col, rule: Number(at[2]), match: matchIndex }),
  });
}
