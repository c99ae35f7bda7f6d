// Telemetry providers by name: Istio's built-ins (`envoy` = a file access log to
// /dev/stdout, `prometheus`) and meshConfig.extensionProviders. Sluice implements the kinds a
// gateway on one machine can serve: envoyFileAccessLog, prometheus, zipkin and opentelemetry
// (OTLP over HTTP). Other kinds are reported and skipped, as Istio skips an unknown provider.

import type { MeshConfig } from '../../api/types.js';

export type ProviderKind =
  | 'envoyFileAccessLog' | 'prometheus' | 'zipkin' | 'opentelemetry'
  | 'envoyHttpAls' | 'envoyTcpAls' | 'envoyOtelAls' | 'stackdriver' | 'opencensus' | 'skywalking' | 'lightstep' | 'datadog'
  | 'envoyExtAuthzHttp' | 'envoyExtAuthzGrpc' | 'sds' | 'unknown';

export interface ProviderEntry {
  readonly name: string;
  readonly kind: ProviderKind;
  /** The kind's settings (`{path, logFormat}`, `{service, port, ...}`), {} for built-ins. */
  readonly settings: Readonly<Record<string, unknown>>;
  readonly builtin: boolean;
}

const KINDS: readonly ProviderKind[] = [
  'envoyFileAccessLog', 'prometheus', 'zipkin', 'opentelemetry', 'envoyHttpAls', 'envoyTcpAls', 'envoyOtelAls',
  'stackdriver', 'opencensus', 'skywalking', 'lightstep', 'datadog', 'envoyExtAuthzHttp', 'envoyExtAuthzGrpc', 'sds',
];

/** Istio's built-in providers (pilot/pkg/model/telemetry.go): used when no extension provider has the name. */
const BUILTINS: ReadonlyMap<string, ProviderEntry> = new Map([
  ['envoy', Object.freeze({ name: 'envoy', kind: 'envoyFileAccessLog', settings: Object.freeze({ path: '/dev/stdout' }), builtin: true }) as ProviderEntry],
  ['prometheus', Object.freeze({ name: 'prometheus', kind: 'prometheus', settings: Object.freeze({}), builtin: true }) as ProviderEntry],
]);

/** The provider named `name`, or null when neither the mesh config nor the built-ins know it. */
export function findProvider(mesh: MeshConfig, name: string): ProviderEntry | null {
  const entry = (mesh.extensionProviders ?? []).find((p) => p.name === name);
  if (entry !== undefined) {
    const kind = KINDS.find((k) => entry[k] !== undefined) ?? 'unknown';
    const settings = kind === 'unknown' ? {} : (entry[kind] as Record<string, unknown> | null) ?? {};
    return Object.freeze({ name, kind, settings, builtin: false });
  }
  return BUILTINS.get(name) ?? null;
}

/** Names of the providers mesh config and built-ins define (for "did you mean" fixes). */
export function knownProviderNames(mesh: MeshConfig): string[] {
  const names = new Set<string>(BUILTINS.keys());
  for (const p of mesh.extensionProviders ?? []) if (typeof p.name === 'string') names.add(p.name);
  return [...names];
}
