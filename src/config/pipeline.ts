import type { MeshConfig } from '../api/types.js';
import { compile, makeWorkload, type WorkloadOptions } from '../compile/compile.js';
import type { CompileInput } from '../compile/context.js';
import type { Snapshot } from '../compile/snapshot.js';
import type { Diagnostic } from './diagnostic.js';
import { readCredentialsDir, readReferencedFiles } from './credentials.js';
import { ConfigLoader, type LoadResult } from './loader.js';
import { effectiveMeshConfig, readMeshConfigFile } from './mesh.js';
import type { ConfigStore } from './store.js';

/** Where validated resources come from: the config files (ConfigLoader) or the Kubernetes API. */
export interface ConfigSource {
  load(): LoadResult;
}

export interface PipelineOptions {
  configPaths: readonly string[];
  /** Another source than the files of `configPaths` (`sluice run --source kubernetes`). */
  source?: ConfigSource;
  meshFile?: string | undefined;
  credentialsDir?: string | undefined;
  workload: WorkloadOptions;
  /** Supplies the mesh workload certificate (ISTIO_MUTUAL), when a mesh CA is configured. */
  meshCa?: () => CompileInput['meshCa'];
  /** Version number of the first build (a worker started to replace another joins at the current one). */
  firstVersion?: number;
}

export interface BuildResult {
  snapshot: Snapshot;
  store: ConfigStore;
  mesh: MeshConfig;
  /** Load (parse, schema, webhook) and compile diagnostics together. */
  diagnostics: Diagnostic[];
  heldBack: string[];
}

/**
 * config source → parse+validate → store → compile(store, workload) → Snapshot, as one
 * repeatable step. The loader inside keeps last-good resources between builds, so a reload
 * after an invalid edit still yields a complete snapshot.
 */
export class ConfigPipeline {
  readonly options: PipelineOptions;
  readonly #loader: ConfigSource;
  #version = 0;

  constructor(o: PipelineOptions) {
    this.options = o;
    this.#loader = o.source ?? new ConfigLoader(o.configPaths);
    this.#version = (o.firstVersion ?? 1) - 1;
  }

  build(): BuildResult {
    const o = this.options;
    const load = this.#loader.load();
    const diagnostics: Diagnostic[] = [...load.diagnostics];
    let meshFromFile: MeshConfig = {};
    if (o.meshFile !== undefined) {
      try {
        meshFromFile = readMeshConfigFile(o.meshFile);
      } catch (e) {
        diagnostics.push({ code: 'SLU0006', level: 'error', message: `cannot read mesh config: ${(e as Error).message}`, file: o.meshFile, line: 0, col: 0, fix: 'pass a YAML file with meshConfig fields to --mesh' });
      }
    }
    const mesh = effectiveMeshConfig(meshFromFile, load.store);
    this.#version++;
    const snapshot = compile({
      store: load.store,
      workload: makeWorkload(o.workload, mesh),
      mesh,
      credentials: readCredentialsDir(o.credentialsDir),
      files: readReferencedFiles(load.store),
      version: this.#version,
      meshCa: o.meshCa?.() ?? null,
    });
    diagnostics.push(...snapshot.diagnostics);
    return { snapshot, store: load.store, mesh, diagnostics, heldBack: load.heldBack };
  }
}
