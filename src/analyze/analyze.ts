import { isKnownKind } from '../api/validate.js';
import { compile, makeWorkload } from '../compile/compile.js';
import { CompileContext } from '../compile/context.js';
import { mergeGatewayServers } from '../compile/gateways.js';
import { DEFAULT_DOMAIN_SUFFIX } from '../compile/hosts.js';
import { buildRegistry } from '../compile/registry.js';
import type { Level } from '../config/diagnostic.js';
import { readCredentialsDir, readReferencedFiles } from '../config/credentials.js';
import { ConfigPipeline } from '../config/pipeline.js';
import { ALL_ANALYZERS } from './all.js';
import { AnalysisContext, type Analyzer, type Finding, type GatewayWorkload } from './analyzer.js';

export interface AnalyzeOptions {
  configPaths: readonly string[];
  meshFile?: string | undefined;
  credentialsDir?: string | undefined;
  /** Report only resources of this namespace (istioctl's default: `default`). */
  namespace?: string | undefined;
  allNamespaces?: boolean;
  /** `CODE` or `CODE=Kind ns/name` (istioctl --suppress): drop matching findings. */
  suppress?: readonly string[];
  analyzers?: readonly Analyzer[];
  now?: Date;
}

export interface AnalyzeResult {
  findings: Finding[];
  /** Findings dropped because their resource is in another namespace. */
  hiddenByNamespace: number;
  suppressed: number;
  workloads: readonly GatewayWorkload[];
}

const LEVEL_RANK: Record<Level, number> = { error: 0, warning: 1, info: 2 };

/** `--fail-on` threshold: does any finding reach it? */
export function failsAt(findings: readonly Finding[], threshold: Level): boolean {
  return findings.some((f) => LEVEL_RANK[f.level] <= LEVEL_RANK[threshold]);
}

function namespaceOf(resource: string | undefined): string | null {
  if (resource === undefined) return null;
  const m = /^\S+ ([^/\s]+)\//.exec(resource);
  return m === null ? null : m[1]!;
}

/**
 * Loads the config exactly as `sluice run` does (ConfigPipeline), compiles it once for every
 * gateway workload its Gateways select, and runs every analyzer on that model. Load and
 * compile diagnostics are findings too (the schema and compile analyzers pass them on).
 */
export function analyzeConfig(o: AnalyzeOptions): AnalyzeResult {
  const pipeline = new ConfigPipeline({ configPaths: o.configPaths, meshFile: o.meshFile, credentialsDir: o.credentialsDir, workload: {} });
  const built = pipeline.build();
  const { store, mesh } = built;
  const loadDiagnostics = built.diagnostics.slice(0, built.diagnostics.length - built.snapshot.diagnostics.length);
  const credentials = readCredentialsDir(o.credentialsDir);
  const files = readReferencedFiles(store);
  const domainSuffix = DEFAULT_DOMAIN_SUFFIX;
  const registry = buildRegistry(store, domainSuffix);

  const workloads: GatewayWorkload[] = [];
  const seen = new Set<string>();
  for (const gw of store.list('Gateway')) {
    const labels = gw.spec.selector ?? {};
    const key = `${gw.namespace} {${Object.entries(labels).sort().map(([k, v]) => `${k}=${v}`).join(',')}}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const workload = makeWorkload({ mode: 'gateway', labels: { ...labels }, namespace: gw.namespace }, mesh);
    const input = { store, workload, mesh, credentials, files, version: 1, meshCa: null };
    const snapshot = compile(input);
    const servers = mergeGatewayServers(new CompileContext(input, buildRegistry(store, domainSuffix)));
    workloads.push({ key, labels: workload.labels, namespace: workload.namespace, snapshot, servers });
  }

  const ctx = new AnalysisContext({ store, mesh, registry, workloads, loadDiagnostics, credentials, files, domainSuffix, now: o.now ?? new Date() });
  for (const a of o.analyzers ?? ALL_ANALYZERS) ctx.run(a);

  const unique = new Map<string, Finding>();
  for (const f of ctx.findings) {
    // Same code at the same place: the first analyzer's wording wins (schema and compile run first).
    const k = f.resource !== undefined && f.path !== undefined
      ? `${f.code}\u0000${f.resource}\u0000${f.path}`
      : `${f.code}\u0000${f.file ?? ''}\u0000${f.line ?? 0}\u0000${f.message}`;
    if (!unique.has(k)) unique.set(k, f);
  }
  let findings = [...unique.values()];
  let hiddenByNamespace = 0;
  if (o.allNamespaces !== true) {
    const ns = o.namespace ?? 'default';
    const kept = findings.filter((f) => { const n = namespaceOf(f.resource); return n === null || n === ns; });
    hiddenByNamespace = findings.length - kept.length;
    findings = kept;
  }
  // istioctl honours `galley.istio.io/analyze-suppress: CODE[,CODE]` on the resource itself.
  const bySuppressAnnotation = (f: Finding): boolean => {
    const m = /^(\S+) ([^/\s]+)\/(\S+)$/.exec(f.resource ?? '');
    if (m === null) return false;
    const r = isKnownKind(m[1]!) ? store.get(m[1], m[2]!, m[3]!) : undefined;
    const codes = r?.annotations['galley.istio.io/analyze-suppress'];
    return codes !== undefined && codes.split(',').map((c) => c.trim()).includes(f.code);
  };
  let suppressed = findings.length;
  findings = findings.filter((f) => !bySuppressAnnotation(f));
  suppressed -= findings.length;
  if (o.suppress !== undefined && o.suppress.length > 0) {
    const rules = o.suppress.map((s) => { const i = s.indexOf('='); return i < 0 ? { code: s.trim(), resource: null } : { code: s.slice(0, i).trim(), resource: s.slice(i + 1).trim() }; });
    const kept = findings.filter((f) => !rules.some((r) => r.code === f.code && (r.resource === null || r.resource === f.resource || matchesGlob(r.resource, f.resource ?? ''))));
    suppressed += findings.length - kept.length;
    findings = kept;
  }
  findings.sort((a, b) => (a.file ?? '').localeCompare(b.file ?? '') || (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0) || a.code.localeCompare(b.code));
  return { findings, hiddenByNamespace, suppressed, workloads };
}

/** istioctl's suppress patterns allow `*` as a wildcard in the resource part. */
function matchesGlob(pattern: string, value: string): boolean {
  if (!pattern.includes('*')) return false;
  const parts = pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('.*')}$`).test(value);
}
