// Which RequestAuthentication / AuthorizationPolicy / EnvoyFilter objects apply to a workload,
// as istiod decides it (pilot/pkg/model/policyattachment.go, authorization.go,
// envoyfilter.go): only objects in the workload's own namespace and in the root namespace are
// candidates; a `selector` (EnvoyFilter: `workloadSelector`) narrows them to workloads whose
// labels are a superset; no selector = every workload of that namespace (root namespace: the
// whole mesh). A selector therefore never reaches a workload in another namespace, unless the
// object lives in the root namespace.

import type { PolicyTargetReference } from '../../api/types.js';
import type { Resource } from '../../config/resource.js';
import type { ConfigStore } from '../../config/store.js';
import { selectorMatches } from '../visibility.js';

/** Label a Gateway API (gateway.networking.k8s.io) gateway's pods carry. */
export const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';

export type PolicyKind = 'RequestAuthentication' | 'AuthorizationPolicy' | 'EnvoyFilter';

/** What policy attachment needs to know about a workload. */
export interface PolicyTarget {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly rootNamespace: string;
  /** Classic Gateways (`namespace/name`) this workload serves. */
  readonly gateways: readonly string[];
}

/** The label selector of a policy: `selector.matchLabels`, EnvoyFilter `workloadSelector.labels`. */
export function policySelector(r: Resource<PolicyKind>): Readonly<Record<string, string>> | undefined {
  if (r.kind === 'EnvoyFilter') return (r as Resource<'EnvoyFilter'>).spec.workloadSelector?.labels;
  const s = (r as Resource<'AuthorizationPolicy' | 'RequestAuthentication'>).spec.selector;
  return s === undefined ? undefined : (s.matchLabels ?? {});
}

export function policyTargetRefs(r: Resource<PolicyKind>): readonly PolicyTargetReference[] {
  const spec = r.spec as { targetRef?: PolicyTargetReference; targetRefs?: PolicyTargetReference[] };
  if (spec.targetRefs !== undefined && spec.targetRefs.length > 0) return spec.targetRefs;
  return spec.targetRef !== undefined ? [spec.targetRef] : [];
}

function canonicalGroup(g: string | undefined): string {
  return g === undefined || g === 'core' ? '' : g;
}

/**
 * Does `r` attach to the workload? Mirrors WorkloadPolicyMatcher.ShouldAttachPolicy: a
 * targetRef to a classic Gateway this workload serves (policy in the Gateway's namespace), a
 * targetRef to a Gateway API Gateway named by the workload's gateway-name label (same
 * namespace), else — for workloads that are not Gateway API gateways — the selector.
 */
export function policyAttaches(r: Resource<PolicyKind>, t: PolicyTarget): boolean {
  if (r.namespace !== t.namespace && r.namespace !== t.rootNamespace) return false;
  const refs = policyTargetRefs(r);
  for (const ref of refs) {
    if (ref.kind === 'Gateway' && canonicalGroup(ref.group) === 'networking.istio.io') {
      for (const gw of t.gateways) {
        const [ns, name] = gw.split('/');
        if (ref.name === name && r.namespace === ns && (ref.namespace === undefined || ref.namespace === '' || ref.namespace === ns)) return true;
      }
    }
  }
  const gatewayName = t.labels[GATEWAY_NAME_LABEL];
  if (gatewayName === undefined) {
    if (refs.length > 0) return false;
    return selectorMatches(policySelector(r), t.labels);
  }
  // A Gateway API gateway: selector-based policies need PILOT_ENABLE_SELECTOR_BASED_K8S_GATEWAY_POLICY
  // (on by default), so the selector still applies when there is no targetRef.
  if (refs.length === 0) return selectorMatches(policySelector(r), t.labels);
  for (const ref of refs) {
    if (r.namespace !== t.namespace) continue;
    if (ref.namespace !== undefined && ref.namespace !== '' && ref.namespace !== t.namespace) continue;
    if (ref.kind === 'Gateway' && canonicalGroup(ref.group) === 'gateway.networking.k8s.io' && ref.name === gatewayName) return true;
  }
  return false;
}

/**
 * Objects of `kind` attached to the workload, in Istio's merge order: the workload's
 * namespace first, then the root namespace, oldest first within each (store order).
 */
export function selectPolicies<K extends PolicyKind>(store: ConfigStore, kind: K, t: PolicyTarget): Resource<K>[] {
  const own: Resource<K>[] = [];
  const root: Resource<K>[] = [];
  for (const r of store.list(kind)) {
    if (!policyAttaches(r as Resource<PolicyKind>, t)) continue;
    if (r.namespace === t.namespace) own.push(r);
    else root.push(r);
  }
  return [...own, ...root];
}

/** `istio.io/dry-run: "true"` (any form Go's strconv.ParseBool reads as true). */
export function isDryRun(r: Resource): boolean {
  const v = r.annotations['istio.io/dry-run'];
  return v !== undefined && /^(1|t|T|TRUE|true|True)$/.test(v);
}

/** `k1=v1,k2=v2` for messages. */
export function formatLabels(labels: Readonly<Record<string, string>> | undefined): string {
  if (labels === undefined) return '(none)';
  const parts = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
  return parts.length === 0 ? '(empty)' : parts.join(',');
}
