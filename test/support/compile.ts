import type { MeshConfig } from '../../src/api/types.js';
import { validateResource } from '../../src/api/validate.js';
import { compile, makeWorkload, type WorkloadOptions } from '../../src/compile/compile.js';
import type { CompileInput } from '../../src/compile/context.js';
import type { Snapshot } from '../../src/compile/snapshot.js';
import type { Diagnostic } from '../../src/config/diagnostic.js';
import { effectiveMeshConfig } from '../../src/config/mesh.js';
import type { Resource } from '../../src/config/resource.js';
import { ConfigStore } from '../../src/config/store.js';
import { parseConfigText } from '../../src/config/yaml-loader.js';

// Inline YAML → validated store → snapshot, the way `sluice run` builds it, for tests that
// check the compiled config without sockets.

/** Inline YAML → the valid resources in a store; `diagnostics` holds the parse errors and every validation diagnostic. */
export function storeFromYaml(yaml: string): { store: ConfigStore; diagnostics: Diagnostic[] } {
  const parsed = parseConfigText('inline.yaml', yaml);
  const diagnostics: Diagnostic[] = [...parsed.errors];
  const resources: Resource[] = [];
  parsed.resources.forEach((raw, i) => {
    const r = validateResource(raw, i + 1);
    diagnostics.push(...r.diagnostics);
    if (r.resource !== null) resources.push(r.resource);
  });
  return { store: new ConfigStore(resources, 1), diagnostics };
}

export interface CompileOptions {
  workload?: WorkloadOptions;
  /** The mesh config file (`--mesh`); MeshConfig resources in the YAML are merged over it. */
  mesh?: MeshConfig;
  meshCa?: CompileInput['meshCa'];
}

/**
 * Compiles inline YAML for one workload; throws when the YAML does not parse or a resource is
 * invalid. `diagnostics` = validation warnings + the snapshot's diagnostics.
 */
export function compileInline(yaml: string, o: CompileOptions = {}): { snapshot: Snapshot; diagnostics: Diagnostic[] } {
  const { store, diagnostics } = storeFromYaml(yaml);
  const errors = diagnostics.filter((d) => d.level === 'error');
  if (errors.length > 0) throw new Error(`invalid test config:\n${errors.map((e) => (e.path !== undefined ? `${e.path}: ${e.message}` : e.message)).join('\n')}`);
  const mesh = effectiveMeshConfig(o.mesh ?? {}, store);
  const snapshot = compile({ store, workload: makeWorkload(o.workload ?? {}, mesh), mesh, credentials: new Map(), files: new Map(), version: 1, meshCa: o.meshCa ?? null });
  return { snapshot, diagnostics: [...diagnostics, ...snapshot.diagnostics] };
}
