import type { MeshConfig } from '../api/types.js';
import type { Diagnostic, Level } from '../config/diagnostic.js';
import { formatPath } from '../config/diagnostic.js';
import type { Resource } from '../config/resource.js';
import { resourceRef } from '../config/resource.js';
import type { ConfigStore } from '../config/store.js';
import type { ServiceRegistry } from './registry.js';
import type { Cluster, TlsSecret, Workload } from './snapshot.js';

/** TLS material read from disk by the config layer (`--credentials DIR`), by credential name. */
export interface CredentialFiles {
  readonly cert: string | null;
  readonly key: string | null;
  readonly ca: string | null;
  readonly origin: string;
}

export interface CompileInput {
  readonly store: ConfigStore;
  readonly workload: Workload;
  readonly mesh: MeshConfig;
  readonly credentials: ReadonlyMap<string, CredentialFiles>;
  /** Files named by serverCertificate/privateKey/caCertificates paths, read by the config layer. */
  readonly files: ReadonlyMap<string, string>;
  readonly version: number;
  /** The mesh CA's workload certificate, when `--mesh-ca-dir` is given. */
  readonly meshCa: { readonly cert: string; readonly key: string; readonly root: string } | null;
}

/** State threaded through one compile pass. Not shared between passes. */
export class CompileContext {
  readonly store: ConfigStore;
  readonly workload: Workload;
  readonly mesh: MeshConfig;
  readonly input: CompileInput;
  readonly registry: ServiceRegistry;
  readonly diagnostics: Diagnostic[] = [];
  readonly clusters = new Map<string, Cluster>();
  readonly secrets = new Map<string, TlsSecret>();
  readonly meshCa: CompileInput['meshCa'];

  constructor(input: CompileInput, registry: ServiceRegistry) {
    this.input = input;
    this.store = input.store;
    this.workload = input.workload;
    this.mesh = input.mesh;
    this.registry = registry;
    this.meshCa = input.meshCa;
  }

  report(r: Resource, path: readonly (string | number)[], code: string, level: Level, message: string, fix?: string): void {
    const pos = r.pos(path);
    const d: Diagnostic = { code, level, message, resource: resourceRef(r), path: formatPath(path), file: pos.file, line: pos.line, col: pos.col };
    if (fix !== undefined) d.fix = fix;
    this.diagnostics.push(d);
  }
}
