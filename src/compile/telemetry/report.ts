import type { Diagnostic, Level } from '../../config/diagnostic.js';
import { formatPath } from '../../config/diagnostic.js';
import { resourceRef } from '../../config/resource.js';
import type { CompileContext } from '../context.js';
import type { TelemetryResource } from './selection.js';

// Telemetry diagnostics (SLU06xx). A problem is reported at the Telemetry field that caused it,
// or, for the mesh config's own settings (defaultProviders, accessLogEncoding), without a file.

export const CODE_PROVIDER_NOT_FOUND = 'SLU0601';
export const CODE_PROVIDER_UNSUPPORTED = 'SLU0602';
export const CODE_CEL_FAILS = 'SLU0603';
export const CODE_FORMAT_OPERATOR = 'SLU0604';
export const CODE_TRACING_COLLECTOR = 'SLU0605';
export const CODE_FIELD_IGNORED = 'SLU0606';

/** Where a telemetry setting was written: a Telemetry field, or the mesh config. */
export interface Origin {
  readonly resource: TelemetryResource | null;
  readonly path: readonly (string | number)[];
}

export function reportAt(ctx: CompileContext, at: Origin, code: string, level: Level, message: string, fix?: string): void {
  if (at.resource !== null) {
    // Client and server modes compile the same fields: report each problem once.
    const ref = resourceRef(at.resource);
    const path = formatPath(at.path);
    if (ctx.diagnostics.some((x) => x.code === code && x.resource === ref && x.path === path && x.message === message)) return;
    ctx.report(at.resource, at.path, code, level, message, fix);
    return;
  }
  const d: Diagnostic = { code, level, message: `meshConfig.${formatPath(at.path)}: ${message}` };
  if (fix !== undefined) d.fix = fix;
  // Several workloads / modes reach the same mesh setting: report it once.
  if (ctx.diagnostics.some((x) => x.code === d.code && x.message === d.message)) return;
  ctx.diagnostics.push(d);
}

export function originRef(at: Origin): string {
  return at.resource === null ? `meshConfig.${formatPath(at.path)}` : `${resourceRef(at.resource)} ${formatPath(at.path)}`;
}
