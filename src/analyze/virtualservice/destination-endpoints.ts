import { findDestinationRule } from '../../compile/clusters.js';
import { normalizeHost } from '../../compile/hosts.js';
import type { RegistryService } from '../../compile/registry.js';
import { selectorMatches } from '../../compile/visibility.js';
import { resourceRef } from '../../config/resource.js';
import type { AnalysisContext, Analyzer } from '../analyzer.js';
import { newMessage } from '../messages.js';
import { destinationsOf, labelsText } from '../util.js';

/** Are this service's endpoints known from the config (not filled in by a cluster at run time)? */
function endpointsKnown(ctx: AnalysisContext, s: RegistryService): boolean {
  if (!s.kubernetes) return s.resolution === 'STATIC';
  const [name] = s.hostname.split('.');
  return ctx.get('Endpoints', s.namespace, name!) !== undefined || ctx.list('EndpointSlice').some((e) => e.namespace === s.namespace && e.labels['kubernetes.io/service-name'] === name);
}

/**
 * SLU0309: a destination whose service exists but has no endpoint (a STATIC ServiceEntry with
 * none, a workloadSelector that selects no WorkloadEntry, a Service whose Endpoints are empty):
 * every request gets 503 "no healthy upstream" (UH). IST0173: a subset whose labels select
 * none of the service's endpoints. Services whose endpoints come from a cluster are skipped.
 */
export const destinationEndpointsAnalyzer: Analyzer = {
  name: 'virtualservice.DestinationEndpointsAnalyzer',
  description: 'Destinations and subsets that resolve to no endpoint',
  inputs: ['VirtualService', 'ServiceEntry', 'WorkloadEntry', 'Service', 'Endpoints', 'EndpointSlice', 'Pod', 'DestinationRule'],
  codes: ['SLU0309', 'IST0173'],
  analyze(ctx) {
    for (const vs of ctx.list('VirtualService')) {
      for (const x of destinationsOf(vs)) {
        const host = normalizeHost(x.d.host, vs.namespace, ctx.domainSuffix);
        const svc = ctx.registry.lookup(host, vs.namespace);
        if (svc === undefined || !endpointsKnown(ctx, svc)) continue;
        if (svc.endpoints.length === 0) {
          ctx.report(newMessage('SLU0309', vs, [...x.path, 'host'], `destination ${host} resolves to no endpoint (${svc.origin} has none): requests get 503 no healthy upstream (UH)`, `add endpoints to ${svc.origin}${svc.kubernetes ? ' (Endpoints/EndpointSlice)' : ' (spec.endpoints, or WorkloadEntries its workloadSelector selects)'}`));
          continue;
        }
        const subset = x.d.subset;
        if (subset === undefined) continue;
        const dr = findDestinationRule(ctx.compileContext(vs.namespace), host, svc.namespace);
        const s = dr?.spec.subsets?.find((y) => y.name === subset);
        if (dr === null || s === undefined) continue; // IST0101 elsewhere
        const labels = s.labels ?? {};
        if (svc.endpoints.some((e) => selectorMatches(labels, e.labels))) continue;
        ctx.report(newMessage('IST0173', vs, [...x.path, 'subset'], `subset ${subset} of ${host} (${resourceRef(dr.rule)}) has labels ${labelsText(labels)}, which select none of its endpoints (${svc.endpoints.map((e) => labelsText(e.labels)).join(', ')}): requests get 503 no healthy upstream (UH)`, `fix the subset's labels in ${resourceRef(dr.rule)}, or label the endpoints of ${svc.origin}${svc.kubernetes ? ' (they take their labels from the v1 Pods their Endpoints/EndpointSlice targetRef or IP names: include those Pods)' : ''}`));
      }
    }
  },
};
