import type { CompileContext } from './context.js';
import { DEFAULT_LISTENER_POLICIES, type ListenerPolicies } from './policies.js';
import { ServiceRegistry } from './registry.js';
import { buildSidecarInbound } from './sidecar-inbound.js';
import { inferGatewayMeshTls } from './sidecar-gateway-tls.js';
import { buildSidecarOutbound } from './sidecar-outbound.js';
import { SidecarScope, selectSidecar } from './sidecar-scope.js';
import type { SidecarConfig } from './sidecar-snapshot.js';
import type { RouteConfiguration } from './snapshot.js';
import type { ConfigStore } from '../config/store.js';
import type { Workload } from './snapshot.js';

/** The Sidecar resource scope for a workload (used to filter the registry before compile). */
export function sidecarScopeFor(store: ConfigStore, workload: Workload): SidecarScope {
  return new SidecarScope(selectSidecar(store, workload.namespace, workload.labels, workload.rootNamespace), workload.namespace, workload.domainSuffix);
}

/** The registry as this sidecar sees it: services outside its Sidecar egress hosts are gone. */
export function scopeRegistry(registry: ServiceRegistry, scope: SidecarScope): ServiceRegistry {
  if (scope.resource === null) return registry;
  return new ServiceRegistry(registry.services.filter((s) => scope.allowsService(s)));
}

/**
 * Sidecar mode (`sluice run --mode sidecar`): the outbound explicit proxy and the inbound
 * listener, with their route configurations and clusters added to the compile context.
 */
export function buildSidecar(ctx: CompileContext, scope: SidecarScope, routeConfigs: Map<string, RouteConfiguration>, policiesFor: (port: number) => ListenerPolicies = () => DEFAULT_LISTENER_POLICIES): SidecarConfig {
  const ports = ctx.workload.sidecarPorts ?? { outboundPort: 15001, inboundPort: 15006, appPort: null };
  const r = scope.resource;
  if (r !== null) {
    if ((r.spec.ingress ?? []).length > 0) ctx.report(r, ['spec', 'ingress'], 'SLU0421', 'warning', 'Sidecar ingress listeners are not supported by Sluice; inbound traffic uses --inbound-port → --app-port', 'remove spec.ingress, or set --app-port to the application port');
    (r.spec.egress ?? []).forEach((e, i) => {
      if (e.bind !== undefined || e.captureMode !== undefined) ctx.report(r, ['spec', 'egress', i], 'SLU0421', 'warning', 'egress bind/captureMode have no effect: Sluice\'s outbound side is one explicit proxy port (--outbound-port)');
    });
  }
  const outbound = buildSidecarOutbound(ctx, scope, routeConfigs, ports.outboundPort);
  const inbound = ports.appPort !== null ? buildSidecarInbound(ctx, routeConfigs, ports.inboundPort, ports.appPort, policiesFor(ports.appPort)) : null;
  inferGatewayMeshTls(ctx, routeConfigs);
  return Object.freeze({ scope: scope.ref, outbound, inbound });
}
