import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { MeshConfig } from '../api/types.js';
import type { ConfigStore } from './store.js';

/**
 * Reads Istio mesh configuration from any of the shapes users have it in: plain meshConfig
 * YAML, an IstioOperator (`spec.meshConfig`), the `istio` ConfigMap (`data.mesh`, a YAML
 * string), or a `kind: MeshConfig` document (`spec`).
 */
export function readMeshConfigFile(file: string): MeshConfig {
  const doc = parse(readFileSync(file, 'utf8')) as Record<string, unknown> | null;
  return meshFromDocument(doc ?? {});
}

export function meshFromDocument(doc: Record<string, unknown>): MeshConfig {
  const kind = doc.kind;
  if (kind === 'IstioOperator') return ((doc.spec as Record<string, unknown> | undefined)?.meshConfig ?? {}) as MeshConfig;
  if (kind === 'ConfigMap') {
    const mesh = (doc.data as Record<string, string> | undefined)?.mesh;
    return (mesh !== undefined ? (parse(mesh) as MeshConfig | null) ?? {} : {});
  }
  if (kind === 'MeshConfig') return (doc.spec ?? {}) as MeshConfig;
  if (doc.meshConfig !== undefined && typeof doc.meshConfig === 'object') return doc.meshConfig as MeshConfig;
  return doc as MeshConfig;
}

/** `--mesh FILE` first, then `kind: MeshConfig` documents from the config folders on top. */
export function effectiveMeshConfig(fromFile: MeshConfig, store: ConfigStore): MeshConfig {
  let mesh: MeshConfig = { ...fromFile };
  for (const r of store.list('MeshConfig')) mesh = { ...mesh, ...r.spec };
  return mesh;
}
