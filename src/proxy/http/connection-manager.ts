import { randomUUID } from 'node:crypto';
import { lowerAscii, stripPort } from '../../compile/hosts.js';
import { matchRoute } from '../../compile/match/route-match.js';
import type { RouteConfiguration, Snapshot, VirtualHost } from '../../compile/snapshot.js';
import { ROUTE_CONFIG_BY_REQUEST_PORT } from '../../compile/sidecar-snapshot.js';
import { outboundRouteConfig } from '../sidecar/route-select.js';
import { FilterStatus, type HttpFilter } from './filter.js';
import { getHeader, removeHeaderPrefix, setHeader } from './headers.js';
import { sendLocalReply } from './local-reply.js';
import { applyForwardClientCert } from '../listener/xfcc.js';
import { ResponseFlag } from './response-flags.js';
import { forwardRequest } from './router.js';
import { sendDirectResponse, sendRedirect } from './direct-replies.js';
import type { HttpStream } from './stream.js';
import { startTrace } from '../../telemetry/tracing/tracer.js';

/**
 * The HTTP filters every stream passes, in Istio's order (jwt → ext_authz → rbac → rate
 * limits → cors → fault). Each reads its config from the stream's route or listener and
 * returns Continue at the cost of a null check when it has nothing to do.
 */
const filters: HttpFilter[] = [];

/** Registers a filter at its place in Istio's order (lower `order` runs first). */
export function registerHttpFilter(f: HttpFilter, order: number): void {
  (f as { order?: number }).order = order;
  filters.push(f);
  filters.sort((a, b) => ((a as { order?: number }).order ?? 0) - ((b as { order?: number }).order ?? 0));
}

/** The registered filters in the order streams run them (read by `sluice trace`). */
export function httpFilters(): readonly HttpFilter[] {
  return filters;
}

/** The virtual host for an authority: exact name, then longest wildcard suffix, then `*`. */
export function selectVirtualHost(rc: RouteConfiguration, authority: string): VirtualHost | null {
  const host = lowerAscii(stripPort(authority));
  const exact = rc.exact.get(host);
  if (exact !== undefined) return exact;
  const sfx = rc.suffixes;
  for (let i = 0; i < sfx.length; i++) {
    const e = sfx[i]!;
    if (host.length > e.suffix.length && host.endsWith(e.suffix)) return e.vhost;
  }
  return rc.any;
}

/** The route configuration a stream uses: by name from the current snapshot (RDS semantics). */
export function routeConfigFor(s: HttpStream, current: Snapshot): RouteConfiguration | null {
  const name = s.conn.chain.routeConfigName;
  if (name === null) return null;
  if (name === ROUTE_CONFIG_BY_REQUEST_PORT) return outboundRouteConfig(s, current);
  return current.routeConfigs.get(name) ?? s.conn.snapshot.routeConfigs.get(name) ?? null;
}

/**
 * Entry point for every request once its headers are parsed: Envoy's HTTP connection
 * manager. Picks the virtual host and route from the snapshot current at the request's
 * start (in-flight requests keep theirs across reloads), runs the filters, then the router.
 */
export function onRequestHeaders(s: HttpStream, current: Snapshot): void {
  s.snapshot = current;
  if (s.protocol === 'HTTP/1.0') {
    // Istio rejects HTTP/1.0 unless PILOT_HTTP10 is set.
    sendLocalReply(s, 426, 'Upgrade Required', 0, 'http1.0_not_allowed');
    return;
  }
  prepareRequestHeaders(s);
  // Telemetry tracing: the span starts here, so local replies are traced too (as in Envoy).
  const telemetry = current.telemetry;
  if (telemetry != null) startTrace(s, telemetry);
  routeStream(s, current);
  s.filterIndex = 0;
  continueFilters(s);
}

/**
 * Route selection (Envoy's connection manager before the filters run): sets `s.routeConfig`,
 * `s.vhost` and `s.route` (null when no route matches, or when the virtual host redirects plain
 * HTTP to https). Returns whether a route was found. It answers nothing itself: as in Envoy, the
 * 404 NR and the https redirect are the router's, the last filter's, so JWT, authorization and
 * rate limits see those requests first (`sendRouteMiss`). `sluice trace` runs this same function.
 */
export function routeStream(s: HttpStream, current: Snapshot): boolean {
  const rc = routeConfigFor(s, current);
  s.routeConfig = rc;
  const vhost = rc === null ? null : selectVirtualHost(rc, s.authority);
  s.vhost = vhost;
  if (vhost === null || (vhost.requireTls && s.scheme === 'http')) return false;
  const routes = vhost.routes;
  for (let i = 0; i < routes.length; i++) {
    const r = routes[i]!;
    if (matchRoute(r.match, s)) { s.route = r; return true; }
  }
  return false;
}

/** The router's answer for a stream without a route: the https redirect of a TLS-only virtual host, else 404 NR. */
export function sendRouteMiss(s: HttpStream): void {
  const v = s.vhost;
  if (v !== null && v.requireTls && s.scheme === 'http') {
    sendLocalReply(s, 301, '', 0, 'direct_response', ['location', `https://${s.authority}${s.path}`]);
    return;
  }
  sendLocalReply(s, 404, '', ResponseFlag.NR, 'route_not_found');
}

/** Runs the filters from `s.filterIndex`; a filter that stopped calls this again to resume. */
export function continueFilters(s: HttpStream): void {
  while (s.filterIndex < filters.length) {
    const f = filters[s.filterIndex++]!;
    let st: FilterStatus;
    try {
      st = f.onRequest(s);
    } catch (e) {
      // A filter bug must not take the gateway down: answer 500 and log it.
      process.emitWarning(`filter ${f.name} failed: ${(e as Error).stack ?? String(e)}`);
      sendLocalReply(s, 500, 'internal error', 0, `filter_failed{${f.name}}`);
      return;
    }
    if (st === FilterStatus.Stop || s.completed) return;
  }
  const route = s.route;
  if (route === null) { sendRouteMiss(s); return; }
  const a = route.action;
  if (a.kind === 'route') forwardRequest(s, a);
  else if (a.kind === 'redirect') sendRedirect(s, a);
  else sendDirectResponse(s, a);
}

/**
 * Envoy's request header handling at the edge (use_remote_address): x-forwarded-for gets the
 * peer address, x-forwarded-proto the real scheme, x-request-id is generated when absent, and
 * x-envoy-* control headers from clients are dropped.
 */
export function prepareRequestHeaders(s: HttpStream): void {
  const h = s.headers;
  removeHeaderPrefix(h, 'x-envoy-');
  const xff = getHeader(h, 'x-forwarded-for');
  const peer = s.conn.remoteAddress;
  setHeader(h, 'x-forwarded-for', 'x-forwarded-for', xff === undefined ? peer : `${xff},${peer}`);
  setHeader(h, 'x-forwarded-proto', 'x-forwarded-proto', s.scheme);
  applyForwardClientCert(h, s.conn);
  let rid = getHeader(h, 'x-request-id');
  if (rid === undefined || rid === '') {
    rid = randomUUID();
    h.push('x-request-id', rid);
  }
  s.requestId = rid;
}
