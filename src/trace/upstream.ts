import { stripPort } from '../compile/hosts.js';
import type { Cluster, RetryOn, Route, WeightedCluster } from '../compile/snapshot.js';
import { lbHashKey } from '../proxy/http/upstream-head.js';
import type { HttpStream } from '../proxy/http/stream.js';
import { createBalancer, type BalancedHost } from '../proxy/upstream/load-balancer.js';
import type { TraceRecorder } from './recorder.js';

// The cluster side of a trace: what shapes the cluster, which endpoint its load balancer
// picks (with the data plane's balancer), and the notes on the upstream request.

const MAX_U32 = 2 ** 32 - 1;

export function traceCluster(rec: TraceRecorder, c: Cluster): void {
  const lines = [`type ${c.type}, protocol ${c.protocol}, load balancer ${c.lb.policy}${c.lb.hash !== null ? ` (hash on ${Object.keys(c.lb.hash).join(',')})` : ''}`];
  lines.push(`shaped by: ${c.origins.join(', ')}`);
  if (c.pool.maxConnections < MAX_U32 || c.pool.maxPendingRequests < MAX_U32) lines.push(`circuit breaker: maxConnections ${c.pool.maxConnections}, http1MaxPendingRequests ${c.pool.maxPendingRequests} (beyond: 503 UO)`);
  if (c.outlier !== null) lines.push(`outlier detection: eject after ${c.outlier.consecutive5xx} consecutive 5xx for ${c.outlier.baseEjectionTimeMs} ms`);
  rec.step('cluster', 'ok', `${c.name}: ${c.endpoints.length} endpoint${c.endpoints.length === 1 ? '' : 's'}`, undefined, lines);
}

/** The endpoint the cluster's load balancer picks: address, null when decided at run time, false when none exists. */
export function traceEndpoint(rec: TraceRecorder, s: HttpStream, c: Cluster, authority: string): string | null | false {
  if (c.type === 'original_dst') {
    rec.step('endpoint', 'ok', `original destination: the host the request names, ${authority} (resolved by DNS when sent)`);
    return stripPort(authority);
  }
  if (c.type === 'strict_dns') {
    if (c.endpoints.length === 0) { rec.step('endpoint', 'fail', 'no endpoints to resolve'); return false; }
    rec.step('endpoint', 'ok', `DNS: ${c.endpoints.map((e) => `${e.address}:${e.port}`).join(', ')} resolved when the cluster starts (and every 30 s)`);
    return c.endpoints.length === 1 ? `${c.endpoints[0]!.address}:${c.endpoints[0]!.port}` : null;
  }
  if (c.endpoints.length === 0) {
    rec.step('endpoint', 'fail', `${c.name} has no endpoints: 503 no healthy upstream (UH)`);
    return false;
  }
  const hosts: (BalancedHost & { id: string })[] = c.endpoints.map((e) => ({ weight: e.weight, activeRequests: 0, ejectedUntil: 0, hashKey: `${e.address}:${e.port}`, id: e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}` }));
  if (hosts.length === 1) {
    rec.step('endpoint', 'ok', `${hosts[0]!.id} (the only endpoint)`);
    return hosts[0]!.id;
  }
  const hash = lbHashKey(s, c.lb);
  if (hash !== null) {
    const h = createBalancer<(typeof hosts)[number]>(c.lb).pick(hosts, hash, null, Date.now());
    rec.step('endpoint', 'ok', `${h?.id ?? 'none'}: consistent hash of the request's ${Object.keys(c.lb.hash!).join(',')} (${c.lb.policy})`);
    return h?.id ?? false;
  }
  rec.step('endpoint', 'info', `one of ${hosts.map((h) => h.id).join(', ')}: ${c.lb.policy} picks at run time (by active requests, health and weight)`);
  return null;
}

/** The response header changes the route and the chosen destination make. */
export function responseMutations(route: Route, wc: WeightedCluster): string[] {
  const out: string[] = [];
  for (const m of [wc.responseHeaders, route.responseHeaders]) {
    if (m === null) continue;
    for (const r of m.remove) out.push(`remove ${r}`);
    for (const [, n, v] of m.set) out.push(`set ${n}: ${v}`);
    for (const [, n, v] of m.add) out.push(`add ${n}: ${v}`);
  }
  return out;
}

/** A retry policy's conditions in Envoy's retry_on spelling. */
export function retryConditions(on: RetryOn, codes: readonly number[]): string {
  const names: string[] = [];
  if (on.fiveXx) names.push('5xx');
  if (on.gatewayError) names.push('gateway-error');
  if (on.reset) names.push('reset');
  if (on.connectFailure) names.push('connect-failure');
  if (on.refusedStream) names.push('refused-stream');
  if (on.retriable4xx) names.push('retriable-4xx');
  if (on.retriableStatusCodes) names.push(`retriable-status-codes ${codes.join(',')}`);
  names.push(...on.grpc);
  return names.join(',') || 'nothing';
}
