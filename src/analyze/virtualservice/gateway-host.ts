import type { Analyzer } from '../analyzer.js';
import { newMessage } from '../messages.js';
import { at, gatewaysOf, serverHostsBind, vsHosts } from '../util.js';
import { displayPath } from '../../trace/format.js';

/**
 * IST0101 for a `gateways` entry naming no Gateway (or one refused at load), and IST0132 for a
 * host no server of a named Gateway serves: such hosts are silently unused by Istio.
 */
export const gatewayHostAnalyzer: Analyzer = {
  name: 'virtualservice.GatewayAnalyzer',
  description: 'Every gateway a VirtualService names exists and serves its hosts',
  inputs: ['VirtualService', 'Gateway'],
  codes: ['IST0101', 'IST0132'],
  analyze(ctx) {
    for (const vs of ctx.list('VirtualService')) {
      if (vs.spec.hosts === undefined || vs.spec.hosts.length === 0) continue; // delegate child
      const hosts = vsHosts(vs, ctx.domainSuffix);
      (vs.spec.gateways ?? []).forEach((raw, gi) => {
        const ref = gatewaysOf(vs)[gi]!;
        if (ref === 'mesh') return;
        const [ns, name] = ref.split('/') as [string, string];
        const gw = ctx.get('Gateway', ns, name);
        if (gw === undefined) {
          const refused = ctx.loadDiagnostics.find((d) => d.resource === `Gateway ${ref}` && d.level === 'error');
          ctx.report(newMessage('IST0101', vs, ['spec', 'gateways', gi], `Referenced gateway not found: "${raw}"${refused !== undefined ? ` (Gateway ${ref} is invalid and was refused: ${refused.message} at ${displayPath(refused.file ?? '')}:${refused.line ?? 0})` : ''}`,
            refused !== undefined ? `fix Gateway ${ref} (${refused.fix ?? 'see its error'})` : `create Gateway ${ref}, or fix the name (namespace/name; a bare name means namespace ${vs.namespace})`));
          return;
        }
        const servers = gw.spec.servers;
        const missing: { host: string; index: number }[] = [];
        hosts.forEach((h, hi) => {
          if (!servers.some((s) => serverHostsBind(s.hosts, gw.namespace, h, vs.namespace))) missing.push({ host: vs.spec.hosts![hi]!, index: hi });
        });
        if (missing.length === 0) return;
        const served = [...new Set(servers.flatMap((s) => s.hosts))].join(', ');
        ctx.report(newMessage('IST0132', vs, ['spec', 'hosts', missing[0]!.index],
          `one or more host [${missing.map((m) => m.host).join(', ')}] defined in VirtualService ${vs.namespace}/${vs.name} not found in Gateway ${ref} (it serves: ${served}); requests for ${missing.length === 1 ? 'it' : 'them'} get 404 at this gateway`,
          `add ${missing.map((m) => `"${m.host}"`).join(', ')} to the hosts of a server of Gateway ${ref} (${displayPath(at(gw, ['spec', 'servers']))}), or bind the VirtualService to a Gateway that serves ${missing.length === 1 ? 'it' : 'them'}`));
      });
    }
  },
};
