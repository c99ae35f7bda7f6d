import { normalizeHost } from '../../compile/hosts.js';
import { selectorMatches } from '../../compile/visibility.js';
import type { AnalysisContext, Analyzer } from '../analyzer.js';
import { newMessage } from '../messages.js';
import { destinationsOf, labelsText, refOf, ruleGateways, serverHostsBind, vsHosts, type GW, type VS } from '../util.js';

/**
 * The workload labels behind an egress gateway host: a Service of the config whose selector
 * matches a Gateway's, else Istio's naming convention (istio-egressgateway.<ns>.svc →
 * Gateways selecting istio: egressgateway).
 */
function gatewayWorkloadOf(ctx: AnalysisContext, host: string): Readonly<Record<string, string>> | null {
  const m = /^([^.]+)\.([^.]+)\.svc\./.exec(host);
  if (m === null) return null;
  const [, name, ns] = m as unknown as [string, string, string];
  const svc = ctx.get('Service', ns, name);
  const gateways = ctx.list('Gateway');
  if (svc?.spec.selector !== undefined) {
    const sel = svc.spec.selector;
    const gw = gateways.find((g) => Object.keys(g.spec.selector ?? {}).length > 0 && selectorMatches(g.spec.selector, sel));
    return gw !== undefined ? sel : null;
  }
  const short = name.replace(/^istio-/, '');
  const gw = gateways.find((g) => Object.values(g.spec.selector ?? {}).some((v) => v === name || v === short));
  return gw !== undefined ? gw.spec.selector! : null;
}

function isEgressGateway(gw: GW): boolean {
  return Object.values(gw.spec.selector ?? {}).some((v) => v.includes('egress'));
}

type RuleKind = 'http' | 'tls' | 'tcp';

/**
 * SLU0303/SLU0304: the two halves of an egress route (Istio's egress-gateway pattern). The mesh
 * half (rules with gateways [mesh]) sends a host to the egress gateway; the gateway half (a
 * Gateway server for that host, and rules bound to it) sends it out. Half a chain is a silent
 * failure in Istio: with the gateway half missing requests die at the egress gateway (404 or a
 * closed connection); with the mesh half missing sidecars go straight out.
 */
export const egressChainAnalyzer: Analyzer = {
  name: 'egress.EgressChainAnalyzer',
  description: 'Egress routes have both their mesh half and their gateway half',
  inputs: ['VirtualService', 'Gateway', 'ServiceEntry', 'Service'],
  codes: ['SLU0303', 'SLU0304'],
  analyze(ctx) {
    const vss = ctx.list('VirtualService');
    const gateways = ctx.list('Gateway');
    const meshSent = new Set<string>();
    for (const vs of vss) {
      const hosts = vsHosts(vs, ctx.domainSuffix);
      for (const x of destinationsOf(vs)) {
        const rules = vs.spec[x.kind] as { match?: { gateways?: string[]; port?: number }[] }[] | undefined;
        if (!ruleGateways(vs, rules?.[x.rule]?.match as never).has('mesh')) continue;
        const gwHost = normalizeHost(x.d.host, vs.namespace, ctx.domainSuffix);
        const labels = gatewayWorkloadOf(ctx, gwHost);
        if (labels === null) continue;
        for (const h of hosts) meshSent.add(h);
        const port = x.d.port?.number;
        const adopting = gateways.filter((g) => selectorMatches(g.spec.selector ?? {}, labels));
        const serving = adopting.filter((g) => g.spec.servers.some((s) => (port === undefined || s.port.number === port) && hosts.some((h) => serverHostsBind(s.hosts, g.namespace, h, vs.namespace))));
        const hostList = vs.spec.hosts?.join(', ') ?? '';
        if (serving.length === 0) {
          ctx.report(newMessage('SLU0303', vs, [...x.path, 'host'], `sidecars send ${hostList} to the egress gateway ${gwHost}${port !== undefined ? ` port ${port}` : ''}, but no Gateway selecting ${labelsText(labels)} serves ${hostList}${port !== undefined ? ` on port ${port}` : ''}${adopting.length > 0 ? ` (Gateways of that workload: ${adopting.map(refOf).join(', ')})` : ''}: the requests end at the egress gateway`, `add a server for ${hostList}${port !== undefined ? ` on port ${port}` : ''} to a Gateway with selector ${labelsText(labels)}, and route it with a rule whose gateways name that Gateway`));
          continue;
        }
        const kind: RuleKind = x.kind;
        const routed = serving.some((g) => vss.some((other) => {
          const oh = vsHosts(other, ctx.domainSuffix);
          if (!hosts.some((h) => oh.includes(h))) return false;
          const rs = (other.spec[kind] ?? []) as { match?: { gateways?: string[] }[] }[];
          return rs.some((r) => ruleGateways(other, r.match as never).has(refOf(g)));
        }));
        if (!routed) {
          ctx.report(newMessage('SLU0303', vs, [...x.path, 'host'], `sidecars send ${hostList} to the egress gateway ${gwHost}, and Gateway ${serving.map(refOf).join(', ')} accepts it, but no VirtualService has ${kind} rules for ${hostList} at that Gateway: requests end there (404, or the connection is closed)`, `add a ${kind} rule with match gateways [${refOf(serving[0]!)}] routing ${hostList} to the external service`));
        }
      }
    }
    // The other direction: an egress gateway routes a host no mesh rule sends to it.
    for (const vs of vss) {
      const hosts = vsHosts(vs, ctx.domainSuffix);
      if (hosts.some((h) => meshSent.has(h))) continue;
      const gws = new Set<string>();
      for (const kind of ['http', 'tls', 'tcp'] as const) {
        for (const r of (vs.spec[kind] ?? []) as { match?: { gateways?: string[] }[] }[]) for (const g of ruleGateways(vs, r.match as never)) gws.add(g);
      }
      const egress = [...gws].map((ref) => gateways.find((g) => refOf(g) === ref)).filter((g): g is GW => g !== undefined && isEgressGateway(g));
      if (egress.length === 0) continue;
      const external = hosts.filter((h) => ctx.registry.lookup(h, vs.namespace)?.location === 'MESH_EXTERNAL');
      if (external.length === 0) continue;
      reportMeshHalf(ctx, vs, external, egress);
    }
  },
};

function reportMeshHalf(ctx: AnalysisContext, vs: VS, hosts: string[], egress: GW[]): void {
  ctx.report(newMessage('SLU0304', vs, ['spec', 'hosts'], `Gateway ${egress.map(refOf).join(', ')} routes ${hosts.join(', ')} out of the mesh, but no mesh rule sends ${hosts.length === 1 ? 'it' : 'them'} to the egress gateway: sidecars call ${hosts.length === 1 ? 'it' : 'them'} directly`, `add gateways [mesh] and a rule with match gateways [mesh] routing ${hosts.join(', ')} to the egress gateway service`));
}
