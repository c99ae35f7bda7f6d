// Which Telemetry resources apply to a workload, in the order Istio merges them
// (pilot/pkg/model/telemetry.go applicableTelemetries): the root namespace's namespace-wide
// Telemetry (the mesh default), then the workload namespace's namespace-wide one, then every
// Telemetry of the workload's namespace whose selector or targetRefs pick this workload. Later
// entries override earlier ones. "Namespace-wide" = no selector labels and no targetRefs; when
// a namespace has several, the oldest wins (IST0160 warns).

import type { Resource } from '../../config/resource.js';
import type { ConfigStore } from '../../config/store.js';
import { policyAttaches, type PolicyKind, type PolicyTarget } from '../security/selection.js';

export type TelemetryResource = Resource<'Telemetry'>;

function isNamespaceWide(t: TelemetryResource): boolean {
  const labels = t.spec.selector?.matchLabels;
  const refs = t.spec.targetRefs ?? (t.spec.targetRef !== undefined ? [t.spec.targetRef] : []);
  return (labels === undefined || Object.keys(labels).length === 0) && refs.length === 0;
}

/** The namespace-wide Telemetry of `ns` (oldest first = store order), or null. */
function namespaceWide(all: readonly TelemetryResource[], ns: string): TelemetryResource | null {
  for (const t of all) if (t.namespace === ns && isNamespaceWide(t)) return t;
  return null;
}

/** Telemetry resources applying to the workload, least specific first. */
export function applicableTelemetries(store: ConfigStore, target: PolicyTarget): TelemetryResource[] {
  const all = [...store.list('Telemetry')].sort((a, b) => a.seq - b.seq);
  const out: TelemetryResource[] = [];
  const root = namespaceWide(all, target.rootNamespace);
  if (root !== null) out.push(root);
  if (target.namespace !== target.rootNamespace) {
    const ns = namespaceWide(all, target.namespace);
    if (ns !== null) out.push(ns);
  }
  for (const t of all) {
    if (t.namespace !== target.namespace || isNamespaceWide(t)) continue;
    // Same attachment rules as the security policies: selector labels, or targetRefs to a
    // Gateway this workload serves.
    if (policyAttaches(t as unknown as Resource<PolicyKind>, target)) out.push(t);
  }
  return out;
}
