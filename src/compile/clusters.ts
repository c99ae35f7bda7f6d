import type { ClientTLSSettings, ConnectionPoolSettings, Destination, DestinationRuleSpec, LoadBalancerSettings, OutlierDetection, TrafficPolicy } from '../api/types.js';
import type { Resource } from '../config/resource.js';
import { resourceRef } from '../config/resource.js';
import type { CompileContext } from './context.js';
import { durationMsOr } from './duration.js';
import { hostCovers, normalizeHost } from './hosts.js';
import { expectedMeshIdentities } from './mesh-identities.js';
import { clusterName } from './names.js';
import { endpointPort, type RegistryService, type ServicePortInfo } from './registry.js';
import { meshSecret, resolveCredential, resolveCredentialCa, resolveFiles } from './secrets.js';
import type { ClientTls, Cluster, ConnectionPool, Endpoint, LoadBalancer, OutlierDetectionConfig, UpstreamProtocol } from './snapshot.js';
import { isVisible, selectorMatches } from './visibility.js';

const MAX_U32 = 2 ** 32 - 1;

export interface ResolvedDestination {
  readonly cluster: string;
  readonly host: string;
  readonly port: number;
  readonly service: RegistryService | undefined;
}

/**
 * Resolves a route destination to its cluster name as Istio does (host normalised against the
 * rule's namespace; port = explicit, else the service's only port, else the listener port) and
 * builds the cluster once. A destination that names no known service or port still gets its
 * name — the route then answers 503 NC, as Envoy does for a missing cluster.
 */
export function ensureCluster(ctx: CompileContext, owner: Resource, at: (string | number)[], d: Destination, listenerPort: number): ResolvedDestination {
  const host = normalizeHost(d.host, owner.namespace, ctx.workload.domainSuffix);
  const service = ctx.registry.lookup(host, ctx.workload.namespace);
  let port = listenerPort;
  if (d.port?.number !== undefined) port = d.port.number;
  else if (service !== undefined && service.ports.length === 1) port = service.ports[0]!.number;
  const subset = d.subset ?? '';
  const name = clusterName(port, subset, host);
  if (ctx.clusters.has(name)) return { cluster: name, host, port, service };
  if (service === undefined) {
    ctx.report(owner, [...at, 'host'], 'IST0101', 'warning', `destination host ${host} is not in the service registry; requests routed to it get 503 (NC)`, 'add a ServiceEntry (or a Service with Endpoints) for this host, or fix the host name');
    return { cluster: name, host, port, service };
  }
  const svcPort = service.ports.find((p) => p.number === port);
  if (svcPort === undefined) {
    ctx.report(owner, [...at, 'port'], service.ports.length > 1 && d.port === undefined ? 'IST0112' : 'IST0101', 'warning',
      `${host} has no port ${port} (ports: ${service.ports.map((p) => p.number).join(', ') || 'none'}); requests routed here get 503 (NC)`,
      `set destination.port.number to one of ${service.ports.map((p) => p.number).join(', ')}`);
    return { cluster: name, host, port, service };
  }
  const cluster = buildCluster(ctx, owner, at, name, host, subset, svcPort, service);
  if (cluster !== null) ctx.clusters.set(name, cluster);
  return { cluster: name, host, port, service };
}

// ---------------------------------------------------------------- DestinationRule lookup

interface MergedRule {
  readonly spec: DestinationRuleSpec;
  readonly origins: string[];
  readonly rule: Resource<'DestinationRule'>;
}

/**
 * Istio's lookup: a rule in the proxy's namespace, else one exported from the service's
 * namespace, else one exported from the root namespace. In each namespace an exact host beats
 * the most specific wildcard, and same-host rules merge (subsets unioned, first policy kept).
 */
export function findDestinationRule(ctx: CompileContext, host: string, serviceNamespace: string): MergedRule | null {
  const viewer = ctx.workload.namespace;
  const index = destinationRuleIndex(ctx);
  const applies = (dr: Resource<'DestinationRule'>): boolean => {
    if (!isVisible(dr.spec.exportTo ?? [], dr.namespace, viewer)) return false;
    return dr.spec.workloadSelector?.matchLabels === undefined || (dr.namespace === viewer && selectorMatches(dr.spec.workloadSelector.matchLabels, ctx.workload.labels));
  };
  for (const ns of [viewer, serviceNamespace, ctx.workload.rootNamespace]) {
    const inNs = index.get(ns);
    if (inNs === undefined) continue;
    const exact = (inNs.exact.get(host) ?? []).filter(applies);
    let pool = exact;
    if (pool.length === 0) {
      const covering = inNs.wildcards.filter((w) => hostCovers(w.host, host) && applies(w.dr));
      if (covering.length === 0) continue;
      const best = Math.max(...covering.map((w) => w.host.length));
      pool = covering.filter((w) => w.host.length === best).map((w) => w.dr);
    }
    const first = pool[0]!;
    const subsets = new Map<string, NonNullable<DestinationRuleSpec['subsets']>[number]>();
    for (const dr of pool) for (const s of dr.spec.subsets ?? []) if (!subsets.has(s.name)) subsets.set(s.name, s);
    const spec: DestinationRuleSpec = { ...first.spec, subsets: [...subsets.values()] };
    return { spec, origins: pool.map(resourceRef), rule: first };
  }
  return null;
}

interface NamespaceRules {
  /** Rules by normalised host, in store ("oldest first") order. */
  readonly exact: Map<string, Resource<'DestinationRule'>[]>;
  /** Rules whose host is a wildcard (`*.x`, `*`), with the normalised host. */
  readonly wildcards: { readonly host: string; readonly dr: Resource<'DestinationRule'> }[];
}

// Per config version (the store's list is immutable) and domain suffix: one pass over the rules
// instead of one per cluster, which made compiling a thousand rules quadratic.
const drIndexes = new WeakMap<readonly Resource<'DestinationRule'>[], Map<string, Map<string, NamespaceRules>>>();

function destinationRuleIndex(ctx: CompileContext): Map<string, NamespaceRules> {
  const list = ctx.store.list('DestinationRule');
  const suffix = ctx.workload.domainSuffix;
  let bySuffix = drIndexes.get(list);
  if (bySuffix === undefined) drIndexes.set(list, (bySuffix = new Map()));
  let index = bySuffix.get(suffix);
  if (index !== undefined) return index;
  index = new Map();
  for (const dr of list) {
    let inNs = index.get(dr.namespace);
    if (inNs === undefined) index.set(dr.namespace, (inNs = { exact: new Map(), wildcards: [] }));
    const host = normalizeHost(dr.spec.host, dr.namespace, suffix);
    if (host.startsWith('*')) inNs.wildcards.push({ host, dr });
    else {
      const same = inNs.exact.get(host);
      if (same === undefined) inNs.exact.set(host, [dr]);
      else same.push(dr);
    }
  }
  bySuffix.set(suffix, index);
  return index;
}


/** Policy for (port, subset): subset port-level > subset > port-level > top, per sub-message. */
export function effectivePolicy(spec: DestinationRuleSpec | null, port: number, subset: string): TrafficPolicy {
  if (spec === null) return {};
  let out: TrafficPolicy = overlay({}, spec.trafficPolicy, port);
  if (subset !== '') {
    const s = spec.subsets?.find((x) => x.name === subset);
    if (s !== undefined) out = overlay(out, s.trafficPolicy, port);
  }
  return out;
}

function overlay(base: TrafficPolicy, p: TrafficPolicy | undefined, port: number): TrafficPolicy {
  if (p === undefined) return base;
  const out: TrafficPolicy = { ...base };
  if (p.loadBalancer !== undefined) out.loadBalancer = p.loadBalancer;
  if (p.connectionPool !== undefined) out.connectionPool = p.connectionPool;
  if (p.outlierDetection !== undefined) out.outlierDetection = p.outlierDetection;
  if (p.tls !== undefined) out.tls = p.tls;
  if (p.proxyProtocol !== undefined) out.proxyProtocol = p.proxyProtocol;
  const pl = p.portLevelSettings?.find((x) => x.port?.number === port);
  if (pl !== undefined) {
    if (pl.loadBalancer !== undefined) out.loadBalancer = pl.loadBalancer;
    if (pl.connectionPool !== undefined) out.connectionPool = pl.connectionPool;
    if (pl.outlierDetection !== undefined) out.outlierDetection = pl.outlierDetection;
    if (pl.tls !== undefined) out.tls = pl.tls;
  }
  return out;
}

// ---------------------------------------------------------------- cluster build

function buildCluster(ctx: CompileContext, owner: Resource, at: (string | number)[], name: string, host: string, subset: string, svcPort: ServicePortInfo, service: RegistryService): Cluster | null {
  const rule = findDestinationRule(ctx, host, service.namespace);
  const origins = [service.origin, ...(rule?.origins ?? [])];
  let labels: Readonly<Record<string, string>> | undefined;
  if (subset !== '') {
    const s = rule?.spec.subsets?.find((x) => x.name === subset);
    if (s === undefined) {
      ctx.report(owner, [...at, 'subset'], 'IST0101', 'warning', `subset ${subset} of ${host} is not defined by any DestinationRule visible here; requests routed to it get 503 (NC)`, rule === null ? `add a DestinationRule for ${host} with subset ${subset}` : `add subset ${subset} to ${resourceRef(rule.rule)}`);
      return null;
    }
    labels = s.labels ?? {};
  }
  const policy = effectivePolicy(rule?.spec ?? null, svcPort.number, subset);
  const endpoints: Endpoint[] = [];
  for (const ep of service.endpoints) {
    if (labels !== undefined && !selectorMatches(labels, ep.labels)) continue;
    endpoints.push(Object.freeze({ address: ep.address, port: endpointPort(ep, svcPort), weight: ep.weight, labels: ep.labels, locality: ep.locality, serviceAccount: ep.serviceAccount }));
  }
  if (service.resolution === 'DNS_ROUND_ROBIN' && endpoints.length > 1) endpoints.length = 1;
  const type: Cluster['type'] = service.resolution === 'NONE' && endpoints.length === 0 ? 'original_dst'
    : service.resolution === 'DNS' || service.resolution === 'DNS_ROUND_ROBIN' ? 'strict_dns' : 'eds';
  const pool = compilePool(policy.connectionPool, ctx);
  let protocol: UpstreamProtocol = svcPort.protocol === 'HTTP2' || svcPort.protocol === 'GRPC' || svcPort.protocol === 'GRPC-WEB' ? 'http2' : svcPort.protocol === '' ? 'auto' : 'http1';
  const tls = compileClientTls(ctx, policy.tls, service, endpoints);
  if (tls !== null && rule !== null && tls.mode !== 'ISTIO_MUTUAL') {
    // A credential that cannot be used: every connection fails (503 UF); say so at load.
    for (const n of [tls.certSecret, tls.caSecret]) {
      const e = n === null ? null : ctx.secrets.get(n)?.error ?? null;
      if (e !== null) ctx.report(rule.rule, ['spec', 'trafficPolicy', 'tls'], 'SLU0210', 'warning', `TLS origination to ${host}: ${e}; requests to this destination get 503 (UF)`, 'fix the credentialName Secret or the certificate file paths');
    }
  }
  if (pool.useClientProtocol) protocol = 'auto';
  else if (pool.h2Upgrade && protocol === 'http1' && svcPort.protocol === 'HTTP') protocol = 'http2';
  return Object.freeze({
    name,
    serviceHost: host,
    subset,
    port: svcPort.number,
    type,
    endpoints: Object.freeze(endpoints),
    protocol,
    lb: compileLb(policy.loadBalancer),
    pool,
    outlier: compileOutlier(policy.outlierDetection),
    tls,
    meshExternal: service.location === 'MESH_EXTERNAL',
    origins: Object.freeze(origins),
  });
}

function compilePool(cp: ConnectionPoolSettings | undefined, ctx: CompileContext): ConnectionPool {
  const meshUpgrade = ctx.mesh.h2UpgradePolicy === 'UPGRADE';
  const policy = cp?.http?.h2UpgradePolicy ?? 'DEFAULT';
  return Object.freeze({
    maxConnections: cp?.tcp?.maxConnections ?? MAX_U32,
    connectTimeoutMs: durationMsOr(cp?.tcp?.connectTimeout ?? (ctx.mesh.connectTimeout as string | undefined), 10_000),
    maxPendingRequests: cp?.http?.http1MaxPendingRequests ?? MAX_U32,
    maxRequests: cp?.http?.http2MaxRequests ?? MAX_U32,
    maxRequestsPerConnection: cp?.http?.maxRequestsPerConnection ?? 0,
    maxRetries: cp?.http?.maxRetries ?? MAX_U32,
    idleTimeoutMs: durationMsOr(cp?.http?.idleTimeout ?? cp?.tcp?.idleTimeout, 3_600_000),
    maxConnectionDurationMs: durationMsOr(cp?.tcp?.maxConnectionDuration, 0),
    h2Upgrade: policy === 'UPGRADE' || (policy === 'DEFAULT' && meshUpgrade),
    useClientProtocol: cp?.http?.useClientProtocol === true,
    maxConcurrentStreams: cp?.http?.maxConcurrentStreams ?? 2 ** 31 - 1,
  });
}

function compileLb(lb: LoadBalancerSettings | undefined): LoadBalancer {
  const ch = lb?.consistentHash;
  if (ch !== undefined) {
    const hash: NonNullable<LoadBalancer['hash']> = {
      ...(ch.httpHeaderName !== undefined ? { header: ch.httpHeaderName.toLowerCase() } : {}),
      ...(ch.httpCookie !== undefined ? { cookie: { name: ch.httpCookie.name, path: ch.httpCookie.path ?? '', ttlMs: durationMsOr(ch.httpCookie.ttl, 0) } } : {}),
      ...(ch.useSourceIp === true ? { sourceIp: true } : {}),
      ...(ch.httpQueryParameterName !== undefined ? { queryParameter: ch.httpQueryParameterName } : {}),
    };
    return Object.freeze({ policy: ch.maglev !== undefined ? 'MAGLEV' : 'RING_HASH', hash });
  }
  const s = lb?.simple;
  // LEAST_REQUEST is Istio's default since 1.14; LEAST_CONN is its deprecated alias.
  const policy = s === 'ROUND_ROBIN' ? 'ROUND_ROBIN' : s === 'RANDOM' ? 'RANDOM' : s === 'PASSTHROUGH' ? 'PASSTHROUGH' : 'LEAST_REQUEST';
  return Object.freeze({ policy, hash: null });
}

function compileOutlier(od: OutlierDetection | undefined): OutlierDetectionConfig | null {
  if (od === undefined) return null;
  return Object.freeze({
    consecutive5xx: od.consecutive5xxErrors ?? od.consecutiveErrors ?? 5,
    consecutiveGatewayErrors: od.consecutiveGatewayErrors ?? 0,
    consecutiveLocalOriginFailures: od.consecutiveLocalOriginFailures ?? 5,
    splitExternalLocalOriginErrors: od.splitExternalLocalOriginErrors === true,
    intervalMs: durationMsOr(od.interval, 10_000),
    baseEjectionTimeMs: durationMsOr(od.baseEjectionTime, 30_000),
    maxEjectionPercent: od.maxEjectionPercent ?? 10,
    minHealthPercent: od.minHealthPercent ?? 0,
  });
}

function compileClientTls(ctx: CompileContext, tls: ClientTLSSettings | undefined, service: RegistryService, endpoints: readonly Endpoint[]): ClientTls | null {
  const mode = tls?.mode;
  if (mode === 'DISABLE') return null;
  if (mode === undefined) {
    // Auto mTLS: ISTIO_MUTUAL towards mesh workloads (endpoints labelled tlsMode=istio), never
    // to MESH_EXTERNAL services.
    if (ctx.meshCa !== null && service.location === 'MESH_INTERNAL' && endpoints.length > 0 && endpoints.every((e) => e.labels['security.istio.io/tlsMode'] === 'istio')) {
      meshSecret(ctx);
      return Object.freeze({ mode: 'ISTIO_MUTUAL', sni: null, autoSni: false, subjectAltNames: Object.freeze(expectedMeshIdentities(ctx, service, endpoints)), caSecret: 'default', certSecret: 'default', insecureSkipVerify: false });
    }
    return null;
  }
  if (mode === 'ISTIO_MUTUAL') {
    meshSecret(ctx);
    // The peer must prove the destination's identity (DR subjectAltNames, else SE SANs, else endpoints' service accounts).
    return Object.freeze({ mode, sni: tls?.sni ?? null, autoSni: false, subjectAltNames: Object.freeze(tls?.subjectAltNames ?? expectedMeshIdentities(ctx, service, endpoints)), caSecret: 'default', certSecret: 'default', insecureSkipVerify: false });
  }
  let caSecret: string | null = null;
  let certSecret: string | null = null;
  if (tls?.credentialName !== undefined) {
    // Istio: CA from Secret <name>-cacert, else <name>; without one, the system roots verify.
    const ca = resolveCredentialCa(ctx, tls.credentialName);
    if (ca.error === null) caSecret = ca.name;
    if (mode === 'MUTUAL') certSecret = resolveCredential(ctx, tls.credentialName).name;
  } else {
    if (tls?.caCertificates !== undefined) caSecret = resolveFiles(ctx, undefined, undefined, tls.caCertificates).name;
    if (mode === 'MUTUAL') certSecret = resolveFiles(ctx, tls?.clientCertificate, tls?.privateKey, undefined).name;
  }
  return Object.freeze({
    mode,
    sni: tls?.sni ?? null,
    // Since 1.21: SNI from the request Host when `sni` is unset.
    autoSni: tls?.sni === undefined,
    subjectAltNames: Object.freeze([...(tls?.subjectAltNames ?? [])]),
    caSecret,
    certSecret,
    insecureSkipVerify: tls?.insecureSkipVerify === true,
  });
}
