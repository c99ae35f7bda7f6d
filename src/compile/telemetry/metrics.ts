// Telemetry `metrics` → how Istio's standard metrics are recorded in one workload mode, merged
// as istiod merges them (pilot/pkg/model/telemetry.go mergeMetrics): providers in scope come
// from the most specific level naming any (else meshConfig.defaultProviders.metrics, which
// Istio installs as [prometheus]); overrides accumulate from the root namespace down, later
// ones winning per metric and per tag; ALL_METRICS disabled switches the mode off, a later
// ALL_METRICS not disabled switches it back on.

import type { TelemetrySpec } from '../../api/types.js';
import { compileCel } from '../../telemetry/cel/expression.js';
import type { CompileContext } from '../context.js';
import { matchesMode, providerNames } from './access-logging.js';
import { findProvider, knownProviderNames } from './providers.js';
import { CODE_CEL_FAILS, CODE_FIELD_IGNORED, CODE_PROVIDER_NOT_FOUND, CODE_PROVIDER_UNSUPPORTED, reportAt, type Origin } from './report.js';
import type { TelemetryResource } from './selection.js';
import type { IstioMetricName, MetricOverride, MetricsConfig, TagOverride, WorkloadMode } from './types.js';

type Entry = NonNullable<TelemetrySpec['metrics']>[number];
type Override = NonNullable<Entry['overrides']>[number];

export const ISTIO_METRICS: readonly IstioMetricName[] = Object.freeze([
  'REQUEST_COUNT', 'REQUEST_DURATION', 'REQUEST_SIZE', 'RESPONSE_SIZE',
  'TCP_OPENED_CONNECTIONS', 'TCP_CLOSED_CONNECTIONS', 'TCP_SENT_BYTES', 'TCP_RECEIVED_BYTES',
  'GRPC_REQUEST_MESSAGES', 'GRPC_RESPONSE_MESSAGES',
]);

const DEFAULT_PROVIDERS: readonly string[] = Object.freeze(['prometheus']);
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

interface Working {
  disabled: boolean | undefined;
  tags: Map<string, { operation: 'UPSERT' | 'REMOVE'; value: string | null; at: Origin }>;
}

function isAllMetrics(o: Override): boolean {
  const m = o.match;
  if (m?.customMetric !== undefined) return false;
  return m?.metric === undefined || m.metric === 'ALL_METRICS';
}

/** Istio's metrics configuration for `mode`, or null when the standard metrics are recorded unchanged. */
export function compileMetrics(ctx: CompileContext, telemetries: readonly TelemetryResource[], mode: WorkloadMode): MetricsConfig | null {
  const meshDefaults = ctx.mesh.defaultProviders?.metrics;
  const defaults = meshDefaults !== undefined && meshDefaults.length > 0 ? meshDefaults : DEFAULT_PROVIDERS;
  const entries: { t: TelemetryResource; i: number; e: Entry }[] = [];
  for (const t of telemetries) (t.spec.metrics ?? []).forEach((e, i) => entries.push({ t, i, e }));

  let inScope: readonly string[] = defaults;
  for (const { e } of entries) {
    const names = providerNames(e.providers);
    if (names.length > 0) inScope = names;
  }
  const prometheus = new Set<string>();
  for (const name of new Set(inScope)) {
    const at = scopeOrigin(entries, name);
    const p = findProvider(ctx.mesh, name);
    if (p === null) {
      reportAt(ctx, at, CODE_PROVIDER_NOT_FOUND, 'warning', `metrics provider "${name}" is not defined; it is ignored (as Istio ignores it)`,
        `use the built-in provider prometheus (known: ${knownProviderNames(ctx.mesh).join(', ')})`);
    } else if (p.kind !== 'prometheus') {
      reportAt(ctx, at, CODE_PROVIDER_UNSUPPORTED, 'warning', `metrics provider "${name}" is ${p.kind}; Sluice serves metrics only to Prometheus (/stats/prometheus), so it is not applied`, 'use the prometheus provider');
    } else {
      prometheus.add(name);
    }
  }
  if (prometheus.size === 0) return Object.freeze({ providers: Object.freeze([]), disabled: true, overrides: Object.freeze({}) });

  // One Prometheus registry serves every prometheus-kind provider: their overrides merge in order.
  let allDisabled = false;
  const work = new Map<IstioMetricName, Working>();
  let parent = defaults;
  for (const { t, i, e } of entries) {
    let names: readonly string[] = providerNames(e.providers);
    if (names.length === 0) names = parent;
    parent = names;
    if (!names.some((n) => prometheus.has(n))) continue;
    if (e.reportingInterval !== undefined) {
      reportAt(ctx, { resource: t, path: ['spec', 'metrics', i, 'reportingInterval'] }, CODE_FIELD_IGNORED, 'info', 'reportingInterval has no effect in Sluice: /stats/prometheus is computed when it is scraped');
    }
    (e.overrides ?? []).forEach((o, j) => {
      const oat: Origin = { resource: t, path: ['spec', 'metrics', i, 'overrides', j] };
      if (!matchesMode(o.match, mode)) return;
      if (o.match?.customMetric !== undefined) {
        reportAt(ctx, { resource: t, path: [...oat.path, 'match', 'customMetric'] }, CODE_FIELD_IGNORED, 'info', `customMetric ${o.match.customMetric}: Sluice records only Istio's standard metrics; this override has no effect`);
        return;
      }
      if (isAllMetrics(o) && o.disabled === true) { allDisabled = true; return; }
      // Any other override for this mode switches a disabled-all back on (Istio: "root namespace
      // disables all, but then enables them by namespace scoped").
      allDisabled = false;
      const names: readonly IstioMetricName[] = isAllMetrics(o) ? ISTIO_METRICS : [o.match!.metric as IstioMetricName];
      for (const metric of names) {
        let w = work.get(metric);
        if (w === undefined) work.set(metric, (w = { disabled: undefined, tags: new Map() }));
        if (o.disabled !== undefined) w.disabled = o.disabled;
        for (const [tag, to] of Object.entries(o.tagOverrides ?? {})) {
          const operation = to.operation ?? 'UPSERT';
          w.tags.set(tag, { operation, value: operation === 'UPSERT' ? (to.value ?? '') : null, at: { resource: t, path: [...oat.path, 'tagOverrides', tag] } });
        }
      }
    });
  }

  const overrides: Partial<Record<IstioMetricName, MetricOverride>> = {};
  // Metrics overridden alike (ALL_METRICS) share one object: the data plane evaluates its tags once per request.
  const shared = new Map<string, MetricOverride>();
  for (const [metric, w] of work) {
    const tags: TagOverride[] = [];
    for (const [tag, to] of [...w.tags].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (!LABEL_NAME.test(tag)) {
        reportAt(ctx, to.at, CODE_FIELD_IGNORED, 'warning', `tag "${tag}" is not a valid Prometheus label name; the override is not applied`, 'use letters, digits and _ (not starting with a digit)');
        continue;
      }
      tags.push(compileTag(ctx, tag, to));
    }
    if (w.disabled !== true && tags.length === 0) continue;
    const key = JSON.stringify([w.disabled === true, tags.map((t) => [t.tag, t.operation, t.value])]);
    let o = shared.get(key);
    if (o === undefined) shared.set(key, (o = Object.freeze({ disabled: w.disabled === true, tags: Object.freeze(tags) })));
    overrides[metric] = o;
  }
  if (!allDisabled && Object.keys(overrides).length === 0) return null;
  return Object.freeze({ providers: Object.freeze([...prometheus]), disabled: allDisabled, overrides: Object.freeze(overrides) });
}

function scopeOrigin(entries: readonly { t: TelemetryResource; i: number; e: Entry }[], name: string): Origin {
  for (let k = entries.length - 1; k >= 0; k--) {
    const { t, i, e } = entries[k]!;
    const idx = (e.providers ?? []).findIndex((p) => p.name === name);
    if (idx >= 0) return { resource: t, path: ['spec', 'metrics', i, 'providers', idx, 'name'] };
  }
  return { resource: null, path: ['defaultProviders', 'metrics'] };
}

function compileTag(ctx: CompileContext, tag: string, to: { operation: 'UPSERT' | 'REMOVE'; value: string | null; at: Origin }): TagOverride {
  let program: TagOverride['program'] = null;
  if (to.operation === 'UPSERT' && to.value !== null) {
    const r = compileCel(to.value);
    if (r.ok) program = r.program;
    else {
      reportAt(ctx, { resource: to.at.resource, path: [...to.at.path, 'value'] }, CODE_CEL_FAILS, 'warning',
        `tag ${tag}: value ${JSON.stringify(to.value)} can never be evaluated (${r.error}); the label is "unknown" on every request`,
        'use Envoy attributes, e.g. request.host, response.code, string(destination.port), request.headers[\'x-user\']');
    }
  }
  const t = { tag, operation: to.operation, value: to.value } as TagOverride;
  Object.defineProperty(t, 'program', { value: program, enumerable: false });
  return Object.freeze(t);
}
