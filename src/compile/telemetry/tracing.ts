// Telemetry `tracing` → the tracing of one workload mode, merged as istiod merges it
// (pilot/pkg/model/telemetry.go Tracing): the first default provider, then each level in
// order — a level naming providers switches to its first one; disableSpanReporting,
// customTags, randomSamplingPercentage and useRequestIdForTraceSampling override field by
// field. No provider = no tracing. Without any Telemetry tracing and without a default
// provider, meshConfig.defaultConfig.tracing.zipkin.address (Istio's legacy setting) applies.

import { isIP } from 'node:net';
import type { TelemetrySpec } from '../../api/types.js';
import type { CompileContext } from '../context.js';
import { normalizeHost } from '../hosts.js';
import { matchesMode, providerNames } from './access-logging.js';
import { findProvider, knownProviderNames } from './providers.js';
import { CODE_PROVIDER_NOT_FOUND, CODE_PROVIDER_UNSUPPORTED, CODE_TRACING_COLLECTOR, reportAt, type Origin } from './report.js';
import type { TelemetryResource } from './selection.js';
import type { CustomTag, TracingConfig, TracingProvider, WorkloadMode } from './types.js';

type Entry = NonNullable<TelemetrySpec['tracing']>[number];

interface ProxyTracing {
  sampling?: number;
  zipkin?: { address?: string };
  custom_tags?: Entry['customTags'];
  customTags?: Entry['customTags'];
}

/** Istio's default trace sampling (PILOT_TRACE_SAMPLING), percent. */
const DEFAULT_SAMPLING = 1;

function proxyTracing(ctx: CompileContext): ProxyTracing {
  const t = ctx.mesh.defaultConfig?.tracing;
  return t !== null && typeof t === 'object' ? (t as ProxyTracing) : {};
}

/** The service name a gateway's spans carry: `<app>.<namespace>` (Istio's APP_LABEL_AND_NAMESPACE). */
export function tracingServiceName(labels: Readonly<Record<string, string>>, namespace: string): string {
  const app = labels.app ?? labels['service.istio.io/canonical-name'] ?? (labels.istio !== undefined ? `istio-${labels.istio}` : 'sluice');
  return `${app}.${namespace}`;
}

export function compileTracing(ctx: CompileContext, telemetries: readonly TelemetryResource[], mode: WorkloadMode): TracingConfig | null {
  const defaults = ctx.mesh.defaultProviders?.tracing ?? [];
  const pt = proxyTracing(ctx);
  let providerName: string | null = defaults[0] ?? null;
  let providerAt: Origin = { resource: null, path: ['defaultProviders', 'tracing'] };
  let disabled = false;
  let sampling: number | null = null;
  let useRequestId = true;
  let istioTags = true;
  let customTags: Entry['customTags'] = pt.customTags ?? pt.custom_tags;
  let any = false;
  for (const t of telemetries) {
    (t.spec.tracing ?? []).forEach((e, i) => {
      if (!matchesMode(e.match, mode)) return;
      any = true;
      const names = providerNames(e.providers);
      if (names.length > 0) { providerName = names[0]!; providerAt = { resource: t, path: ['spec', 'tracing', i, 'providers', 0, 'name'] }; }
      if (e.disableSpanReporting !== undefined) disabled = e.disableSpanReporting;
      if (e.customTags !== undefined) customTags = e.customTags;
      if (e.randomSamplingPercentage !== undefined) sampling = e.randomSamplingPercentage;
      if (e.useRequestIdForTraceSampling !== undefined) useRequestId = e.useRequestIdForTraceSampling;
      if (e.enableIstioTags !== undefined) istioTags = e.enableIstioTags;
    });
  }
  let provider: TracingProvider | null = null;
  if (providerName !== null) provider = compileProvider(ctx, providerName, providerAt);
  else if (!any && ctx.mesh.enableTracing !== false && typeof pt.zipkin?.address === 'string' && pt.zipkin.address !== '') {
    provider = legacyZipkin(ctx, pt.zipkin.address);
  }
  if (provider === null) return null;
  const pct = sampling ?? (typeof pt.sampling === 'number' ? pt.sampling : DEFAULT_SAMPLING);
  const w = ctx.workload;
  return Object.freeze({
    provider,
    randomSamplingPercentage: Math.min(100, Math.max(0, pct)),
    disableSpanReporting: disabled,
    useRequestIdForTraceSampling: useRequestId,
    enableIstioTags: istioTags,
    customTags: Object.freeze(compileCustomTags(customTags)),
    serviceName: tracingServiceName(w.labels, w.namespace),
    meshId: typeof ctx.mesh.defaultConfig?.meshId === 'string' ? ctx.mesh.defaultConfig.meshId : w.trustDomain,
  });
}

function compileCustomTags(tags: Entry['customTags']): CustomTag[] {
  const out: CustomTag[] = [];
  for (const [tag, v] of Object.entries(tags ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (v.literal !== undefined) out.push(Object.freeze({ tag, kind: 'literal', name: v.literal.value, defaultValue: '' }));
    else if (v.environment !== undefined) out.push(Object.freeze({ tag, kind: 'environment', name: v.environment.name, defaultValue: v.environment.defaultValue ?? '' }));
    else if (v.header !== undefined) out.push(Object.freeze({ tag, kind: 'header', name: v.header.name.toLowerCase(), defaultValue: v.header.defaultValue ?? '' }));
  }
  return out;
}

interface CollectorSettings {
  service?: string;
  port?: number;
  path?: string;
  maxTagLength?: number;
  http?: { path?: string; timeout?: string; headers?: { name?: string; value?: string; envName?: string }[] };
  grpc?: unknown;
}

function compileProvider(ctx: CompileContext, name: string, at: Origin): TracingProvider | null {
  const p = findProvider(ctx.mesh, name);
  if (p === null) {
    reportAt(ctx, at, CODE_PROVIDER_NOT_FOUND, 'warning', `tracing provider "${name}" is not defined; no spans are reported (as in Istio)`,
      `define it in meshConfig.extensionProviders as zipkin or opentelemetry (known: ${knownProviderNames(ctx.mesh).join(', ')})`);
    return null;
  }
  if (p.kind !== 'zipkin' && p.kind !== 'opentelemetry') {
    reportAt(ctx, at, CODE_PROVIDER_UNSUPPORTED, 'warning', `tracing provider "${name}" is ${p.kind}; Sluice reports spans to zipkin and opentelemetry (OTLP/HTTP) providers only, so tracing is off`,
      'declare the collector as zipkin: {service, port} or opentelemetry: {service, port, http: {path: /v1/traces}}');
    return null;
  }
  const s = p.settings as CollectorSettings;
  if (typeof s.service !== 'string' || s.service === '' || typeof s.port !== 'number') {
    reportAt(ctx, at, CODE_PROVIDER_UNSUPPORTED, 'warning', `tracing provider "${name}" needs service and port; tracing is off`, `set extensionProviders[${name}].${p.kind}.service and .port`);
    return null;
  }
  if (p.kind === 'opentelemetry' && s.http === undefined) {
    reportAt(ctx, at, CODE_PROVIDER_UNSUPPORTED, 'warning', `tracing provider "${name}" exports OTLP over gRPC, which Sluice does not speak; tracing is off`,
      `add http: {path: /v1/traces} to extensionProviders[${name}].opentelemetry (the collector's OTLP/HTTP port, usually 4318)`);
    return null;
  }
  const headers: (readonly [string, string])[] = [];
  for (const h of s.http?.headers ?? []) {
    if (typeof h.name !== 'string' || h.name === '') continue;
    const v = h.value ?? (h.envName !== undefined ? process.env[h.envName] : undefined);
    if (v !== undefined) headers.push(Object.freeze([h.name.toLowerCase(), v] as const));
  }
  const timeoutMs = parseTimeoutMs(s.http?.timeout) ?? 5000;
  const path = p.kind === 'zipkin' ? (typeof s.path === 'string' && s.path !== '' ? s.path : '/api/v2/spans') : (s.http?.path !== undefined && s.http.path !== '' ? s.http.path : '/v1/traces');
  const target = collectorAddress(ctx, name, s.service, s.port, at);
  return Object.freeze({
    name,
    kind: p.kind,
    service: s.service,
    port: s.port,
    address: target.address,
    addressPort: target.port,
    path: path.startsWith('/') ? path : `/${path}`,
    headers: Object.freeze(headers),
    timeoutMs,
    maxTagLength: typeof s.maxTagLength === 'number' && s.maxTagLength > 0 ? s.maxTagLength : 256,
  });
}

function legacyZipkin(ctx: CompileContext, address: string): TracingProvider | null {
  const i = address.lastIndexOf(':');
  const host = i > 0 ? address.slice(0, i) : address;
  const port = i > 0 ? Number(address.slice(i + 1)) : 9411;
  const at: Origin = { resource: null, path: ['defaultConfig', 'tracing', 'zipkin', 'address'] };
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    reportAt(ctx, at, CODE_TRACING_COLLECTOR, 'warning', `zipkin address ${JSON.stringify(address)} is not host:port; tracing is off`, 'write e.g. zipkin.istio-system:9411');
    return null;
  }
  const target = collectorAddress(ctx, 'zipkin', host, port, at);
  return Object.freeze({ name: 'zipkin', kind: 'zipkin', service: host, port, address: target.address, addressPort: target.port, path: '/api/v2/spans', headers: Object.freeze([]), timeoutMs: 5000, maxTagLength: 256 });
}

function parseTimeoutMs(v: string | undefined): number | null {
  if (typeof v !== 'string') return null;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(v);
  if (m === null) return null;
  const n = Number(m[1]);
  return Math.round(m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000);
}

/**
 * Where spans go: Istio sends them to the provider's service through its cluster, so the
 * registry decides (an endpoint of the ServiceEntry / Service). A host the registry does not
 * know is sent to by name (DNS, `--resolve`), which Istio would not do: reported.
 */
function collectorAddress(ctx: CompileContext, name: string, service: string, port: number, at: Origin): { address: string; port: number } {
  const slash = service.indexOf('/');
  const bare = slash >= 0 ? service.slice(slash + 1) : service;
  if (isIP(bare) !== 0 || bare === 'localhost') return { address: bare, port };
  const ns = slash >= 0 ? service.slice(0, slash) : ctx.workload.rootNamespace;
  const host = normalizeHost(bare, ns, ctx.workload.domainSuffix);
  const svc = ctx.registry.lookup(host, ctx.workload.namespace);
  if (svc === undefined) {
    reportAt(ctx, at, CODE_TRACING_COLLECTOR, 'warning', `tracing provider "${name}": ${host} is not in the service registry; Sluice sends spans to ${bare}:${port} resolved by DNS (Istio would not configure the provider)`,
      `add a ServiceEntry for ${host} (port ${port}) with its endpoint, or use --resolve ${bare}=IP`);
    return { address: bare, port };
  }
  const sp = svc.ports.find((p) => p.number === port);
  if (sp === undefined) {
    reportAt(ctx, at, CODE_TRACING_COLLECTOR, 'warning', `tracing provider "${name}": ${host} has no port ${port} (ports: ${svc.ports.map((p) => p.number).join(', ') || 'none'}); spans are sent to port ${port} anyway`,
      `set the provider's port to one the service declares`);
  }
  const ep = svc.endpoints[0];
  const epPort = (sp !== undefined && ep !== undefined ? ep.ports[sp.name] : undefined) ?? sp?.targetPort ?? port;
  if (ep !== undefined) return { address: ep.address, port: epPort };
  if (svc.resolution === 'DNS' || svc.resolution === 'DNS_ROUND_ROBIN') return { address: host, port };
  reportAt(ctx, at, CODE_TRACING_COLLECTOR, 'warning', `tracing provider "${name}": ${host} has no endpoint; spans are sent to ${bare}:${port} resolved by DNS`, 'give the ServiceEntry an endpoint address, or resolution: DNS');
  return { address: bare, port };
}
