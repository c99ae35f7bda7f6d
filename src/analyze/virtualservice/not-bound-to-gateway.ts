import type { Analyzer } from '../analyzer.js';
import { newMessage } from '../messages.js';
import { serverHostsBind, vsHosts } from '../util.js';

/**
 * SLU0312: a VirtualService without `gateways` applies to sidecars only (`[mesh]`), yet a
 * Gateway serves one of its hosts: the classic "my ingress returns 404" mistake.
 */
export const notBoundToGatewayAnalyzer: Analyzer = {
  name: 'virtualservice.NotBoundToGatewayAnalyzer',
  description: 'VirtualServices that omit gateways for a host a Gateway serves',
  inputs: ['VirtualService', 'Gateway'],
  codes: ['SLU0312'],
  analyze(ctx) {
    const gateways = ctx.list('Gateway');
    for (const vs of ctx.list('VirtualService')) {
      if (vs.spec.gateways !== undefined || (vs.spec.hosts ?? []).length === 0) continue;
      const hosts = vsHosts(vs, ctx.domainSuffix);
      for (const gw of gateways) {
        const hit = hosts.findIndex((h) => gw.spec.servers.some((s) => serverHostsBind(s.hosts, gw.namespace, h, vs.namespace) && !s.hosts.every((e) => e.split('/').pop() === '*')));
        if (hit < 0) continue;
        ctx.report(newMessage('SLU0312', vs, ['spec', 'hosts', hit], `VirtualService ${vs.namespace}/${vs.name} has no gateways, so it applies to sidecars only (gateways: [mesh]); Gateway ${gw.namespace}/${gw.name} serves ${vs.spec.hosts![hit]} but this VirtualService never routes there`, `add gateways: [${gw.namespace}/${gw.name}] (and mesh, if sidecars should use it too)`));
        break;
      }
    }
  },
};
