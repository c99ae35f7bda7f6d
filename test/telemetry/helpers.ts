import type { MeshConfig } from '../../src/api/types.js';
import { validateResource } from '../../src/api/validate.js';
import { compile, makeWorkload, type WorkloadOptions } from '../../src/compile/compile.js';
import type { Snapshot } from '../../src/compile/snapshot.js';
import type { Diagnostic } from '../../src/config/diagnostic.js';
import type { Resource } from '../../src/config/resource.js';
import { ConfigStore } from '../../src/config/store.js';
import { parseConfigText } from '../../src/config/yaml-loader.js';
import { parse } from 'yaml';

/** Inline YAML (+ mesh config YAML) → validated store → snapshot, as `sluice run` builds it. */
export function compileTelemetryYaml(yaml: string, meshYaml = '', workload: WorkloadOptions = {}): { snapshot: Snapshot; diagnostics: Diagnostic[] } {
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
  const mesh = (meshYaml === '' ? {} : parse(meshYaml)) as MeshConfig;
  const store = new ConfigStore(resources, 1);
  const snapshot = compile({ store, workload: makeWorkload(workload, mesh), mesh, credentials: new Map(), files: new Map(), version: 1, meshCa: null });
  return { snapshot, diagnostics: [...diagnostics, ...snapshot.diagnostics] };
}

/** A Telemetry document. */
export function telemetry(name: string, namespace: string, spec: string): string {
  return `apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: ${name}, namespace: ${namespace}}\nspec:\n${spec.replace(/^/gm, '  ')}\n`;
}
