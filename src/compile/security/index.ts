// Security and rate-limit compilation for one workload: which RequestAuthentication,
// AuthorizationPolicy and EnvoyFilter objects apply (selection.ts), compiled into the filter
// configs every chain carries (ListenerPolicies), then EnvoyFilter patches applied per chain.

import type { CompileContext } from '../context.js';
import { DEFAULT_LISTENER_POLICIES, type ListenerPolicies } from '../policies.js';
import type { EnvoyFilterPatchOutcome, Listener, RouteConfiguration } from '../snapshot.js';
import { compileAuthorization, numTrustedProxies } from './authz.js';
import { applyEnvoyFilters } from './envoy-filter.js';
import { applySidecarEnvoyFilters } from './envoy-filter-sidecar.js';
import type { SidecarConfig } from '../sidecar-snapshot.js';
import { compileJwtAuthn } from './jwt.js';
import { findWorkloadScopeProblems } from './scope-problems.js';
import { selectPolicies, type PolicyTarget } from './selection.js';

export { findPolicyScopeProblems, knownWorkloads, findWorkloadScopeProblems, type KnownWorkload } from './scope-problems.js';

/** The `source_cluster` name Envoy would report for this gateway (`istio-ingressgateway.istio-system`). */
function serviceCluster(ctx: CompileContext): string {
  const l = ctx.workload.labels;
  const name = l.app ?? (l.istio !== undefined ? `istio-${l.istio}` : 'sluice');
  return `${name}.${ctx.workload.namespace}`;
}

export interface WorkloadSecurity {
  /** Base policies for every chain of a listener port (listeners.ts calls it per port). */
  policiesFor(port: number): ListenerPolicies;
  /** Applies the workload's EnvoyFilters to the built listeners. */
  finish(listeners: readonly Listener[], routeConfigs: ReadonlyMap<string, RouteConfiguration>): Listener[];
  /** Applies the workload's EnvoyFilters to a sidecar's inbound (SIDECAR_INBOUND) and outbound (SIDECAR_OUTBOUND) listeners. */
  finishSidecar(sidecar: SidecarConfig, routeConfigs: ReadonlyMap<string, RouteConfiguration>): SidecarConfig;
  /** After finish: what happened to each EnvoyFilter patch. */
  readonly patchOutcomes: readonly EnvoyFilterPatchOutcome[];
}

export function compileWorkloadSecurity(ctx: CompileContext, gateways: readonly string[]): WorkloadSecurity {
  const w = ctx.workload;
  const target: PolicyTarget = { namespace: w.namespace, labels: w.labels, rootNamespace: w.rootNamespace, gateways };
  for (const d of findWorkloadScopeProblems(ctx.store, { namespace: w.namespace, labels: w.labels, rootNamespace: w.rootNamespace })) ctx.diagnostics.push(d);
  const ras = selectPolicies(ctx.store, 'RequestAuthentication', target);
  const aps = selectPolicies(ctx.store, 'AuthorizationPolicy', target);
  const efs = selectPolicies(ctx.store, 'EnvoyFilter', target);
  const jwt = compileJwtAuthn(ctx, ras);
  // Compiled once per protocol class; ports only matter for diagnostics wording.
  let http: ReturnType<typeof compileAuthorization> | undefined;
  let tcp: ReturnType<typeof compileAuthorization> | undefined;
  const byPort = new Map<number, ListenerPolicies>();
  const policiesFor = (port: number): ListenerPolicies => {
    let p = byPort.get(port);
    if (p !== undefined) return p;
    http ??= compileAuthorization(ctx, aps, false, port);
    tcp ??= compileAuthorization(ctx, aps, true, port);
    p = jwt === null && http === null && tcp === null ? DEFAULT_LISTENER_POLICIES : Object.freeze({ ...DEFAULT_LISTENER_POLICIES, jwt, rbac: http, networkRbac: tcp });
    byPort.set(port, p);
    return p;
  };
  const patchOutcomes: EnvoyFilterPatchOutcome[] = [];
  return {
    policiesFor,
    patchOutcomes,
    finish(listeners, routeConfigs) {
      if (efs.length === 0) return [...listeners];
      http ??= compileAuthorization(ctx, aps, false, 0);
      const istioHttpFilters: string[] = [];
      if (jwt !== null) istioHttpFilters.push('envoy.filters.http.jwt_authn', 'istio_authn');
      if (http?.custom != null) istioHttpFilters.push('envoy.filters.http.ext_authz');
      if (http !== null) istioHttpFilters.push('envoy.filters.http.rbac');
      istioHttpFilters.push('envoy.filters.http.grpc_stats', 'envoy.filters.http.fault', 'envoy.filters.http.cors', 'istio.stats');
      return applyEnvoyFilters({ ctx, filters: efs, listeners, routeConfigs, istioHttpFilters, trustedHops: numTrustedProxies(ctx), serviceCluster: serviceCluster(ctx), outcomes: patchOutcomes });
    },
    finishSidecar(sidecar, routeConfigs) {
      if (efs.length === 0) return sidecar;
      http ??= compileAuthorization(ctx, aps, false, 0);
      // Istio's sidecar HTTP filters: metadata exchange first; authentication and authorization inbound only.
      const inboundFilters = ['istio.metadata_exchange'];
      if (jwt !== null) inboundFilters.push('envoy.filters.http.jwt_authn', 'istio_authn');
      if (http?.custom != null) inboundFilters.push('envoy.filters.http.ext_authz');
      if (http !== null) inboundFilters.push('envoy.filters.http.rbac');
      const common = ['envoy.filters.http.grpc_stats', 'envoy.filters.http.fault', 'envoy.filters.http.cors', 'istio.stats'];
      return applySidecarEnvoyFilters({ ctx, filters: efs, routeConfigs, trustedHops: numTrustedProxies(ctx), serviceCluster: serviceCluster(ctx), outcomes: patchOutcomes }, sidecar, [...inboundFilters, ...common], ['istio.metadata_exchange', ...common]);
    },
  };
}
