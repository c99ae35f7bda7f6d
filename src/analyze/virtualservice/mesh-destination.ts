import { findDestinationRule } from '../../compile/clusters.js';
import { normalizeHost } from '../../compile/hosts.js';
import { resourceRef } from '../../config/resource.js';
import type { Analyzer } from '../analyzer.js';
import { newMessage } from '../messages.js';
import { destinationsOf, ruleGateways } from '../util.js';

/**
 * Istio's DestinationHostAnalyzer and DestinationRuleAnalyzer for rules that apply to sidecars
 * (`mesh`): unknown destination host, port or subset (IST0101), a multi-port service without
 * a port (IST0112). Rules that apply at a gateway are checked by compile itself
 * (compile.CompileAnalyzer), with the gateway's view of namespaces and ports.
 */
export const meshDestinationAnalyzer: Analyzer = {
  name: 'virtualservice.DestinationAnalyzer',
  description: 'Destinations of mesh rules name a known host, port and subset',
  inputs: ['VirtualService', 'ServiceEntry', 'Service', 'DestinationRule'],
  codes: ['IST0101', 'IST0112'],
  analyze(ctx) {
    for (const vs of ctx.list('VirtualService')) {
      for (const x of destinationsOf(vs)) {
        const rules = vs.spec[x.kind] as { match?: { gateways?: string[] }[] }[] | undefined;
        if (!ruleGateways(vs, rules?.[x.rule]?.match as never).has('mesh')) continue;
        const host = normalizeHost(x.d.host, vs.namespace, ctx.domainSuffix);
        const svc = ctx.registry.lookup(host, vs.namespace);
        if (svc === undefined) {
          ctx.report(newMessage('IST0101', vs, [...x.path, 'host'], `destination host ${host} is not in the service registry; requests routed to it get 503 (NC)`, 'add a ServiceEntry (or a Service with Endpoints) for this host, or fix the host name'));
          continue;
        }
        const port = x.d.port?.number;
        if (port === undefined && svc.ports.length > 1) {
          ctx.report(newMessage('IST0112', vs, [...x.path, 'host'], `This VirtualService routes to a service "${host}" that exposes multiple ports [${svc.ports.map((p) => p.number).join(' ')}]. Specifying a port in the destination is required to disambiguate.`, `set destination.port.number to one of ${svc.ports.map((p) => p.number).join(', ')}`));
        } else if (port !== undefined && svc.ports.length > 0 && !svc.ports.some((p) => p.number === port)) {
          ctx.report(newMessage('IST0101', vs, [...x.path, 'port'], `${host} has no port ${port} (ports: ${svc.ports.map((p) => p.number).join(', ')}); requests routed here get 503 (NC)`, `set destination.port.number to one of ${svc.ports.map((p) => p.number).join(', ')}`));
        }
        const subset = x.d.subset;
        if (subset === undefined) continue;
        const dr = findDestinationRule(ctx.compileContext(vs.namespace), host, svc.namespace);
        if (dr?.spec.subsets?.some((s) => s.name === subset) === true) continue;
        ctx.report(newMessage('IST0101', vs, [...x.path, 'subset'], `Referenced host+subset in destinationrule not found: "${host}+${subset}"; requests routed to it get 503 (NC)`, dr === null ? `add a DestinationRule for ${host} with subset ${subset}` : `add subset ${subset} to ${resourceRef(dr.rule)}`));
      }
    }
  },
};
