import type { PeerAuthenticationSpec } from '../api/types.js';
import type { Resource } from '../config/resource.js';
import { resourceRef } from '../config/resource.js';
import type { CompileContext } from './context.js';
import { indexRouteConfiguration } from './http-routes.js';
import { DEFAULT_LISTENER_POLICIES, type ListenerPolicies } from './policies.js';
import { inferProtocol } from './registry.js';
import { meshSecret } from './secrets.js';
import { catchAllRoute, SIDECAR_POOL, soleCluster } from './sidecar-common.js';
import type { InboundConfig, PeerMtlsMode } from './sidecar-snapshot.js';
import type { Cluster, FilterChain, L4Route, Listener, RouteConfiguration, RouteSource, ServerTls } from './snapshot.js';
import { selectorMatches } from './visibility.js';

const APP_PORT_SOURCE: RouteSource = Object.freeze({ resource: '--app-port', file: '', line: 0, col: 0, rule: -1, match: -1 });

/**
 * The sidecar's inbound side: `--inbound-port` accepts mesh mTLS (and plaintext, per
 * PeerAuthentication) and forwards to the application on `--app-port` through the
 * `inbound|<port>||` cluster — HTTP through the connection manager (so authorization sees the
 * caller's SPIFFE identity) or TCP as bytes.
 */
export function buildSidecarInbound(ctx: CompileContext, routeConfigs: Map<string, RouteConfiguration>, inboundPort: number, appPort: number, policies: ListenerPolicies = DEFAULT_LISTENER_POLICIES): InboundConfig {
  const { mode, from } = effectivePeerAuthentication(ctx, appPort);
  const clusterName = `inbound|${appPort}||`;
  const target = soleCluster(clusterName, '', appPort);
  ctx.clusters.set(clusterName, Object.freeze<Cluster>({
    name: clusterName,
    serviceHost: '',
    subset: '',
    port: appPort,
    type: 'eds',
    endpoints: Object.freeze([Object.freeze({ address: '127.0.0.1', port: appPort, weight: 1, labels: ctx.workload.labels, locality: '', serviceAccount: ctx.workload.serviceAccount })]),
    protocol: 'http1',
    lb: Object.freeze({ policy: 'ROUND_ROBIN', hash: null }),
    pool: SIDECAR_POOL,
    outlier: null,
    tls: null,
    meshExternal: false,
    origins: Object.freeze(['--app-port']),
  }));
  routeConfigs.set(clusterName, indexRouteConfiguration(clusterName, [Object.freeze({
    name: `inbound|http|${appPort}`,
    domains: Object.freeze(['*']),
    routes: Object.freeze([catchAllRoute('default', target, null, APP_PORT_SOURCE)]),
    requireTls: false,
  })]));

  let tls: ServerTls | null = null;
  if (mode !== 'DISABLE') {
    const secret = meshSecret(ctx);
    if (secret.error === null) {
      tls = Object.freeze({
        mode: 'ISTIO_MUTUAL', certificates: Object.freeze(['default']), caSecret: 'default', subjectAltNames: Object.freeze([]),
        verifyCertificateSpki: Object.freeze([]), verifyCertificateHash: Object.freeze([]), minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3',
        cipherSuites: Object.freeze([]), alpn: Object.freeze(['h2', 'http/1.1']),
      });
    } else if (from !== null) {
      const pa = ctx.store.list('PeerAuthentication').find((p) => resourceRef(p) === from);
      if (pa !== undefined) ctx.report(pa, ['spec', 'mtls', 'mode'], 'SLU0422', 'warning', `${mode} mTLS on port ${appPort} needs this proxy's mesh certificate: ${secret.error}; ${mode === 'STRICT' ? 'every connection is refused' : 'only plaintext is accepted'}`, 'start sluice with --mesh-ca-dir DIR');
    }
  }
  const route: L4Route = Object.freeze({
    name: clusterName,
    sniHosts: Object.freeze([]),
    destinationSubnets: Object.freeze([]),
    clusters: Object.freeze([target]),
    totalWeight: 100,
    source: APP_PORT_SOURCE,
  });
  const httpChain: FilterChain = Object.freeze({ name: `inbound|${appPort}|http`, serverNames: Object.freeze([]), tls, kind: 'http', routeConfigName: clusterName, l4Routes: Object.freeze([]), httpsRedirect: false, policies, origin: null });
  const tcpChain: FilterChain = Object.freeze({ name: `inbound|${appPort}|tcp`, serverNames: Object.freeze([]), tls, kind: 'tcp', routeConfigName: null, l4Routes: Object.freeze([route]), httpsRedirect: false, policies, origin: null });
  const listener: Listener = Object.freeze({
    name: 'virtualInbound',
    address: ctx.workload.listenHost,
    port: appPort,
    bindPort: inboundPort,
    filterChains: Object.freeze([httpChain, tcpChain]),
    inspectsTls: mode !== 'DISABLE',
  });
  return Object.freeze({ listener, httpChain, tcpChain, appPort, mode, modeFrom: from, protocol: appProtocol(ctx, appPort) });
}

/**
 * PeerAuthentication for this workload and port, with Istio's precedence: the oldest policy
 * selecting the workload, else the namespace's selector-less one, else the root namespace's;
 * `UNSET` inherits from the next level; the workload policy's `portLevelMtls` for the port
 * wins over its `mtls`. The default is PERMISSIVE.
 */
export function effectivePeerAuthentication(ctx: CompileContext, port: number): { mode: PeerMtlsMode; from: string | null } {
  const wl = ctx.workload;
  const all = ctx.store.list('PeerAuthentication');
  const hasSelector = (p: Resource<'PeerAuthentication'>): boolean => Object.keys(p.spec.selector?.matchLabels ?? {}).length > 0;
  const root = all.find((p) => p.namespace === wl.rootNamespace && !hasSelector(p));
  const ns = all.find((p) => p.namespace === wl.namespace && !hasSelector(p));
  const workload = all.find((p) => p.namespace === wl.namespace && hasSelector(p) && selectorMatches(p.spec.selector!.matchLabels, wl.labels));
  let mode: PeerMtlsMode = 'PERMISSIVE';
  let from: string | null = null;
  const apply = (p: Resource<'PeerAuthentication'> | undefined, m: NonNullable<PeerAuthenticationSpec['mtls']>['mode'] | undefined): void => {
    if (p === undefined || m === undefined || m === 'UNSET') return;
    mode = m;
    from = resourceRef(p);
  };
  apply(root, root?.spec.mtls?.mode);
  if (ns !== root) apply(ns, ns?.spec.mtls?.mode);
  apply(workload, workload?.spec.mtls?.mode);
  apply(workload, workload?.spec.portLevelMtls?.[String(port)]?.mode);
  return { mode, from };
}

/** The protocol of the Service port that targets the application port, if a Service selects this workload. */
function appProtocol(ctx: CompileContext, appPort: number): 'http' | 'tcp' | '' {
  for (const svc of ctx.store.list('Service')) {
    if (svc.namespace !== ctx.workload.namespace || svc.spec.selector === undefined || !selectorMatches(svc.spec.selector, ctx.workload.labels)) continue;
    for (const p of svc.spec.ports ?? []) {
      const target = typeof p.targetPort === 'number' ? p.targetPort : p.port;
      if (target !== appPort) continue;
      const proto = inferProtocol(p.name, p.appProtocol);
      if (proto === 'HTTP' || proto === 'HTTP2' || proto === 'GRPC' || proto === 'GRPC-WEB') return 'http';
      if (proto !== '') return 'tcp';
    }
  }
  return '';
}
