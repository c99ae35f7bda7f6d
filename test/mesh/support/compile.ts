import { validateResource } from '../../../src/api/validate.js';
import type { MeshConfig } from '../../../src/api/types.js';
import { compile, makeWorkload, type WorkloadOptions } from '../../../src/compile/compile.js';
import type { CompileInput } from '../../../src/compile/context.js';
import type { Snapshot } from '../../../src/compile/snapshot.js';
import type { Diagnostic } from '../../../src/config/diagnostic.js';
import { effectiveMeshConfig } from '../../../src/config/mesh.js';
import type { Resource } from '../../../src/config/resource.js';
import { ConfigStore } from '../../../src/config/store.js';
import { parseConfigText } from '../../../src/config/yaml-loader.js';

/** Inline YAML → store → snapshot with a mesh config and (optionally) mesh certificate, as `sluice run` builds it. */
export function compileMesh(yaml: string, o: { workload?: WorkloadOptions; mesh?: MeshConfig; meshCa?: CompileInput['meshCa'] } = {}): { snapshot: Snapshot; diagnostics: Diagnostic[] } {
  const parsed = parseConfigText('inline.yaml', yaml);
  if (parsed.errors.length > 0) throw new Error(parsed.errors.map((e) => e.message).join('\n'));
  const resources: Resource[] = [];
  const diagnostics: Diagnostic[] = [];
  parsed.resources.forEach((raw, i) => {
    const r = validateResource(raw, i + 1);
    diagnostics.push(...r.diagnostics);
    if (r.resource !== null) resources.push(r.resource);
  });
  const errors = diagnostics.filter((d) => d.level === 'error');
  if (errors.length > 0) throw new Error(errors.map((e) => `${e.path}: ${e.message}`).join('\n'));
  const store = new ConfigStore(resources, 1);
  const mesh = effectiveMeshConfig(o.mesh ?? {}, store);
  const snapshot = compile({ store, workload: makeWorkload(o.workload ?? {}, mesh), mesh, credentials: new Map(), files: new Map(), version: 1, meshCa: o.meshCa ?? null });
  return { snapshot, diagnostics: [...diagnostics, ...snapshot.diagnostics] };
}

export const SIDECAR = (o: Partial<WorkloadOptions> = {}): WorkloadOptions => ({
  mode: 'sidecar',
  labels: { app: 'sleep' },
  namespace: 'default',
  serviceAccount: 'sleep',
  sidecarPorts: { outboundPort: 15001, inboundPort: 15006, appPort: null },
  ...o,
});
