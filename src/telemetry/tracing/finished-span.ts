// A finished gateway span, as Envoy's HTTP tracer fills it (HttpTracerUtility::finalizeDownstreamSpan)
// plus Istio's tags: exporters (Zipkin, OTLP) translate this one record.

import type { Route } from '../../compile/snapshot.js';
import type { TracingConfig } from '../../compile/telemetry/types.js';
import { getHeader } from '../../proxy/http/headers.js';
import { formatResponseFlags } from '../../proxy/http/response-flags.js';
import type { HttpStream } from '../../proxy/http/stream.js';
import type { ActiveSpan } from './context.js';

export interface FinishedSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** '' for a root span. */
  readonly parentId: string;
  readonly name: string;
  /** Gateways and sidecar outbound: CLIENT (Envoy's egress operation); sidecar inbound: SERVER. */
  readonly kind: 'CLIENT' | 'SERVER';
  /** ms since the epoch (fractional). */
  readonly startMs: number;
  readonly endMs: number;
  readonly serviceName: string;
  readonly localAddress: string;
  /** Envoy's standard tags, Istio's istio.* tags, then the custom tags. */
  readonly tags: Readonly<Record<string, string>>;
  /** HTTP status ≥ 500 (Envoy sets error=true). */
  readonly error: boolean;
}

// The decorator operation of a route is fixed per route: computed once.
const operations = new WeakMap<Route, string>();

/**
 * Istio's route decorator (route.go getRouteOperation): `host:port/path*` for a route to one
 * destination, `vs-name:port/path*` otherwise; the path part is the match's prefix + `*`, its
 * exact path or regex, else `/*`.
 */
export function routeOperation(route: Route, port: number): string {
  let op = operations.get(route);
  if (op !== undefined) return op;
  const pathCond = route.match.conditions.find((c) => c.kind === 'path');
  let path = '/*';
  if (pathCond !== undefined) path = pathCond.op === 'prefix' ? `${pathCond.value}*` : pathCond.value;
  const a = route.action;
  let host: string;
  if (a.kind === 'route' && a.clusters.length === 1) host = a.clusters[0]!.host;
  else host = route.source.resource.replace(/^VirtualService [^/]+\//, '');
  op = `${host}:${port}${path}`;
  operations.set(route, op);
  return op;
}

export function finishSpan(s: HttpStream, span: ActiveSpan, cfg: TracingConfig, kind: 'CLIENT' | 'SERVER'): FinishedSpan {
  const port = s.conn.listener.port;
  const name = s.route !== null ? routeOperation(s.route, port) : `${s.authority === '' ? '-' : s.authority.replace(/:\d+$/, '')}:${port}/*`;
  const path = s.originalPath !== '' ? s.originalPath : s.path;
  const tags: Record<string, string> = {
    component: 'proxy',
    node_id: `router~${s.conn.localAddress}~${cfg.serviceName}~${cfg.serviceName.slice(cfg.serviceName.indexOf('.') + 1)}.svc.cluster.local`,
    'guid:x-request-id': s.requestId === '' ? '-' : s.requestId,
    'http.url': `${s.scheme}://${s.authority}${path}`,
    'http.method': s.method,
    downstream_cluster: '-',
    user_agent: getHeader(s.headers, 'user-agent') ?? '-',
    'http.protocol': s.protocol,
    'peer.address': s.conn.remoteAddress,
    request_size: String(s.bytesReceived),
    response_size: String(s.bytesSent),
    'http.status_code': String(s.responseCode),
    response_flags: formatResponseFlags(s.responseFlags),
    upstream_cluster: s.clusterName === '' ? '-' : s.clusterName,
    'upstream_cluster.name': s.clusterName === '' ? '-' : s.clusterName,
  };
  if (s.upstreamHost !== '') tags.upstream_address = s.upstreamHost;
  const error = s.responseCode >= 500 || s.responseCode === 0;
  if (error) tags.error = 'true';
  if (cfg.enableIstioTags) {
    const w = s.snapshot.workload;
    const app = w.labels['service.istio.io/canonical-name'] ?? w.labels.app ?? cfg.serviceName.slice(0, cfg.serviceName.indexOf('.'));
    tags['istio.mesh_id'] = cfg.meshId;
    tags['istio.canonical_service'] = app;
    tags['istio.canonical_revision'] = w.labels['service.istio.io/canonical-revision'] ?? w.labels.version ?? 'latest';
    tags['istio.namespace'] = w.namespace;
    tags['istio.cluster_id'] = 'Kubernetes';
  }
  for (const t of cfg.customTags) {
    let v: string | undefined;
    if (t.kind === 'literal') v = t.name;
    else if (t.kind === 'environment') v = process.env[t.name];
    else v = getHeader(s.headers, t.name);
    if (v === undefined || v === '') v = t.defaultValue;
    if (v !== '') tags[t.tag] = v;
  }
  return {
    traceId: span.traceId,
    spanId: span.spanId,
    parentId: span.parentId,
    name,
    kind,
    startMs: span.startMs,
    endMs: performance.timeOrigin + performance.now(),
    serviceName: cfg.serviceName,
    localAddress: s.conn.localAddress,
    tags,
    error,
  };
}
