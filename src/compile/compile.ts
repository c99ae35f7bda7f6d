import type { MeshConfig } from '../api/types.js';
import { CompileContext, type CompileInput } from './context.js';
import { DEFAULT_DOMAIN_SUFFIX } from './hosts.js';
import { buildGatewayListeners } from './listeners.js';
import { buildRegistry } from './registry.js';
import { meshSecret } from './secrets.js';
import { compileWorkloadSecurity } from './security/index.js';
import { compileTelemetry } from './telemetry/index.js';
import { buildSidecar, scopeRegistry, sidecarScopeFor } from './sidecar.js';
import { selectorMatches } from './visibility.js';
import type { Listener, Mode, RouteConfiguration, Snapshot, Workload } from './snapshot.js';

export type { CompileInput } from './context.js';

/**
 * compile(store, workload) → Snapshot: a pure function of its input. Everything the data plane
 * needs is decided here (matchers compiled, weights cumulated, hosts normalised, clusters
 * built); problems become diagnostics, and a broken piece degrades alone as Istio's does.
 */
export function compile(input: CompileInput): Snapshot {
  const sidecarMode = input.workload.mode === 'sidecar';
  const scope = sidecarMode ? sidecarScopeFor(input.store, input.workload) : null;
  let registry = buildRegistry(input.store, input.workload.domainSuffix);
  if (scope !== null) registry = scopeRegistry(registry, scope);
  const ctx = new CompileContext(input, registry);
  const gateways = sidecarMode ? [] : input.store.list('Gateway').filter((g) => selectorMatches(g.spec.selector ?? {}, input.workload.labels)).map((g) => `${g.namespace}/${g.name}`);
  const security = compileWorkloadSecurity(ctx, gateways);
  let listeners: Listener[] = [];
  let routeConfigs = new Map<string, RouteConfiguration>();
  // A sidecar serves the reserved `mesh` gateway, never Gateway servers; its inbound side
  // carries the workload's authentication and authorization policies.
  if (!sidecarMode) {
    const built = buildGatewayListeners(ctx, security.policiesFor);
    routeConfigs = built.routeConfigs;
    listeners = security.finish(built.listeners, routeConfigs);
  }
  const sidecar = scope !== null ? security.finishSidecar(buildSidecar(ctx, scope, routeConfigs, security.policiesFor), routeConfigs) : null;
  // A proxy with a mesh identity always has its `default` secret (istioctl proxy-config secret shows it).
  if (input.meshCa !== null) meshSecret(ctx);
  const telemetry = compileTelemetry(ctx, gateways);
  return Object.freeze({
    version: input.version,
    createdAt: new Date().toISOString(),
    workload: input.workload,
    listeners: Object.freeze(listeners),
    routeConfigs,
    clusters: ctx.clusters,
    secrets: ctx.secrets,
    outboundTrafficPolicy: sidecar?.outbound.mode ?? input.mesh.outboundTrafficPolicy?.mode ?? 'ALLOW_ANY',
    sidecar,
    accessLogFormat: typeof input.mesh.accessLogFormat === 'string' && input.mesh.accessLogFormat !== '' ? input.mesh.accessLogFormat : null,
    telemetry,
    diagnostics: Object.freeze(ctx.diagnostics),
    envoyFilterPatches: Object.freeze(security.patchOutcomes),
  });
}

export interface WorkloadOptions {
  mode?: Mode;
  labels?: Record<string, string>;
  namespace?: string;
  serviceAccount?: string;
  portMap?: ReadonlyMap<number, number>;
  listenHost?: string;
  sidecarPorts?: Workload['sidecarPorts'];
}

export function makeWorkload(o: WorkloadOptions, mesh: MeshConfig): Workload {
  return Object.freeze({
    mode: o.mode ?? 'gateway',
    labels: Object.freeze({ ...(o.labels ?? { istio: 'ingressgateway' }) }),
    namespace: o.namespace ?? 'istio-system',
    serviceAccount: o.serviceAccount ?? 'default',
    trustDomain: mesh.trustDomain ?? 'cluster.local',
    domainSuffix: DEFAULT_DOMAIN_SUFFIX,
    rootNamespace: mesh.rootNamespace ?? 'istio-system',
    portMap: o.portMap ?? new Map(),
    listenHost: o.listenHost ?? '0.0.0.0',
    sidecarPorts: o.mode === 'sidecar' ? Object.freeze({ ...(o.sidecarPorts ?? { outboundPort: 15001, inboundPort: 15006, appPort: null }) }) : null,
  });
}
