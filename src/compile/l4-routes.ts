import type { L4MatchAttributes, RouteDestination } from '../api/types.js';
import type { Resource } from '../config/resource.js';
import { resourceRef } from '../config/resource.js';
import { ensureCluster } from './clusters.js';
import type { CompileContext } from './context.js';
import type { MergedServer } from './gateways.js';
import { intersectHosts, normalizeHost } from './hosts.js';
import { gatewayRef } from './names.js';
import { virtualServicesFor } from './http-routes.js';
import type { L4Route, WeightedCluster } from './snapshot.js';
import { selectorMatches } from './visibility.js';

type VS = Resource<'VirtualService'>;

/** Hosts of `vs` that intersect the server's hosts (namespace part honoured). */
function boundHosts(ctx: CompileContext, vs: VS, s: MergedServer): string[] {
  const out: string[] = [];
  for (const raw of vs.spec.hosts ?? []) {
    const h = normalizeHost(raw, vs.namespace, ctx.workload.domainSuffix);
    for (const e of s.hosts) {
      const nsOk = e.namespace === '*' || (e.namespace === '.' ? s.gateway.namespace === vs.namespace : e.namespace === vs.namespace);
      if (!nsOk) continue;
      const inter = intersectHosts(h, e.host);
      if (inter !== null) out.push(inter);
    }
  }
  return out;
}

function keepL4(ctx: CompileContext, vs: VS, m: L4MatchAttributes, ref: string, port: number): boolean {
  if (m.gateways !== undefined && m.gateways.length > 0 && !m.gateways.some((g) => gatewayRef(g, vs.namespace) === ref)) return false;
  if (m.port !== undefined && m.port !== port) return false;
  if (m.sourceLabels !== undefined && !selectorMatches(m.sourceLabels, ctx.workload.labels)) return false;
  if (m.sourceNamespace !== undefined && m.sourceNamespace !== ctx.workload.namespace) return false;
  return true;
}

function weighted(ctx: CompileContext, vs: VS, at: (string | number)[], route: readonly RouteDestination[], port: number): { clusters: WeightedCluster[]; total: number } {
  let cumulative = 0;
  const clusters = route.map((d, i) => {
    const r = ensureCluster(ctx, vs, [...at, 'route', i, 'destination'], d.destination, port);
    const weight = route.length === 1 ? 100 : (d.weight ?? 0);
    cumulative += weight;
    return Object.freeze({ cluster: r.cluster, weight, cumulative, host: r.host, subset: d.destination.subset ?? '', port: r.port, requestHeaders: null, responseHeaders: null });
  });
  return { clusters, total: cumulative };
}

/**
 * `tls:` routes for a passthrough server: each kept match block becomes an L4 route whose SNI
 * set is its `sniHosts` (within the server's hosts); the data plane takes the first route whose
 * SNI set covers the ClientHello's server name.
 */
export function buildTlsRoutes(ctx: CompileContext, s: MergedServer): L4Route[] {
  const out: L4Route[] = [];
  for (const vs of virtualServicesFor(ctx, new Set([s.ref]))) {
    if (boundHosts(ctx, vs, s).length === 0) continue;
    (vs.spec.tls ?? []).forEach((rule, ruleIndex) => {
      rule.match.forEach((m, matchIndex) => {
        if (!keepL4(ctx, vs, m, s.ref, s.port)) return;
        const sni = m.sniHosts
          .map((h) => h.toLowerCase())
          .flatMap((h) => s.hosts.map((e) => intersectHosts(h, e.host)).filter((x): x is string => x !== null));
        if (sni.length === 0) return;
        const at = ['spec', 'tls', ruleIndex];
        const { clusters, total } = weighted(ctx, vs, at, rule.route ?? [], s.port);
        const pos = vs.pos([...at, 'match', matchIndex]);
        out.push(Object.freeze({
          name: `${vs.namespace}.${vs.name}.tls.${ruleIndex}`,
          sniHosts: Object.freeze([...new Set(sni)]),
          destinationSubnets: Object.freeze(m.destinationSubnets ?? []),
          clusters: Object.freeze(clusters),
          totalWeight: total,
          source: Object.freeze({ resource: resourceRef(vs), file: pos.file, line: pos.line, col: pos.col, rule: ruleIndex, match: matchIndex }),
        }));
      });
    });
  }
  return out;
}

/** `tcp:` routes for a TCP (or TLS-terminated) server: the first matching rule wins. */
export function buildTcpRoutes(ctx: CompileContext, s: MergedServer): L4Route[] {
  const out: L4Route[] = [];
  for (const vs of virtualServicesFor(ctx, new Set([s.ref]))) {
    if (boundHosts(ctx, vs, s).length === 0) continue;
    (vs.spec.tcp ?? []).forEach((rule, ruleIndex) => {
      const blocks = rule.match !== undefined && rule.match.length > 0 ? rule.match : [undefined];
      blocks.forEach((m, matchIndex) => {
        if (m !== undefined && !keepL4(ctx, vs, m, s.ref, s.port)) return;
        const at = ['spec', 'tcp', ruleIndex];
        const { clusters, total } = weighted(ctx, vs, at, rule.route ?? [], s.port);
        const pos = vs.pos(m !== undefined ? [...at, 'match', matchIndex] : at);
        out.push(Object.freeze({
          name: `${vs.namespace}.${vs.name}.tcp.${ruleIndex}`,
          sniHosts: Object.freeze([]),
          destinationSubnets: Object.freeze(m?.destinationSubnets ?? []),
          clusters: Object.freeze(clusters),
          totalWeight: total,
          source: Object.freeze({ resource: resourceRef(vs), file: pos.file, line: pos.line, col: pos.col, rule: ruleIndex, match: m !== undefined ? matchIndex : -1 }),
        }));
      });
    });
  }
  return out;
}
