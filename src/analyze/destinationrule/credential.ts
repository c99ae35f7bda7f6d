import type { Analyzer } from '../analyzer.js';
import { newMessage } from '../messages.js';

/**
 * SLU0306: a DestinationRule `tls.credentialName` (client certificate / CA for TLS origination at
 * a gateway) naming a Secret that neither the config nor --credentials provides: every
 * connection's TLS setup fails (503 UF). Istio only validates this at the gateway, at run time.
 */
export const drCredentialAnalyzer: Analyzer = {
  name: 'destinationrule.CredentialAnalyzer',
  description: 'DestinationRule credentialNames resolve to a Secret',
  inputs: ['DestinationRule', 'Secret'],
  codes: ['SLU0306'],
  analyze(ctx) {
    const namespaces = new Set([...ctx.workloads.map((w) => w.namespace), ctx.rootNamespace]);
    const compiled = new Set(ctx.workloads.flatMap((w) => w.snapshot.diagnostics.filter((d) => d.code === 'SLU0210').map((d) => d.resource)));
    for (const dr of ctx.list('DestinationRule')) {
      // Compile reports unusable material of DestinationRules its routes use (SLU0210).
      if (compiled.has(`DestinationRule ${dr.namespace}/${dr.name}`)) continue;
      const places: { name: string | undefined; path: (string | number)[] }[] = [
        { name: dr.spec.trafficPolicy?.tls?.credentialName, path: ['spec', 'trafficPolicy', 'tls', 'credentialName'] },
        ...(dr.spec.trafficPolicy?.portLevelSettings ?? []).map((p, i) => ({ name: p.tls?.credentialName, path: ['spec', 'trafficPolicy', 'portLevelSettings', i, 'tls', 'credentialName'] })),
        ...(dr.spec.subsets ?? []).map((s, i) => ({ name: s.trafficPolicy?.tls?.credentialName, path: ['spec', 'subsets', i, 'trafficPolicy', 'tls', 'credentialName'] })),
      ];
      for (const p of places) {
        if (p.name === undefined) continue;
        const name = p.name;
        const found = ctx.credentials.has(name) || [...namespaces, dr.namespace].some((ns) => ctx.get('Secret', ns, name) !== undefined);
        if (found) continue;
        ctx.report(newMessage('SLU0306', dr, p.path, `credentialName ${p.name} names no Secret (looked in namespaces ${[...new Set([...namespaces, dr.namespace])].join(', ')} and --credentials): TLS origination to ${dr.spec.host} fails on every connection (503 UF)`, `create Secret ${p.name} (tls.crt, tls.key, ca.crt) in the gateway's namespace, or pass --credentials DIR with ${p.name}/`));
      }
    }
  },
};
