import type { MeshConfig } from '../api/types.js';
import { CompileContext, type CompileInput } from './context.js';
import { DEFAULT_DOMAIN_SUFFIX } from './hosts.js';
import { buildGatewayListeners } from './listeners.js';
import { buildRegistry } from './registry.js';
import { compileWorkloadSecurity } from './security/index.js';
import { selectorMatches } from './visibility.js';
import type { Mode, Snapshot, Workload } from './snapshot.js';

export type { CompileInput } from './context.js';

/**
 * compile(store, workload) → Snapshot: a pure function of its input. Everything the data plane
 * needs is decided here (matchers compiled, weights cumulated, hosts normalised, clusters
 * built); problems become diagnostics, and a broken piece degrades alone as Istio's does.
 */
export function compile(input: CompileInput): Snapshot {
  const registry = buildRegistry(input.store, input.workload.domainSuffix);
  const ctx = new CompileContext(input, registry);
  const gateways = input.store.list('Gateway').filter((g) => selectorMatches(g.spec.selector ?? {}, input.workload.labels)).map((g) => `${g.namespace}/${g.name}`);
  const security = compileWorkloadSecurity(ctx, gateways);
  const built = buildGatewayListeners(ctx, security.policiesFor);
  const routeConfigs = built.routeConfigs;
  const listeners = security.finish(built.listeners, routeConfigs);
  return Object.freeze({
    version: input.version,
    createdAt: new Date().toISOString(),
    workload: input.workload,
    listeners: Object.freeze(listeners),
    routeConfigs,
    clusters: ctx.clusters,
    secrets: ctx.secrets,
    outboundTrafficPolicy: input.mesh.outboundTrafficPolicy?.mode ?? 'ALLOW_ANY',
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
  });
}
