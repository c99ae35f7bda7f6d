import { findPolicyScopeProblems } from '../../compile/security/scope-problems.js';
import { selectorMatches } from '../../compile/visibility.js';
import type { Resource } from '../../config/resource.js';
import type { Analyzer } from '../analyzer.js';
import { messageType, newMessage } from '../messages.js';
import { labelsText } from '../util.js';

type Selected = { r: Resource; selector: Record<string, string> | undefined; path: (string | number)[] };

/**
 * The seed's trap: a policy whose selector matches a gateway workload, but which lives in
 * another namespace than the gateway. Outside the root namespace a selector only selects
 * workloads of the policy's own namespace, so the policy applies to nothing (Istio and Sluice
 * both ignore it). RequestAuthentication, AuthorizationPolicy and EnvoyFilter are judged by
 * compile's own check (findPolicyScopeProblems, the code `sluice run` warns with): SLU0501
 * with the namespace to move to when the selector matches a workload elsewhere, IST0127 when
 * it matches no workload the config knows. PeerAuthentication, Telemetry and Sidecar keep
 * Istio's IST0127 for the wrong-namespace case.
 */
export const policySelectorAnalyzer: Analyzer = {
  name: 'security.PolicySelectorNamespaceAnalyzer',
  description: 'Policies that select a gateway do so from the gateway\'s namespace (or the root namespace)',
  inputs: ['AuthorizationPolicy', 'RequestAuthentication', 'PeerAuthentication', 'Telemetry', 'EnvoyFilter', 'Sidecar', 'Gateway'],
  codes: ['IST0127', 'SLU0501'],
  analyze(ctx) {
    for (const d of findPolicyScopeProblems(ctx.store, { rootNamespace: ctx.rootNamespace })) {
      ctx.report({ ...d, level: messageType(d.code)?.level ?? d.level });
    }
    const items: Selected[] = [
      ...ctx.list('PeerAuthentication').map((r) => ({ r, selector: r.spec.selector?.matchLabels, path: ['spec', 'selector', 'matchLabels'] })),
      ...ctx.list('Telemetry').map((r) => ({ r, selector: r.spec.selector?.matchLabels, path: ['spec', 'selector', 'matchLabels'] })),
      ...ctx.list('Sidecar').map((r) => ({ r, selector: r.spec.workloadSelector?.labels, path: ['spec', 'workloadSelector', 'labels'] })),
    ];
    for (const { r, selector, path } of items) {
      if (selector === undefined || Object.keys(selector).length === 0 || r.namespace === ctx.rootNamespace) continue;
      const matched = ctx.workloads.filter((w) => selectorMatches(selector, w.labels));
      if (matched.length === 0 || matched.some((w) => w.namespace === r.namespace)) continue;
      const target = matched[0]!;
      ctx.report(newMessage('IST0127', r, path, `No matching workloads for this resource with the following labels: ${labelsText(selector)} in namespace ${r.namespace}. They match the gateway workload of namespace ${target.namespace} (Gateways with selector ${labelsText(target.labels)}), but a selector only selects workloads in the resource's own namespace, so this ${r.kind} applies to nothing`, `move ${r.kind} ${r.name} to namespace ${target.namespace} (or to the root namespace ${ctx.rootNamespace}, where a selector matches workloads of every namespace)`));
    }
  },
};
