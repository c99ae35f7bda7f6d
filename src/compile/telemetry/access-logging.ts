// Telemetry `accessLogging` → the access logs of one workload mode, merged as istiod merges
// them (pilot/pkg/model/telemetry.go mergeLogs): the providers in scope are those named by
// the most specific level that names any (else meshConfig.defaultProviders.accessLogging);
// each entry enables or (`disabled: true`) disables its providers; a provider's filter is the
// one of the most specific entry that names it. Nothing chosen for a mode (every entry is for
// the other mode) falls back to the default log, as Istio falls back to meshConfig.accessLogFile.
//
// Sluice logs every request by default (`--access-log stdout`), where Istio logs only when
// asked: Sluice's default provider list is therefore `[envoy]` when the mesh config sets none,
// so that a Telemetry which disables or filters logging takes effect on that default log.

import type { MeshConfig, TelemetrySpec } from '../../api/types.js';
import { compileAccessLogFormat, compileJsonAccessLogFormat, ISTIO_JSON_LABELS, type AccessLogFormat } from '../../telemetry/access-log-format.js';
import { compileCel, type CelProgram } from '../../telemetry/cel/expression.js';
import type { CompileContext } from '../context.js';
import { findProvider, knownProviderNames } from './providers.js';
import { CODE_CEL_FAILS, CODE_FORMAT_OPERATOR, CODE_PROVIDER_NOT_FOUND, CODE_PROVIDER_UNSUPPORTED, reportAt, type Origin } from './report.js';
import type { TelemetryResource } from './selection.js';
import type { AccessLogConfig, WorkloadMode } from './types.js';

type Entry = NonNullable<TelemetrySpec['accessLogging']>[number];

/** Envoy's stdout: where Sluice's `--access-log` target applies. */
export const STDOUT_PATH = '/dev/stdout';

export function matchesMode(match: { mode?: string } | undefined, mode: WorkloadMode): boolean {
  const m = match?.mode;
  return m === undefined || m === 'CLIENT_AND_SERVER' || m === mode;
}

export function providerNames(providers: { name: string }[] | undefined): string[] {
  return (providers ?? []).map((p) => p.name).filter((n) => n !== '');
}

interface Level {
  readonly t: TelemetryResource;
  readonly entries: readonly Entry[];
}

interface Chosen {
  /** Explicitly disabled (`disabled: true`): no line, and no fallback to the default log. */
  readonly disabled: boolean;
  readonly filter: string | null;
  readonly filterAt: Origin | null;
  readonly at: Origin;
}

/** Sluice's default access log provider list (meshConfig.defaultProviders.accessLogging unset). */
const DEFAULT_PROVIDERS: readonly string[] = Object.freeze(['envoy']);

/** The filter a CEL expression that can never evaluate becomes: Envoy does not log when evaluation fails. */
const NEVER: CelProgram = Object.freeze({ expression: 'false', type: 'bool', evaluate: () => false });

/**
 * The access logs of `mode`, or null when they are Sluice's default (the Istio TEXT line, or
 * meshConfig.accessLogFormat, to `--access-log`).
 */
export function compileAccessLogs(ctx: CompileContext, telemetries: readonly TelemetryResource[], mode: WorkloadMode): AccessLogConfig[] | null {
  const mesh = ctx.mesh;
  const meshDefaults = mesh.defaultProviders?.accessLogging;
  const defaults = meshDefaults !== undefined && meshDefaults.length > 0 ? meshDefaults : DEFAULT_PROVIDERS;
  const defaultsAt: Origin = { resource: null, path: ['defaultProviders', 'accessLogging'] };
  const levels: Level[] = telemetries.filter((t) => (t.spec.accessLogging ?? []).length > 0).map((t) => ({ t, entries: t.spec.accessLogging! }));

  const chosen = new Map<string, Chosen>();
  if (levels.length === 0) {
    for (const p of defaults) chosen.set(p, { disabled: false, filter: null, filterAt: null, at: defaultsAt });
  } else {
    let inScope: readonly string[] = defaults;
    const filters = new Map<string, { expr: string | null; at: Origin }>();
    for (const l of levels) {
      const names = new Set<string>();
      l.entries.forEach((e, i) => {
        if (!matchesMode(e.match, mode)) return;
        for (const p of providerNames(e.providers)) {
          names.add(p);
          const expr = e.filter?.expression;
          filters.set(p, { expr: expr !== undefined && expr !== '' ? expr : null, at: { resource: l.t, path: ['spec', 'accessLogging', i, 'filter', 'expression'] } });
        }
      });
      if (names.size > 0) inScope = [...names];
    }
    const scope = new Set(inScope);
    let parent = defaults;
    for (const l of levels) {
      l.entries.forEach((e, i) => {
        let names: readonly string[] = providerNames(e.providers);
        if (names.length === 0) names = parent;
        parent = names;
        for (const p of names) {
          if (!scope.has(p) || !matchesMode(e.match, mode)) continue;
          const at: Origin = { resource: l.t, path: ['spec', 'accessLogging', i, 'providers'] };
          if (e.disabled === true) { chosen.set(p, { disabled: true, filter: null, filterAt: null, at }); continue; }
          const f = filters.get(p);
          chosen.set(p, { disabled: false, filter: f?.expr ?? null, filterAt: f?.at ?? null, at });
        }
      });
    }
  }

  const out: AccessLogConfig[] = [];
  const file = typeof mesh.accessLogFile === 'string' ? mesh.accessLogFile : '';
  if (levels.length === 0 && defaults === DEFAULT_PROVIDERS && file !== '' && file !== STDOUT_PATH) {
    // No Telemetry and no default provider: Istio's legacy meshConfig.accessLogFile log.
    const fromMesh = meshFormat(ctx, mesh);
    const log: AccessLogConfig = { provider: 'mesh', path: file, ...fromMesh, filter: null, filterProgram: null, formatter: null };
    Object.defineProperty(log, 'formatter', { value: buildFormatter(ctx, defaultsAt, 'accessLogFile', fromMesh.encoding, fromMesh.format, fromMesh.labels), enumerable: false });
    return [Object.freeze(log)];
  }
  // Istio: no provider chosen for this mode = Telemetry does not configure it (the default
  // log applies); every chosen provider disabled = no access log.
  if (chosen.size === 0) return null;
  for (const [name, c] of chosen) {
    if (c.disabled) continue;
    const log = compileProvider(ctx, mesh, name, c);
    if (log !== null) out.push(log);
  }
  // Exactly Sluice's default: keep the data plane's fast path.
  if (out.length === 1 && isDefaultLog(out[0]!, mesh)) return null;
  return out;
}

function isDefaultLog(l: AccessLogConfig, mesh: MeshConfig): boolean {
  return l.provider === 'envoy' && l.path === STDOUT_PATH && l.encoding === 'TEXT' && l.filter === null
    && (l.format === null || l.format === mesh.accessLogFormat);
}

function compileProvider(ctx: CompileContext, mesh: MeshConfig, name: string, c: Chosen): AccessLogConfig | null {
  const p = findProvider(mesh, name);
  if (p === null) {
    reportAt(ctx, c.at, CODE_PROVIDER_NOT_FOUND, 'warning', `access log provider "${name}" is not defined; it is ignored (as Istio ignores it)`,
      `use the built-in provider envoy, or define ${name} in meshConfig.extensionProviders (known: ${knownProviderNames(mesh).join(', ')})`);
    return null;
  }
  if (p.kind !== 'envoyFileAccessLog') {
    reportAt(ctx, c.at, CODE_PROVIDER_UNSUPPORTED, 'warning', `access log provider "${name}" is ${p.kind}; Sluice writes access logs only through envoyFileAccessLog providers, so it is not applied`,
      'declare an extension provider with envoyFileAccessLog: {path: /dev/stdout} (or a file), or use the built-in envoy provider');
    return null;
  }
  const path = typeof p.settings.path === 'string' && p.settings.path !== '' ? p.settings.path : STDOUT_PATH;
  const logFormat = p.settings.logFormat as { text?: string; labels?: Record<string, unknown> } | undefined;
  let encoding: 'TEXT' | 'JSON';
  let format: string | null = null;
  let labels: Record<string, string> | null = null;
  if (p.name === 'envoy' && logFormat === undefined) {
    // Istio: the built-in provider takes its format from the mesh config (accessLogFormat/Encoding).
    const fromMesh = meshFormat(ctx, mesh);
    encoding = fromMesh.encoding;
    format = fromMesh.format;
    labels = fromMesh.labels;
  } else if (logFormat?.labels !== undefined) {
    encoding = 'JSON';
    labels = Object.keys(logFormat.labels).length > 0 ? Object.fromEntries(Object.entries(logFormat.labels).map(([k, v]) => [k, String(v)])) : { ...ISTIO_JSON_LABELS };
  } else {
    encoding = 'TEXT';
    format = typeof logFormat?.text === 'string' && logFormat.text !== '' ? logFormat.text : null;
  }
  const formatter = buildFormatter(ctx, c.at, name, encoding, format, labels);
  let filterProgram: CelProgram | null = null;
  if (c.filter !== null) filterProgram = compileFilter(ctx, c.filterAt ?? c.at, c.filter);
  const log: AccessLogConfig = { provider: name, path, encoding, format, labels, filter: c.filter, filterProgram: null, formatter: null };
  Object.defineProperty(log, 'filterProgram', { value: filterProgram, enumerable: false });
  Object.defineProperty(log, 'formatter', { value: formatter, enumerable: false });
  return Object.freeze(log);
}

/** FileAccessLogFromMeshConfig: TEXT with accessLogFormat (or Istio's line), or JSON with accessLogFormat's keys (or Istio's). */
function meshFormat(ctx: CompileContext, mesh: MeshConfig): { encoding: 'TEXT' | 'JSON'; format: string | null; labels: Record<string, string> | null } {
  const text = typeof mesh.accessLogFormat === 'string' && mesh.accessLogFormat !== '' ? mesh.accessLogFormat : null;
  if (mesh.accessLogEncoding !== 'JSON') return { encoding: 'TEXT', format: text, labels: null };
  if (text === null) return { encoding: 'JSON', format: null, labels: { ...ISTIO_JSON_LABELS } };
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
    return { encoding: 'JSON', format: null, labels: Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)])) };
  } catch (e) {
    reportAt(ctx, { resource: null, path: ['accessLogFormat'] }, CODE_FORMAT_OPERATOR, 'warning',
      `with accessLogEncoding JSON, accessLogFormat must be a JSON object of field → Envoy format (${(e as Error).message}); Istio's default JSON format is used`,
      'write accessLogFormat as e.g. \'{"code":"%RESPONSE_CODE%","path":"%REQ(:PATH)%"}\'');
    return { encoding: 'JSON', format: null, labels: { ...ISTIO_JSON_LABELS } };
  }
}

function buildFormatter(ctx: CompileContext, at: Origin, name: string, encoding: 'TEXT' | 'JSON', format: string | null, labels: Record<string, string> | null): AccessLogFormat | null {
  const f = encoding === 'JSON' ? compileJsonAccessLogFormat(labels ?? ISTIO_JSON_LABELS) : format === null ? null : compileAccessLogFormat(format);
  if (f !== null && f.unknown.length > 0) {
    reportAt(ctx, at, CODE_FORMAT_OPERATOR, 'warning', `access log provider "${name}": ${[...new Set(f.unknown)].join(', ')} not supported by Sluice; printed as -`,
      'use the command operators Sluice knows (README: Telemetry)');
  }
  return f;
}

function compileFilter(ctx: CompileContext, at: Origin, expr: string): CelProgram {
  const r = compileCel(expr);
  if (!r.ok) {
    reportAt(ctx, at, CODE_CEL_FAILS, 'warning', `filter ${JSON.stringify(expr)} can never be evaluated (${r.error}); Envoy writes no line when a filter fails, so this log stays empty`,
      'use Envoy attributes: request.*, response.*, connection.*, source.*, destination.*, upstream.*, xds.*');
    return NEVER;
  }
  if (r.program.type !== 'bool' && r.program.type !== 'dyn') {
    reportAt(ctx, at, CODE_CEL_FAILS, 'warning', `filter ${JSON.stringify(expr)} is of type ${r.program.type}, not bool; Envoy writes no line for a filter that is not true or false`,
      'write a condition, e.g. response.code >= 400');
    return NEVER;
  }
  return r.program;
}
