import type { Analyzer } from '../analyzer.js';
import { newMessage } from '../messages.js';
import { labelsText } from '../util.js';

/** Could a Service with selector `svc` front the pods a Gateway selects with `gw`? */
function fronts(svc: Readonly<Record<string, string>>, gw: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(gw).filter((k) => k in svc);
  return keys.length > 0 && Object.entries(gw).every(([k, v]) => svc[k] === undefined || svc[k] === v);
}

/**
 * IST0162: a Gateway server port that the Service in front of the gateway workload does not
 * expose (neither as port nor targetPort): clients cannot reach it through that Service. Only
 * checked when such a Service is part of the config.
 */
export const portOnServiceAnalyzer: Analyzer = {
  name: 'gateway.IngressGatewayPortAnalyzer',
  description: 'Gateway ports are exposed by the Service of the gateway workload',
  inputs: ['Gateway', 'Service'],
  codes: ['IST0162'],
  analyze(ctx) {
    const services = ctx.list('Service').filter((s) => s.spec.selector !== undefined && Object.keys(s.spec.selector).length > 0);
    for (const gw of ctx.list('Gateway')) {
      const sel = gw.spec.selector ?? {};
      if (Object.keys(sel).length === 0) continue;
      const svcs = services.filter((s) => fronts(s.spec.selector!, sel));
      if (svcs.length === 0) continue;
      const ports = new Set<number>();
      for (const s of svcs) for (const p of s.spec.ports ?? []) { ports.add(p.port); if (typeof p.targetPort === 'number') ports.add(p.targetPort); }
      gw.spec.servers.forEach((srv, i) => {
        if (ports.has(srv.port.number)) return;
        ctx.report(newMessage('IST0162', gw, ['spec', 'servers', i, 'port', 'number'], `The gateway is listening on a target port (port ${srv.port.number}) that is not defined in the Service associated with its workload instances (Pod selector ${labelsText(sel)}: ${svcs.map((s) => `Service ${s.namespace}/${s.name}`).join(', ')} exposes ${[...ports].sort((a, b) => a - b).join(', ')}). If you need to access the gateway port through the gateway Service, it will not be available.`, `add port ${srv.port.number} to ${svcs.map((s) => `Service ${s.namespace}/${s.name}`).join(', ')}, or use one of its ports`));
      });
    }
  },
};
