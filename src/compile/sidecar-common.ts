import type { Resource } from '../config/resource.js';
import type { CompileContext } from './context.js';
import { normalizeHost } from './hosts.js';
import { MATCH_ANY } from './match/route-match.js';
import { gatewayRef } from './names.js';
import { NO_ROUTE_FILTERS } from './policies.js';
import type { RegistryService } from './registry.js';
import type { ConnectionPool, RetryPolicy, Route, RouteSource, WeightedCluster } from './snapshot.js';

// Helpers shared by the sidecar's outbound builders.

export type VS = Resource<'VirtualService'>;
export const MESH: ReadonlySet<string> = new Set(['mesh']);
/** Registry services this proxy may reach: exported to its namespace and within its Sidecar scope (already applied to the registry), one per hostname. */
export function visibleServices(ctx: CompileContext): RegistryService[] {
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

export function vsHosts(ctx: CompileContext, vs: VS): string[] {
  return (vs.spec.hosts ?? []).map((h) => normalizeHost(h, vs.namespace, ctx.workload.domainSuffix));
}

/** Does a rule's match-level `gateways` (or the VS's) keep it for the mesh? */
export function meshBlock(vs: VS, blockGateways: readonly string[] | undefined): boolean {
  const gws = blockGateways !== undefined && blockGateways.length > 0 ? blockGateways : (vs.spec.gateways ?? ['mesh']);
  return gws.some((g) => gatewayRef(g, vs.namespace) === 'mesh');
}

/**
 * The names an application may use for a host: a Kubernetes service is also reachable as
 * `name.ns`, `name.ns.svc` and, from its own namespace, `name` (Istio's sidecar vhost domains).
 */
export function hostAliases(host: string, workloadNamespace: string, domainSuffix: string): string[] {
  const suffix = `.svc.${domainSuffix}`;
  if (!host.endsWith(suffix)) return [host];
  const parts = host.slice(0, -suffix.length).split('.');
  if (parts.length !== 2) return [host];
  const [name, ns] = parts as [string, string];
  const out = [host, `${name}.${ns}.svc`, `${name}.${ns}`];
  if (ns === workloadNamespace) out.push(name);
  return out;
}

export function resourceOf(ctx: CompileContext, origin: string): Resource | null {
  const m = /^(\w+) ([^/]+)\/(.+)$/.exec(origin);
  if (m === null) return null;
  return (ctx.store.get(m[1] as 'ServiceEntry', m[2]!, m[3]!) as Resource | undefined) ?? null;
}

const MAX_U32 = 2 ** 32 - 1;

/**
 * The pool of the clusters a sidecar makes itself (`inbound|<port>||`, PassthroughCluster):
 * no circuit breaking, Envoy's 10 s connect timeout, Istio's 1 h idle timeout.
 */
export const SIDECAR_POOL: ConnectionPool = Object.freeze({ maxConnections: MAX_U32, connectTimeoutMs: 10_000, maxPendingRequests: MAX_U32, maxRequests: MAX_U32, maxRequestsPerConnection: 0, maxRetries: MAX_U32, idleTimeoutMs: 3_600_000, maxConnectionDurationMs: 0, h2Upgrade: false, useClientProtocol: false });

/** `cluster` as the only destination of a route (weight 100). */
export function soleCluster(cluster: string, host: string, port: number): WeightedCluster {
  return Object.freeze({ cluster, weight: 100, cumulative: 100, host, subset: '', port, requestHeaders: null, responseHeaders: null });
}

/** A route that sends every request to one cluster: the application's inbound route, `allow_any`, a service's default route. */
export function catchAllRoute(name: string, target: WeightedCluster, retry: RetryPolicy | null, source: RouteSource): Route {
  return Object.freeze({
    name,
    match: MATCH_ANY,
    action: Object.freeze({
      kind: 'route' as const,
      clusters: Object.freeze([target]),
      totalWeight: 100,
      timeoutMs: 0,
      retry,
      rewrite: null,
      mirrors: Object.freeze([]),
    }),
    requestHeaders: null,
    responseHeaders: null,
    filters: NO_ROUTE_FILTERS,
    source,
  });
}
