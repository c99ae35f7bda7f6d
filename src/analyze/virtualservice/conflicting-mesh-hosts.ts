import type { Analyzer } from '../analyzer.js';
import { newMessage } from '../messages.js';
import { isMeshBound, refOf, type VS } from '../util.js';

/**
 * IST0109: two VirtualServices bound to the `mesh` gateway name the same host. Istio does not
 * merge them reliably for sidecars; one of them silently wins.
 */
export const conflictingMeshHostsAnalyzer: Analyzer = {
  name: 'virtualservice.ConflictingMeshGatewayHostsAnalyzer',
  description: 'No two mesh VirtualServices define the same host',
  inputs: ['VirtualService'],
  codes: ['IST0109'],
  analyze(ctx) {
    const byHost = new Map<string, { vs: VS; index: number }[]>();
    for (const vs of ctx.list('VirtualService')) {
      if (!isMeshBound(vs)) continue;
      (vs.spec.hosts ?? []).forEach((h, index) => {
        // Short names are relative to the VirtualService's namespace.
        const key = h.includes('.') || h === '*' ? h.toLowerCase() : `${h.toLowerCase()}.${vs.namespace}.svc.${ctx.domainSuffix}`;
        const l = byHost.get(key) ?? [];
        l.push({ vs, index });
        byHost.set(key, l);
      });
    }
    for (const [host, list] of byHost) {
      const distinct = [...new Map(list.map((x) => [refOf(x.vs), x])).values()];
      if (distinct.length < 2) continue;
      const names = distinct.map((x) => refOf(x.vs)).join(',');
      for (const x of distinct) {
        ctx.report(newMessage('IST0109', x.vs, ['spec', 'hosts', x.index], `The VirtualServices ${names} associated with mesh gateway define the same host ${host} which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.`, `merge the rules of ${names} into one VirtualService for ${host}`));
      }
    }
  },
};
