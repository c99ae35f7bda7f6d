import { ensureCluster } from './clusters.js';
import type { CompileContext } from './context.js';
import { indexRouteConfiguration, translateVirtualService, virtualServicesFor } from './http-routes.js';
import { MATCH_ANY } from './match/route-match.js';
import { DEFAULT_LISTENER_POLICIES, NO_ROUTE_FILTERS } from './policies.js';
import type { RegistryService } from './registry.js';
import { compileRetryPolicy } from './route-action.js';
import { catchAllRoute, hostAliases, meshBlock, MESH, resourceOf, SIDECAR_POOL, soleCluster, visibleServices, vsHosts, type VS } from './sidecar-common.js';
import { buildL4Table } from './sidecar-l4.js';
import type { SidecarScope } from './sidecar-scope.js';
import {
  FALLBACK_ROUTE_CONFIG, PASSTHROUGH_CLUSTER, ROUTE_CONFIG_BY_REQUEST_PORT,
  type OutboundConfig, type OutboundL4Table, type OutboundTrafficMode,
} from './sidecar-snapshot.js';
import type { Destination } from '../api/types.js';
import type { Cluster, FilterChain, Route, RouteConfiguration, RouteSource, VirtualHost } from './snapshot.js';

/**
 * The sidecar's outbound side, as Istio builds a sidecar's outbound listeners and routes:
 * one HTTP route configuration per port ("80", "443", ...) holding a virtual host for every
 * VirtualService host bound to `mesh` (or with no `gateways`) and for every visible service
 * on that port (default route to `outbound|port||host`), then the `allow_any`
 * (PassthroughCluster) or `block_all` (502) host; and per-port L4 tables for CONNECT tunnels
 * from the same VirtualServices' `tls` (SNI) and `tcp` rules and the services on the port.
 */
export function buildSidecarOutbound(ctx: CompileContext, scope: SidecarScope, routeConfigs: Map<string, RouteConfiguration>, outboundPort: number): OutboundConfig {
  const mode = outboundMode(ctx, scope);
  const passthroughCluster = buildPassthrough(ctx, scope, mode);
  const services = visibleServices(ctx);
  const virtualServices = virtualServicesFor(ctx, MESH)
    .filter((vs) => scope.allowsVirtualService(vs, vsHosts(ctx, vs)));

  // Ports that get their own tables: every service port, every port a mesh rule names, 80.
  const httpPorts = new Set<number>([80]);
  const l4Ports = new Set<number>();
  for (const s of services) for (const p of s.ports) { httpPorts.add(p.number); l4Ports.add(p.number); }
  for (const vs of virtualServices) {
    for (const r of vs.spec.http ?? []) for (const m of r.match ?? []) if (m.port !== undefined && meshBlock(vs, m.gateways)) httpPorts.add(m.port);
    for (const r of vs.spec.tls ?? []) for (const m of r.match) if (m.port !== undefined && meshBlock(vs, m.gateways)) l4Ports.add(m.port);
    for (const r of vs.spec.tcp ?? []) for (const m of r.match ?? []) if (m.port !== undefined && meshBlock(vs, m.gateways)) l4Ports.add(m.port);
  }
  const catchAll = catchAllVirtualHost(mode, passthroughCluster);
  for (const port of [...httpPorts].sort((a, b) => a - b)) {
    routeConfigs.set(String(port), buildPortRouteConfig(ctx, scope, port, virtualServices, services, catchAll));
  }
  routeConfigs.set(FALLBACK_ROUTE_CONFIG, indexRouteConfiguration(FALLBACK_ROUTE_CONFIG, [catchAll]));

  const l4 = new Map<number, OutboundL4Table>();
  for (const port of [...l4Ports].sort((a, b) => a - b)) l4.set(port, buildL4Table(ctx, scope, port, virtualServices, services));
  const anyPort = buildL4Table(ctx, scope, 0, virtualServices, []);

  const chain: FilterChain = Object.freeze({
    name: 'virtualOutbound',
    serverNames: Object.freeze([]),
    tls: null,
    kind: 'http',
    routeConfigName: ROUTE_CONFIG_BY_REQUEST_PORT,
    l4Routes: Object.freeze([]),
    httpsRedirect: false,
    policies: DEFAULT_LISTENER_POLICIES,
    origin: null,
  });
  const listener = Object.freeze({
    name: 'virtualOutbound',
    address: ctx.workload.listenHost,
    port: outboundPort,
    bindPort: outboundPort,
    filterChains: Object.freeze([chain]),
    inspectsTls: false,
  });
  return Object.freeze({ listener, chain, mode, passthroughCluster, l4, anyPort });
}

// ---------------------------------------------------------------- policy

function outboundMode(ctx: CompileContext, scope: SidecarScope): OutboundTrafficMode {
  return scope.outboundTrafficPolicy?.mode ?? ctx.mesh.outboundTrafficPolicy?.mode ?? 'ALLOW_ANY';
}

/** PassthroughCluster (original destination), or the Sidecar's `egressProxy` under ALLOW_ANY. */
function buildPassthrough(ctx: CompileContext, scope: SidecarScope, mode: OutboundTrafficMode): string {
  const egressProxy = scope.outboundTrafficPolicy?.egressProxy;
  if (mode === 'ALLOW_ANY' && egressProxy !== undefined && scope.resource !== null) {
    return ensureCluster(ctx, scope.resource, ['spec', 'outboundTrafficPolicy', 'egressProxy'], egressProxy, egressProxy.port?.number ?? 80).cluster;
  }
  if (!ctx.clusters.has(PASSTHROUGH_CLUSTER)) {
    ctx.clusters.set(PASSTHROUGH_CLUSTER, Object.freeze<Cluster>({
      name: PASSTHROUGH_CLUSTER,
      serviceHost: '',
      subset: '',
      port: 80,
      type: 'original_dst',
      endpoints: Object.freeze([]),
      protocol: 'auto',
      lb: Object.freeze({ policy: 'PASSTHROUGH', hash: null }),
      pool: SIDECAR_POOL,
      outlier: null,
      tls: null,
      meshExternal: true,
      origins: Object.freeze([`outboundTrafficPolicy ${mode}`]),
    }));
  }
  return PASSTHROUGH_CLUSTER;
}

const POLICY_SOURCE: RouteSource = Object.freeze({ resource: 'meshConfig.outboundTrafficPolicy', file: '', line: 0, col: 0, rule: -1, match: -1 });

/** Istio's catch-all host: `allow_any` → PassthroughCluster, or `block_all` → 502. */
function catchAllVirtualHost(mode: OutboundTrafficMode, passthroughCluster: string): VirtualHost {
  const route: Route = mode === 'ALLOW_ANY'
    ? catchAllRoute('allow_any', soleCluster(passthroughCluster, '', 0), null, POLICY_SOURCE)
    : Object.freeze({
      name: 'block_all',
      match: MATCH_ANY,
      action: Object.freeze({ kind: 'direct' as const, status: 502, body: '' }),
      requestHeaders: null,
      responseHeaders: null,
      filters: NO_ROUTE_FILTERS,
      source: POLICY_SOURCE,
    });
  const name = mode === 'ALLOW_ANY' ? 'allow_any' : 'block_all';
  return Object.freeze({ name, domains: Object.freeze(['*']), routes: Object.freeze([route]), requireTls: false });
}

// ---------------------------------------------------------------- HTTP route configurations

interface VhostBuilder {
  name: string;
  domains: string[];
  routes: Route[];
}

function buildPortRouteConfig(ctx: CompileContext, scope: SidecarScope, port: number, virtualServices: readonly VS[], services: readonly RegistryService[], catchAll: VirtualHost): RouteConfiguration {
  const byHost = new Map<string, VhostBuilder>();
  const wl = ctx.workload;
  for (const vs of virtualServices) {
    const hosts = vsHosts(ctx, vs).filter((h) => {
      const svc = ctx.registry.lookup(h, wl.namespace);
      return svc === undefined ? scope.allowsVirtualService(vs, [h], port) : svc.ports.some((p) => p.number === port);
    });
    if (hosts.length === 0) continue;
    const routes = translateVirtualService(ctx, vs, MESH, port);
    for (const h of hosts) {
      const known = ctx.registry.lookup(h, wl.namespace) !== undefined;
      if (!known && routes.length === 0) continue;
      let v = byHost.get(h);
      if (v === undefined) byHost.set(h, (v = { name: `${h}:${port}`, domains: hostAliases(h, wl.namespace, wl.domainSuffix), routes: [] }));
      v.routes.push(...routes);
    }
  }
  for (const svc of services) {
    if (byHost.has(svc.hostname) || !svc.ports.some((p) => p.number === port)) continue;
    if (!scope.allowsService(svc, port)) continue;
    const owner = resourceOf(ctx, svc.origin);
    if (owner === null) continue;
    const dest: Destination = { host: svc.hostname, port: { number: port } };
    const r = ensureCluster(ctx, owner, ['spec'], dest, port);
    const pos = owner.pos(['spec']);
    byHost.set(svc.hostname, {
      name: `${svc.hostname}:${port}`,
      domains: hostAliases(svc.hostname, wl.namespace, wl.domainSuffix),
      routes: [catchAllRoute('default', soleCluster(r.cluster, r.host, r.port), compileRetryPolicy(undefined, ctx.mesh.defaultHttpRetryPolicy),
        Object.freeze({ resource: svc.origin, file: pos.file, line: pos.line, col: pos.col, rule: -1, match: -1 }))],
    });
  }
  const vhosts: VirtualHost[] = [...byHost.values()].map((v) => Object.freeze({ name: v.name, domains: Object.freeze(v.domains), routes: Object.freeze(v.routes), requireTls: false }));
  vhosts.push(catchAll);
  return indexRouteConfiguration(String(port), vhosts);
}
