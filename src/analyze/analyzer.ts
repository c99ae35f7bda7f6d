import type { Kind, MeshConfig } from '../api/types.js';
import { CompileContext, type CredentialFiles } from '../compile/context.js';
import type { MergedServer } from '../compile/gateways.js';
import type { ServiceRegistry } from '../compile/registry.js';
import type { Snapshot } from '../compile/snapshot.js';
import type { Diagnostic } from '../config/diagnostic.js';
import type { Resource } from '../config/resource.js';
import type { ConfigStore } from '../config/store.js';

/**
 * One check, in one file (Istio's pkg/config/analysis/analyzers/<area>/<check>.go). `codes` are
 * the catalog codes it may report; `inputs` the kinds it reads.
 */
export interface Analyzer {
  readonly name: string;
  readonly description: string;
  readonly inputs: readonly Kind[];
  readonly codes: readonly string[];
  analyze(ctx: AnalysisContext): void;
}

/** A gateway workload of the config (one per distinct Gateway selector and namespace), compiled as `sluice run` would. */
export interface GatewayWorkload {
  /** `namespace {k=v,...}`. */
  readonly key: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly namespace: string;
  readonly snapshot: Snapshot;
  /** Gateway servers this workload adopts, by port (compile's merge, conflicts resolved). */
  readonly servers: ReadonlyMap<number, readonly MergedServer[]>;
}

export interface AnalysisInput {
  readonly store: ConfigStore;
  readonly mesh: MeshConfig;
  readonly registry: ServiceRegistry;
  readonly workloads: readonly GatewayWorkload[];
  /** Parse, schema and webhook diagnostics of the load (the resources they refuse are not in `store`). */
  readonly loadDiagnostics: readonly Diagnostic[];
  readonly credentials: ReadonlyMap<string, CredentialFiles>;
  readonly files: ReadonlyMap<string, string>;
  readonly domainSuffix: string;
  /** "Now" for certificate expiry (fixed in tests). */
  readonly now: Date;
}

/** A diagnostic as `sluice analyze` reports it: which analyzer found it. */
export type Finding = Diagnostic & { readonly analyzer: string };

/**
 * What an analyzer reads — every AnalysisInput field, as `ctx.store`, `ctx.mesh`, ... (the
 * interface below merges them into the class) — and where it reports.
 */
export interface AnalysisContext extends AnalysisInput {}
export class AnalysisContext {
  readonly #out: Finding[] = [];
  readonly #compileContexts = new Map<string, CompileContext>();
  #current = '';

  constructor(input: AnalysisInput) {
    Object.assign(this, input);
  }

  list<K extends Kind>(kind: K): readonly Resource<K>[] {
    return this.store.list(kind);
  }

  get<K extends Kind>(kind: K, namespace: string, name: string): Resource<K> | undefined {
    return this.store.get(kind, namespace, name);
  }

  get rootNamespace(): string {
    return this.mesh.rootNamespace ?? 'istio-system';
  }

  /** Every server of `gatewayRef` (`ns/name`) some workload adopts, deduplicated. */
  serversOf(gatewayRef: string): MergedServer[] {
    const out: MergedServer[] = [];
    const seen = new Set<number>();
    for (const w of this.workloads) {
      for (const list of w.servers.values()) {
        for (const s of list) if (s.ref === gatewayRef && !seen.has(s.index)) { seen.add(s.index); out.push(s); }
      }
    }
    return out.sort((a, b) => a.index - b.index);
  }

  /**
   * A compile context as seen from `namespace` (no listeners built): lets analyzers call
   * compile's own lookups (findDestinationRule, registry, secrets) with Istio's precedence.
   */
  compileContext(namespace: string): CompileContext {
    let c = this.#compileContexts.get(namespace);
    if (c === undefined) {
      c = new CompileContext({
        store: this.store,
        workload: { mode: 'sidecar', labels: {}, namespace, serviceAccount: 'default', trustDomain: this.mesh.trustDomain ?? 'cluster.local', domainSuffix: this.domainSuffix, rootNamespace: this.rootNamespace, portMap: new Map(), listenHost: '0.0.0.0' },
        mesh: this.mesh,
        credentials: this.credentials,
        files: this.files,
        version: 0,
        meshCa: null,
      }, this.registry);
      this.#compileContexts.set(namespace, c);
    }
    return c;
  }

  report(d: Diagnostic): void {
    this.#out.push({ ...d, analyzer: this.#current });
  }

  /** Runs one analyzer, attributing its reports to it. */
  run(a: Analyzer): void {
    this.#current = a.name;
    try {
      a.analyze(this);
    } finally {
      this.#current = '';
    }
  }

  get findings(): readonly Finding[] {
    return this.#out;
  }
}
