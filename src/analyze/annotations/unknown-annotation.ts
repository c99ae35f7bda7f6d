import type { Analyzer } from '../analyzer.js';
import { newMessage } from '../messages.js';

// Istio's annotation namespaces (istio/api annotation/annotations.yaml). Keys under these
// prefixes are accepted; exact keys elsewhere in *.istio.io are listed one by one.
const KNOWN_PREFIXES = [
  'sidecar.istio.io/', 'traffic.sidecar.istio.io/', 'proxy.istio.io/', 'readiness.status.sidecar.istio.io/',
  'status.sidecar.istio.io/', 'inject.istio.io/', 'ambient.istio.io/', 'topology.istio.io/', 'gateway.istio.io/',
  'install.operator.istio.io/', 'prometheus.istio.io/', 'galley.istio.io/', 'istio.io/', 'policy.istio.io/', 'security.istio.io/',
];
const KNOWN_NETWORKING = new Set([
  'networking.istio.io/exportTo', 'networking.istio.io/traffic-distribution', 'networking.istio.io/address-type',
  'networking.istio.io/service-type', 'networking.istio.io/use-waypoint', 'networking.istio.io/dataplane-mode',
]);

/** IST0108: an annotation in an Istio domain that no Istio component reads (usually a typo). */
export const unknownAnnotationAnalyzer: Analyzer = {
  name: 'annotations.K8sAnalyzer',
  description: 'Checks that annotations in Istio domains are ones Istio knows',
  inputs: [],
  codes: ['IST0108'],
  analyze(ctx) {
    for (const r of ctx.store.all()) {
      for (const key of Object.keys(r.annotations)) {
        const slash = key.indexOf('/');
        if (slash < 0) continue;
        const domain = key.slice(0, slash);
        if (domain !== 'istio.io' && !domain.endsWith('.istio.io')) continue;
        if (KNOWN_NETWORKING.has(key)) continue;
        if (domain === 'networking.istio.io' || !KNOWN_PREFIXES.some((p) => key.startsWith(p))) {
          ctx.report(newMessage('IST0108', r, ['metadata', 'annotations', key], `Unknown annotation: ${key}`, 'check the spelling against https://istio.io/latest/docs/reference/config/annotations/, or remove it'));
        }
      }
    }
  },
};
