// The seed's trap, found before traffic shows it: a policy with a selector applies only to
// workloads in its own namespace (or, from the root namespace, to every namespace). The seed
// puts `jwt-auth`, `require-jwt` and `restrict-egress` in `default` with gateway selectors, so
// against gateways in istio-system they never apply — Istio stays silent about it (at best
// IST0127 "no matching workloads"). These checks say which workload the selector was meant for
// and where to move the policy.

import type { Diagnostic } from '../../config/diagnostic.js';
import { formatPath } from '../../config/diagnostic.js';
import type { Resource } from '../../config/resource.js';
import { resourceRef } from '../../config/resource.js';
import type { ConfigStore } from '../../config/store.js';
import { selectorMatches } from '../visibility.js';
import { formatLabels, policySelector, policyTargetRefs, type PolicyKind } from './selection.js';

/** Istio's NoMatchingWorkloadsFound: a selector that selects nothing. */
export const CODE_NO_MATCHING_WORKLOADS = 'IST0127';
/** Sluice: the selector matches a workload, but in a namespace the policy cannot reach. */
export const CODE_SELECTOR_IN_WRONG_NAMESPACE = 'SLU0501';

/** A workload known from the config (or the running process), with where we learned of it. */
export interface KnownWorkload {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  /** e.g. `Gateway istio-system/main-gateway`, `Service default/api`, `this sluice process`. */
  readonly origin: string;
}

export interface PolicyScopeOptions {
  /** meshConfig.rootNamespace (default istio-system). */
  readonly rootNamespace?: string;
  /** Workloads besides those inferred from the store (e.g. the running gateway). */
  readonly workloads?: readonly KnownWorkload[];
  /** Only report policies that select no workload at all when true (default true). */
  readonly reportUnmatched?: boolean;
}

const POLICY_KINDS: readonly PolicyKind[] = ['RequestAuthentication', 'AuthorizationPolicy', 'EnvoyFilter'];

/**
 * Workloads the config itself describes: the pods a Gateway selects (assumed to run in the
 * Gateway's namespace, where Istio's gateway charts install them), Services' pod selectors,
 * and WorkloadEntries.
 */
export function knownWorkloads(store: ConfigStore): KnownWorkload[] {
  const out: KnownWorkload[] = [];
  for (const gw of store.list('Gateway')) {
    const sel = gw.spec.selector;
    if (sel !== undefined && Object.keys(sel).length > 0) out.push({ namespace: gw.namespace, labels: sel, origin: `Gateway ${gw.namespace}/${gw.name}` });
  }
  for (const svc of store.list('Service')) {
    const sel = svc.spec.selector;
    if (sel !== undefined && Object.keys(sel).length > 0) out.push({ namespace: svc.namespace, labels: sel, origin: `Service ${svc.namespace}/${svc.name}` });
  }
  for (const we of store.list('WorkloadEntry')) {
    out.push({ namespace: we.namespace, labels: we.spec.labels ?? {}, origin: `WorkloadEntry ${we.namespace}/${we.name}` });
  }
  return out;
}

function selectorPath(r: Resource<PolicyKind>): (string | number)[] {
  return r.kind === 'EnvoyFilter' ? ['spec', 'workloadSelector'] : ['spec', 'selector'];
}

function diag(r: Resource, path: (string | number)[], code: string, message: string, fix: string): Diagnostic {
  const pos = r.pos(path);
  return { code, level: 'warning', message, resource: resourceRef(r), path: formatPath(path), fix, file: pos.file, line: pos.line, col: pos.col };
}

/**
 * For every RequestAuthentication, AuthorizationPolicy and EnvoyFilter with a label selector:
 * warn (SLU0501) when the selector matches known workloads only in namespaces the policy
 * cannot reach, naming them and the namespace to move the policy to; warn (IST0127) when it
 * matches no known workload at all. Root-namespace policies reach every namespace.
 */
export function findPolicyScopeProblems(store: ConfigStore, o: PolicyScopeOptions = {}): Diagnostic[] {
  const root = o.rootNamespace ?? 'istio-system';
  const workloads = [...(o.workloads ?? []), ...knownWorkloads(store)];
  const out: Diagnostic[] = [];
  for (const kind of POLICY_KINDS) {
    for (const r of store.list(kind)) {
      const p = r as Resource<PolicyKind>;
      if (policyTargetRefs(p).length > 0) continue;
      const sel = policySelector(p);
      if (sel === undefined || Object.keys(sel).length === 0) continue;
      const matching = workloads.filter((w) => selectorMatches(sel, w.labels));
      const reachable = matching.filter((w) => p.namespace === root || w.namespace === p.namespace);
      if (reachable.length > 0) continue;
      if (matching.length > 0) {
        out.push(wrongNamespace(p, sel, matching, root));
      } else if (o.reportUnmatched !== false) {
        out.push(diag(p, selectorPath(p), CODE_NO_MATCHING_WORKLOADS, `No matching workloads for this resource with the following labels: ${formatLabels(sel)}`, `check the labels, or remove the selector to apply the ${kind} to every workload in namespace ${p.namespace}`));
      }
    }
  }
  return out;
}

function wrongNamespace(p: Resource<PolicyKind>, sel: Readonly<Record<string, string>>, matching: readonly KnownWorkload[], root: string): Diagnostic {
  const namespaces = [...new Set(matching.map((w) => w.namespace))].sort();
  const target = namespaces.length === 1 ? namespaces[0]! : root;
  const who = matching.slice(0, 3).map((w) => `${w.origin} (namespace ${w.namespace})`).join(', ');
  const effect = p.kind === 'AuthorizationPolicy' ? 'its rules are not enforced there'
    : p.kind === 'RequestAuthentication' ? 'tokens are not validated there'
    : 'its patches are not applied there';
  return diag(
    p,
    selectorPath(p),
    CODE_SELECTOR_IN_WRONG_NAMESPACE,
    `${p.kind} ${p.namespace}/${p.name} selects ${formatLabels(sel)}, which matches ${who}, but a selector only applies to workloads in the policy's own namespace (${p.namespace}) or, from the root namespace ${root}, to every namespace: ${effect}`,
    `move it to namespace ${target} (metadata.namespace: ${target})${target !== root ? `, or to the root namespace ${root} to apply it to every namespace` : ''}`,
  );
}

/**
 * The same check for the one workload a `sluice run` process serves: policies whose selector
 * matches its labels but that live in another, non-root namespace (so they silently do not
 * apply). Reported at start-up and on reloads.
 */
export function findWorkloadScopeProblems(store: ConfigStore, w: { namespace: string; labels: Readonly<Record<string, string>>; rootNamespace: string }): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const kind of POLICY_KINDS) {
    for (const r of store.list(kind)) {
      const p = r as Resource<PolicyKind>;
      if (p.namespace === w.namespace || p.namespace === w.rootNamespace) continue;
      if (policyTargetRefs(p).length > 0) continue;
      const sel = policySelector(p);
      if (sel === undefined || Object.keys(sel).length === 0) continue;
      if (!selectorMatches(sel, w.labels)) continue;
      out.push(wrongNamespace(p, sel, [{ namespace: w.namespace, labels: w.labels, origin: 'this gateway' }], w.rootNamespace));
    }
  }
  return out;
}
