import { BlockList, isIP } from 'node:net';
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

/**
 * Istio's l4SingleMatch at a gateway: a match block applies when its `port` (if any) is the
 * server port and its `gateways` (if any) name this Gateway. `sourceLabels`,
 * `sourceNamespace` and `destinationSubnets` are not consulted for gateway tls/tcp routes; a
 * note says so once per block that sets them.
 */
function keepL4(ctx: CompileContext, vs: VS, at: (string | number)[], m: L4MatchAttributes, ref: string, port: number): boolean {
  if (m.gateways !== undefined && m.gateways.length > 0 && !m.gateways.some((g) => gatewayRef(g, vs.namespace) === ref)) return false;
  if (m.port !== undefined && m.port !== port) return false;
  const ignored = (['sourceLabels', 'sourceNamespace', 'destinationSubnets'] as const).filter((f) => m[f] !== undefined);
  if (ignored.length > 0) ctx.report(vs, [...at, ignored[0]!], 'SLU0208', 'info', `${ignored.join(', ')} ${ignored.length === 1 ? 'is' : 'are'} not applied to gateway tls/tcp routes (as in Istio); this match applies to every connection on Gateway ${ref} port ${port}`);
  return true;
}

/**
 * `destinationSubnets` compiled to a matcher on the connection's destination address
 * (node:net BlockList, IPv4 and IPv6). Used where routes are built for a sidecar; gateway
 * routes leave it null, as Istio does.
 */
export function compileDestinationSubnets(cidrs: readonly string[]): ((address: string) => boolean) | null {
  if (cidrs.length === 0) return null;
  const list = new BlockList();
  for (const c of cidrs) {
    const [addr, bits] = c.split('/');
    const type = isIP(addr ?? '') === 6 ? 'ipv6' : 'ipv4';
    const prefix = bits === undefined ? (type === 'ipv6' ? 128 : 32) : Number(bits);
    if (isIP(addr ?? '') === 0 || !Number.isInteger(prefix)) continue;
    list.addSubnet(addr!, prefix, type);
  }
  return (address: string): boolean => list.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
}

function l4Route(r: Omit<L4Route, 'destinationMatcher'>, matcher: ((address: string) => boolean) | null): L4Route {
  const out = { ...r } as L4Route;
  // Non-enumerable: the snapshot stays JSON-dumpable.
  Object.defineProperty(out, 'destinationMatcher', { value: matcher, enumerable: false });
  return Object.freeze(out);
}

/** A tls/tcp rule's `route` as weighted clusters (a single destination weighs 100), each ensured in ctx. */
export function weightedL4Clusters(ctx: CompileContext, vs: VS, at: (string | number)[], route: readonly RouteDestination[], port: number): { clusters: WeightedCluster[]; total: number } {
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
  let httpOnly: VS | null = null;
  for (const vs of virtualServicesFor(ctx, new Set([s.ref]))) {
    if (boundHosts(ctx, vs, s).length === 0) continue;
    if ((vs.spec.tls ?? []).length === 0 && (vs.spec.http ?? []).length > 0) httpOnly ??= vs;
    (vs.spec.tls ?? []).forEach((rule, ruleIndex) => {
      rule.match.forEach((m, matchIndex) => {
        if (!keepL4(ctx, vs, ['spec', 'tls', ruleIndex, 'match', matchIndex], m, s.ref, s.port)) return;
        const sni = m.sniHosts
          .map((h) => h.toLowerCase())
          .flatMap((h) => s.hosts.map((e) => intersectHosts(h, e.host)).filter((x): x is string => x !== null));
        if (sni.length === 0) return;
        const at = ['spec', 'tls', ruleIndex];
        const { clusters, total } = weightedL4Clusters(ctx, vs, at, rule.route ?? [], s.port);
        const pos = vs.pos([...at, 'match', matchIndex]);
        out.push(l4Route({
          name: `${vs.namespace}.${vs.name}.tls.${ruleIndex}`,
          // `*` = any server name: the chain without names.
          sniHosts: Object.freeze(sni.includes('*') ? [] : [...new Set(sni)]),
          destinationSubnets: Object.freeze([]),
          clusters: Object.freeze(clusters),
          totalWeight: total,
          source: Object.freeze({ resource: resourceRef(vs), file: pos.file, line: pos.line, col: pos.col, rule: ruleIndex, match: matchIndex }),
        }, null));
      });
    });
  }
  if (out.length === 0 && httpOnly !== null) {
    ctx.report(httpOnly, ['spec', 'http'], 'SLU0209', 'warning',
      `Gateway ${s.ref} port ${s.port} passes TLS through (mode ${s.tlsMode}), so http routes never match there and connections are closed`,
      'route by SNI with tls: [{match: [{sniHosts: [...]}], route: [...]}], or terminate TLS on the server (tls.mode SIMPLE with credentialName)');
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
        const at = ['spec', 'tcp', ruleIndex];
        if (m !== undefined && !keepL4(ctx, vs, [...at, 'match', matchIndex], m, s.ref, s.port)) return;
        const { clusters, total } = weightedL4Clusters(ctx, vs, at, rule.route ?? [], s.port);
        const pos = vs.pos(m !== undefined ? [...at, 'match', matchIndex] : at);
        out.push(l4Route({
          name: `${vs.namespace}.${vs.name}.tcp.${ruleIndex}`,
          sniHosts: Object.freeze([]),
          destinationSubnets: Object.freeze([]),
          clusters: Object.freeze(clusters),
          totalWeight: total,
          source: Object.freeze({ resource: resourceRef(vs), file: pos.file, line: pos.line, col: pos.col, rule: ruleIndex, match: m !== undefined ? matchIndex : -1 }),
        }, null));
      });
    });
  }
  return out;
}
