import type { EnvoyConfigObjectPatch } from '../../api/types.js';
import { compile, makeWorkload, type WorkloadOptions } from '../../compile/compile.js';
import type { EnvoyFilterPatchOutcome } from '../../compile/snapshot.js';
import type { Resource } from '../../config/resource.js';
import { resourceRef } from '../../config/resource.js';
import type { AnalysisContext } from '../analyzer.js';

/** What compile did with one patch, over every workload it reached. */
export interface PatchVerdict {
  readonly outcome: EnvoyFilterPatchOutcome['outcome'];
  /** For not_applied: compile's own code, message and fix (the first workload that reported it). */
  readonly code: string | null;
  readonly reason: string | null;
  readonly fix: string | null;
}

const memo = new WeakMap<AnalysisContext, Map<string, PatchVerdict>>();

export function patchKey(resource: string, index: number): string {
  return `${resource}#${index}`;
}

/**
 * The workloads an EnvoyFilter that reached no compiled gateway is meant for: its selector, in
 * its namespace; a gateway when a patch is for GATEWAY or ANY, a sidecar when one is for
 * SIDECAR_INBOUND/SIDECAR_OUTBOUND. The sidecar gets an application port, the one an
 * inbound patch names if any, so its inbound side exists.
 */
function workloadsFor(ef: Resource<'EnvoyFilter'>, ctx: AnalysisContext): WorkloadOptions[] {
  const patches = ef.spec.configPatches ?? [];
  const contexts = patches.map((p: EnvoyConfigObjectPatch) => p.match?.context ?? 'ANY');
  const labels = { ...(ef.spec.workloadSelector?.labels ?? {}) };
  const namespace = ef.namespace === ctx.rootNamespace && ef.spec.workloadSelector === undefined ? ctx.rootNamespace : ef.namespace;
  const out: WorkloadOptions[] = [];
  if (contexts.length === 0 || contexts.some((c) => c === 'GATEWAY' || c === 'ANY')) out.push({ mode: 'gateway', labels, namespace });
  if (contexts.some((c) => c === 'SIDECAR_INBOUND' || c === 'SIDECAR_OUTBOUND')) {
    const inbound = patches.find((p) => (p.match?.context ?? 'ANY') !== 'SIDECAR_OUTBOUND' && (p.match?.listener?.portNumber ?? 0) !== 0);
    const appPort = inbound?.match?.listener?.portNumber ?? 8080;
    out.push({ mode: 'sidecar', labels, namespace, sidecarPorts: { outboundPort: 15001, inboundPort: 15006, appPort } });
  }
  return out;
}

/**
 * Every EnvoyFilter patch's fate as compile decided it (src/compile/security/envoy-filter.ts is
 * the only judge): applied on some workload → applied; else not applied by Sluice on some →
 * not_applied, with compile's reason; else no effect (other context, matched nothing, as in
 * Istio). EnvoyFilters that reach none of the config's gateways are compiled for the workload
 * their selector and context name.
 */
export function patchVerdicts(ctx: AnalysisContext): ReadonlyMap<string, PatchVerdict> {
  const cached = memo.get(ctx);
  if (cached !== undefined) return cached;
  const outcomes = new Map<string, EnvoyFilterPatchOutcome[]>();
  const add = (list: readonly EnvoyFilterPatchOutcome[] | undefined): void => {
    for (const o of list ?? []) {
      const k = patchKey(o.resource, o.index);
      outcomes.set(k, [...(outcomes.get(k) ?? []), o]);
    }
  };
  for (const w of ctx.workloads) add(w.snapshot.envoyFilterPatches);
  const unevaluated: [string, string][] = [];
  for (const ef of ctx.list('EnvoyFilter')) {
    const ref = resourceRef(ef);
    if ((ef.spec.configPatches ?? []).every((_, i) => outcomes.has(patchKey(ref, i)))) continue;
    const seen = new Set([...outcomes.keys()].filter((k) => k.startsWith(`${ref}#`)));
    for (const w of workloadsFor(ef, ctx)) {
      const snap = compile({ store: ctx.store, workload: makeWorkload(w, ctx.mesh), mesh: ctx.mesh, credentials: ctx.credentials, files: ctx.files, version: 1, meshCa: null });
      add(snap.envoyFilterPatches?.filter((o) => o.resource === ref && !seen.has(patchKey(o.resource, o.index))));
    }
    // Compile did not even look at it.
    (ef.spec.configPatches ?? []).forEach((_, i) => {
      if (!outcomes.has(patchKey(ref, i))) unevaluated.push([patchKey(ref, i), 'no workload Sluice compiles applies it']);
    });
  }
  const out = new Map<string, PatchVerdict>();
  for (const [k, os] of outcomes) {
    const applied = os.find((o) => o.outcome === 'applied');
    const refused = os.find((o) => o.outcome === 'not_applied');
    const v = applied ?? refused ?? os[0]!;
    out.set(k, { outcome: v.outcome, code: v.code, reason: v.reason, fix: v.fix });
  }
  for (const [k, why] of unevaluated) out.set(k, { outcome: 'not_applied', code: null, reason: why, fix: 'express it with Istio APIs (VirtualService, DestinationRule, Telemetry), or drop it' });
  memo.set(ctx, out);
  return out;
}

/** `spec.configPatches[3].patch.value` → 3; null for other paths. */
export function patchIndexOf(path: string | undefined): number | null {
  const m = /^spec\.configPatches\[(\d+)\]/.exec(path ?? '');
  return m === null ? null : Number(m[1]);
}
