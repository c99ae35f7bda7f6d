import type { Destination, L4MatchAttributes, RouteDestination, Server } from '../api/types.js';
import type { Resource } from '../config/resource.js';
import { resourceRef } from '../config/resource.js';
import { ensureCluster } from './clusters.js';
import type { CompileContext } from './context.js';
import { hostCovers, intersectHosts, normalizeHost } from './hosts.js';
import { indexRouteConfiguration, translateVirtualService, virtualServicesFor } from './http-routes.js';
import { MATCH_ANY } from './match/route-match.js';
import { expectedMeshIdentities } from './mesh-identities.js';
import { gatewayRef } from './names.js';
import { meshSecret } from './secrets.js';
import { DEFAULT_LISTENER_POLICIES, NO_ROUTE_FILTERS } from './policies.js';
import type { RegistryService } from './registry.js';
import { compileRetryPolicy } from './route-action.js';
import type { SidecarScope } from './sidecar-scope.js';
import {
  FALLBACK_ROUTE_CONFIG, PASSTHROUGH_CLUSTER, ROUTE_CONFIG_BY_REQUEST_PORT,
  type OutboundConfig, type OutboundL4Route, type OutboundL4Table, type OutboundService, type OutboundTrafficMode,
} from './sidecar-snapshot.js';
import type { ClientTls, Cluster, FilterChain, L4Route, Route, RouteConfiguration, RouteSource, VirtualHost, WeightedCluster } from './snapshot.js';
import { selectorMatches } from './visibility.js';

type VS = Resource<'VirtualService'>;
const MESH = new Set(['mesh']);
const MAX_U32 = 2 ** 32 - 1;

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
      pool: Object.freeze({ maxConnections: MAX_U32, connectTimeoutMs: 10_000, maxPendingRequests: MAX_U32, maxRequests: MAX_U32, maxRequestsPerConnection: 0, maxRetries: MAX_U32, idleTimeoutMs: 3_600_000, maxConnectionDurationMs: 0, h2Upgrade: false, useClientProtocol: false }),
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
    ? Object.freeze({
      name: 'allow_any',
      match: MATCH_ANY,
      action: Object.freeze({
        kind: 'route' as const,
        clusters: Object.freeze([Object.freeze({ cluster: passthroughCluster, weight: 100, cumulative: 100, host: '', subset: '', port: 0, requestHeaders: null, responseHeaders: null })]),
        totalWeight: 100,
        timeoutMs: 0,
        retry: null,
        rewrite: null,
        mirrors: Object.freeze([]),
      }),
      requestHeaders: null,
      responseHeaders: null,
      filters: NO_ROUTE_FILTERS,
      source: POLICY_SOURCE,
    })
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

// ---------------------------------------------------------------- services and hosts

/** Registry services this proxy may reach: exported to its namespace and within its Sidecar scope (already applied to the registry), one per hostname. */
function visibleServices(ctx: CompileContext): RegistryService[] {
  const seen = new Set<string>();
  const out: RegistryService[] = [];
  for (const s of ctx.registry.services) {
    if (seen.has(s.hostname)) continue;
    const chosen = ctx.registry.lookup(s.hostname, ctx.workload.namespace);
    if (chosen === undefined || chosen.hostname !== s.hostname) continue;
    seen.add(s.hostname);
    out.push(chosen);
  }
  return out;
}

function vsHosts(ctx: CompileContext, vs: VS): string[] {
  return (vs.spec.hosts ?? []).map((h) => normalizeHost(h, vs.namespace, ctx.workload.domainSuffix));
}

/** Does a rule's match-level `gateways` (or the VS's) keep it for the mesh? */
function meshBlock(vs: VS, blockGateways: readonly string[] | undefined): boolean {
  const gws = blockGateways !== undefined && blockGateways.length > 0 ? blockGateways : (vs.spec.gateways ?? ['mesh']);
  return gws.some((g) => gatewayRef(g, vs.namespace) === 'mesh');
}

/**
 * The names an application may use for a host: a Kubernetes service is also reachable as
 * `name.ns`, `name.ns.svc` and, from its own namespace, `name` (Istio's sidecar vhost domains).
 */
function hostAliases(host: string, workloadNamespace: string, domainSuffix: string): string[] {
  const suffix = `.svc.${domainSuffix}`;
  if (!host.endsWith(suffix)) return [host];
  const parts = host.slice(0, -suffix.length).split('.');
  if (parts.length !== 2) return [host];
  const [name, ns] = parts as [string, string];
  const out = [host, `${name}.${ns}.svc`, `${name}.${ns}`];
  if (ns === workloadNamespace) out.push(name);
  return out;
}

function resourceOf(ctx: CompileContext, origin: string): Resource | null {
  const m = /^(\w+) ([^/]+)\/(.+)$/.exec(origin);
  if (m === null) return null;
  return (ctx.store.get(m[1] as 'ServiceEntry', m[2]!, m[3]!) as Resource | undefined) ?? null;
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
      routes: [Object.freeze({
        name: 'default',
        match: MATCH_ANY,
        action: Object.freeze({
          kind: 'route' as const,
          clusters: Object.freeze([Object.freeze({ cluster: r.cluster, weight: 100, cumulative: 100, host: r.host, subset: '', port: r.port, requestHeaders: null, responseHeaders: null })]),
          totalWeight: 100,
          timeoutMs: 0,
          retry: compileRetryPolicy(undefined, ctx.mesh.defaultHttpRetryPolicy),
          rewrite: null,
          mirrors: Object.freeze([]),
        }),
        requestHeaders: null,
        responseHeaders: null,
        filters: NO_ROUTE_FILTERS,
        source: Object.freeze({ resource: svc.origin, file: pos.file, line: pos.line, col: pos.col, rule: -1, match: -1 }),
      })],
    });
  }
  const vhosts: VirtualHost[] = [...byHost.values()].map((v) => Object.freeze({ name: v.name, domains: Object.freeze(v.domains), routes: Object.freeze(v.routes), requireTls: false }));
  vhosts.push(catchAll);
  return indexRouteConfiguration(String(port), vhosts);
}

// ---------------------------------------------------------------- CONNECT (L4) tables

function keepL4(ctx: CompileContext, vs: VS, m: L4MatchAttributes | undefined, port: number): boolean {
  if (!meshBlock(vs, m?.gateways)) return false;
  if (m === undefined) return true;
  if (m.port !== undefined && m.port !== port) return false;
  if (m.sourceLabels !== undefined && !selectorMatches(m.sourceLabels, ctx.workload.labels)) return false;
  if (m.sourceNamespace !== undefined && m.sourceNamespace !== ctx.workload.namespace) return false;
  return true;
}

function weighted(ctx: CompileContext, vs: VS, at: (string | number)[], route: readonly RouteDestination[], port: number): { clusters: WeightedCluster[]; total: number } {
  let cumulative = 0;
  const clusters = route.map((d, i) => {
    const r = ensureCluster(ctx, vs, [...at, 'route', i, 'destination'], d.destination, port);
    const weight = route.length === 1 ? 100 : (d.weight ?? 0);
    cumulative += weight;
    return Object.freeze({ cluster: r.cluster, weight, cumulative, host: r.host, subset: d.destination.subset ?? '', port: r.port, requestHeaders: null, responseHeaders: null });
  });
  return { clusters, total: cumulative };
}

/**
 * `port` 0 builds the table for ports no service or rule names: only rules without a `port`
 * match apply there, and no service does.
 */
function buildL4Table(ctx: CompileContext, scope: SidecarScope, port: number, virtualServices: readonly VS[], services: readonly RegistryService[]): OutboundL4Table {
  const tlsRoutes: OutboundL4Route[] = [];
  const tcpRoutes: OutboundL4Route[] = [];
  for (const vs of virtualServices) {
    const hosts = vsHosts(ctx, vs);
    (vs.spec.tls ?? []).forEach((rule, ruleIndex) => {
      rule.match.forEach((m, matchIndex) => {
        if (port === 0 ? m.port !== undefined || !meshBlock(vs, m.gateways) : !keepL4(ctx, vs, m, port)) return;
        const sni = m.sniHosts.map((h) => normalizeHost(h, vs.namespace, ctx.workload.domainSuffix));
        const at = ['spec', 'tls', ruleIndex];
        const { clusters, total } = weighted(ctx, vs, at, rule.route ?? [], port);
        const route = l4Route(vs, `${vs.namespace}.${vs.name}.tls.${ruleIndex}`, sni, m.destinationSubnets ?? [], clusters, total, at, matchIndex);
        tlsRoutes.push(Object.freeze({ route, hosts: Object.freeze(hosts), upstreamTls: Object.freeze(clusters.map((c) => l4UpstreamTls(ctx, c, sni, 'tls'))) }));
      });
    });
    (vs.spec.tcp ?? []).forEach((rule, ruleIndex) => {
      const blocks = rule.match !== undefined && rule.match.length > 0 ? rule.match : [undefined];
      blocks.forEach((m, matchIndex) => {
        if (port === 0 ? m?.port !== undefined || !meshBlock(vs, m?.gateways) : !keepL4(ctx, vs, m, port)) return;
        const at = ['spec', 'tcp', ruleIndex];
        const { clusters, total } = weighted(ctx, vs, at, rule.route ?? [], port);
        const route = l4Route(vs, `${vs.namespace}.${vs.name}.tcp.${ruleIndex}`, [], m?.destinationSubnets ?? [], clusters, total, at, m === undefined ? -1 : matchIndex);
        tcpRoutes.push(Object.freeze({ route, hosts: Object.freeze(hosts), upstreamTls: Object.freeze(clusters.map((c) => l4UpstreamTls(ctx, c, hosts, 'tcp'))) }));
      });
    });
  }
  const svcEntries: OutboundService[] = [];
  let tlsService = false;
  for (const svc of services) {
    const sp = svc.ports.find((p) => p.number === port);
    if (sp === undefined || !scope.allowsService(svc, port)) continue;
    const owner = resourceOf(ctx, svc.origin);
    if (owner === null) continue;
    const r = ensureCluster(ctx, owner, ['spec'], { host: svc.hostname, port: { number: port } }, port);
    if (sp.protocol === 'HTTPS' || sp.protocol === 'TLS') tlsService = true;
    svcEntries.push(Object.freeze({ host: svc.hostname, cluster: r.cluster, upstreamTls: ctx.clusters.get(r.cluster)?.tls ?? null }));
  }
  // Exact names before wildcards, longer wildcards first: the most specific service wins.
  svcEntries.sort((a, b) => Number(a.host.startsWith('*')) - Number(b.host.startsWith('*')) || b.host.length - a.host.length);
  return Object.freeze({
    port,
    inspectTls: tlsRoutes.length > 0 || tlsService || port === 443,
    tlsRoutes: Object.freeze(tlsRoutes),
    tcpRoutes: Object.freeze(tcpRoutes),
    services: Object.freeze(svcEntries),
  });
}

function l4Route(vs: VS, name: string, sniHosts: readonly string[], subnets: readonly string[], clusters: readonly WeightedCluster[], total: number, at: (string | number)[], matchIndex: number): L4Route {
  const pos = vs.pos(matchIndex >= 0 ? [...at, 'match', matchIndex] : at);
  return Object.freeze({
    name,
    sniHosts: Object.freeze([...new Set(sniHosts)]),
    destinationSubnets: Object.freeze([...subnets]),
    clusters: Object.freeze([...clusters]),
    totalWeight: total,
    source: Object.freeze({ resource: resourceRef(vs), file: pos.file, line: pos.line, col: pos.col, rule: Number(at[2]), match: matchIndex }),
  });
}

// ---------------------------------------------------------------- mesh TLS towards gateways

/**
 * The Gateway servers a service's workloads serve on `port`: Gateways whose selector matches
 * the service's pods (the Service selector, or its endpoints' labels). This is how a sidecar
 * knows that `istio-egressgateway:443` expects ISTIO_MUTUAL for one host and passthrough for
 * another.
 */
function gatewayServersFor(ctx: CompileContext, host: string, port: number): Server[] {
  const svc = ctx.registry.lookup(host, ctx.workload.namespace);
  if (svc === undefined) return [];
  const labelSets: Readonly<Record<string, string>>[] = [];
  if (svc.kubernetes) {
    const k8s = ctx.store.get('Service', svc.namespace, svc.hostname.split('.')[0]!);
    if (k8s?.spec.selector !== undefined) labelSets.push(k8s.spec.selector);
  }
  for (const e of svc.endpoints) if (Object.keys(e.labels).length > 0) labelSets.push(e.labels);
  if (labelSets.length === 0) return [];
  const out: Server[] = [];
  for (const gw of ctx.store.list('Gateway')) {
    const sel = gw.spec.selector ?? {};
    if (Object.keys(sel).length === 0 || !labelSets.some((l) => selectorMatches(sel, l))) continue;
    for (const s of gw.spec.servers) if (s.port.number === port) out.push(s);
  }
  return out;
}

function serverHostNames(s: Server): string[] {
  return s.hosts.map((h) => (h.includes('/') ? h.slice(h.indexOf('/') + 1) : h).toLowerCase());
}

function intersectsAny(a: readonly string[], b: readonly string[]): boolean {
  return a.some((x) => b.some((y) => x === '*' || y === '*' || intersectHosts(x, y) !== null));
}

function meshClientTls(ctx: CompileContext, host: string, sni: string | null): ClientTls {
  meshSecret(ctx); // registers `default` (or its error) in the snapshot's secrets
  const svc = ctx.registry.lookup(host, ctx.workload.namespace);
  const sans = svc === undefined ? [] : expectedMeshIdentities(ctx, svc, svc.endpoints.map((e) => ({ address: e.address, port: 0, weight: e.weight, labels: e.labels, locality: e.locality, serviceAccount: e.serviceAccount })));
  return Object.freeze({ mode: 'ISTIO_MUTUAL', sni, autoSni: sni === null, subjectAltNames: Object.freeze(sans), caSecret: 'default', certSecret: 'default', insecureSkipVerify: false });
}

/**
 * TLS for one hop of a CONNECT tunnel. A destination Gateway server for these hosts decides:
 * ISTIO_MUTUAL (a `TLS` server terminating mesh mTLS, then `tcp` routes) → wrap the tunnel in
 * mesh mTLS with that SNI; PASSTHROUGH or TCP → bytes as they are (Istio's egress patterns).
 * Otherwise the cluster's own TLS (DestinationRule, auto mTLS) applies.
 */
function l4UpstreamTls(ctx: CompileContext, c: WeightedCluster, routeHosts: readonly string[], kind: 'tls' | 'tcp'): ClientTls | null {
  const servers = gatewayServersFor(ctx, c.host, c.port).filter((s) => intersectsAny(serverHostNames(s), routeHosts));
  if (servers.length > 0) {
    const plain = servers.find((s) => s.tls === undefined || s.tls.mode === undefined || s.tls.mode === 'PASSTHROUGH' || s.tls.mode === 'AUTO_PASSTHROUGH');
    if (plain !== undefined) return null;
    const mutual = servers.find((s) => s.tls?.mode === 'ISTIO_MUTUAL');
    if (mutual !== undefined) {
      // tls rules keep the application's SNI (known per connection); tcp rules send the host.
      const concrete = kind === 'tcp' ? serverHostNames(mutual).find((h) => !h.startsWith('*') && routeHosts.some((r) => hostCovers(r, h) || r === h)) ?? null : null;
      return meshClientTls(ctx, c.host, concrete);
    }
  }
  return ctx.clusters.get(c.cluster)?.tls ?? null;
}

/**
 * HTTP towards a gateway that terminates mesh mTLS: when the destination cluster has no TLS of
 * its own (no DestinationRule `tls`, no auto mTLS) and a Gateway selecting the destination's
 * workloads serves ISTIO_MUTUAL on that port, the sidecar originates ISTIO_MUTUAL with the
 * request's host as SNI, so the gateway's server chain for that host is chosen. Istio needs a
 * DestinationRule `tls: {mode: ISTIO_MUTUAL, sni: <host>}` for this (the seed's Part 2 has
 * none, and Istio would send plaintext into the mTLS server); the warning says so.
 */
export function inferGatewayMeshTls(ctx: CompileContext, routeConfigs: ReadonlyMap<string, RouteConfiguration>): void {
  const done = new Set<string>();
  for (const rc of routeConfigs.values()) {
    for (const vh of rc.virtualHosts) {
      for (const r of vh.routes) {
        if (r.action.kind !== 'route') continue;
        for (const wc of r.action.clusters) {
          if (done.has(wc.cluster)) continue;
          done.add(wc.cluster);
          const cluster = ctx.clusters.get(wc.cluster);
          if (cluster === undefined || cluster.tls !== null || cluster.type === 'original_dst') continue;
          const servers = gatewayServersFor(ctx, cluster.serviceHost, cluster.port);
          const mutual = servers.filter((s) => (s.port.protocol.toUpperCase() === 'HTTPS') && s.tls?.mode === 'ISTIO_MUTUAL');
          if (mutual.length === 0) continue;
          ctx.clusters.set(cluster.name, Object.freeze({ ...cluster, tls: meshClientTls(ctx, cluster.serviceHost, null), origins: Object.freeze([...cluster.origins, 'Gateway ISTIO_MUTUAL server (inferred)']) }));
          const owner = resourceOf(ctx, r.source.resource);
          const hosts = [...new Set(mutual.flatMap(serverHostNames))].join(', ');
          if (owner !== null) {
            ctx.report(owner, ['spec'], 'SLU0501', 'warning',
              `${cluster.name}: the gateway serves ISTIO_MUTUAL on port ${cluster.port} (hosts ${hosts}) but no DestinationRule sets tls for ${cluster.serviceHost}; Sluice originates ISTIO_MUTUAL with the request host as SNI, Istio would send plaintext and the gateway would refuse it`,
              `add a DestinationRule for ${cluster.serviceHost} with trafficPolicy.portLevelSettings [{port: {number: ${cluster.port}}, tls: {mode: ISTIO_MUTUAL, sni: <host>}}]`);
          }
        }
      }
    }
  }
}
