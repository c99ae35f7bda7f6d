import { parse } from 'yaml';
import type { MeshConfig } from '../../src/api/types.js';
import type { WorkloadOptions } from '../../src/compile/compile.js';
import type { Snapshot } from '../../src/compile/snapshot.js';
import type { Diagnostic } from '../../src/config/diagnostic.js';
import { compileInline } from '../support/compile.js';

/** Inline YAML (+ mesh config YAML) → validated store → snapshot, as `sluice run` builds it. */
export function compileTelemetryYaml(yaml: string, meshYaml = '', workload: WorkloadOptions = {}): { snapshot: Snapshot; diagnostics: Diagnostic[] } {
  return compileInline(yaml, { workload, mesh: (meshYaml === '' ? {} : parse(meshYaml)) as MeshConfig });
}

/** A Telemetry document. */
export function telemetry(name: string, namespace: string, spec: string): string {
  return `apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: ${name}, namespace: ${namespace}}\nspec:\n${spec.replace(/^/gm, '  ')}\n`;
}
