// The Telemetry pass of compile: Telemetry resources + meshConfig telemetry settings → the
// workload's TelemetryConfig, or null when everything is Sluice's default (the data plane
// then keeps its fast path: one null check per request).

import { resourceRef } from '../../config/resource.js';
import type { CompileContext } from '../context.js';
import { compileAccessLogs } from './access-logging.js';
import { compileMetrics } from './metrics.js';
import { applicableTelemetries } from './selection.js';
import { compileTracing } from './tracing.js';
import type { TelemetryConfig, TelemetryModeConfig, WorkloadMode } from './types.js';

export type { TelemetryConfig, TelemetryModeConfig } from './types.js';

/**
 * @param gateways classic Gateways (`ns/name`) this workload serves, for targetRefs.
 */
export function compileTelemetry(ctx: CompileContext, gateways: readonly string[]): TelemetryConfig | null {
  const w = ctx.workload;
  const telemetries = applicableTelemetries(ctx.store, { namespace: w.namespace, labels: w.labels, rootNamespace: w.rootNamespace, gateways });
  const forMode = (mode: WorkloadMode): TelemetryModeConfig => Object.freeze({
    accessLogs: freezeOrNull(compileAccessLogs(ctx, telemetries, mode)),
    metrics: compileMetrics(ctx, telemetries, mode),
    tracing: compileTracing(ctx, telemetries, mode),
  });
  const client = forMode('CLIENT');
  // A gateway serves only CLIENT traffic; its server side is never used, so it is not compiled
  // (nor reported twice).
  const server = w.mode === 'sidecar' ? forMode('SERVER') : client;
  if (isDefault(client) && isDefault(server)) return null;
  return Object.freeze({ applied: Object.freeze(telemetries.map(resourceRef)), client, server });
}

function isDefault(m: TelemetryModeConfig): boolean {
  return m.accessLogs === null && m.metrics === null && m.tracing === null;
}

function freezeOrNull<T>(xs: T[] | null): readonly T[] | null {
  return xs === null ? null : Object.freeze(xs);
}
