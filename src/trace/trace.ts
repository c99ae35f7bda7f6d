import { lowerAscii, stripPort } from '../compile/hosts.js';
import { conditionSubject, firstFailingCondition } from '../compile/match/route-match.js';
import type { FilterChain, L4Route, Listener, Route, RouteConfiguration, RouteSource, Snapshot, VirtualHost, WeightedCluster } from '../compile/snapshot.js';
import type { InboundConfig } from '../compile/sidecar-snapshot.js';
import type { ConfigStore } from '../config/store.js';
import type { FetchedKeySet, JwksSource } from '../security/jwks.js';
import { prepareRequestHeaders, routeStream, httpFilters, sendRouteMiss } from '../proxy/http/connection-manager.js';
// The same filters `sluice run` registers, in the same order.
import '../proxy/filters/index.js';
import { SYNC_EXPLAIN, type ExplainContext, type FilterExplanation } from '../proxy/http/filter.js';
import { explainNetworkRbac } from '../proxy/filters/rbac/explain.js';
import { sendLocalReply } from '../proxy/http/local-reply.js';
import { getHeader } from '../proxy/http/headers.js';
import { formatResponseFlags, ResponseFlag } from '../proxy/http/response-flags.js';
import { chooseDestination, sendClusterNotFound, sendNoHealthyUpstream } from '../proxy/http/router.js';
import { sendDirectResponse, sendRedirect } from '../proxy/http/direct-replies.js';
import { buildUpstreamHead } from '../proxy/http/upstream-head.js';
import type { DownstreamConnection, HttpStream } from '../proxy/http/stream.js';
import { plaintextChain, selectChain } from '../proxy/listener/listener-manager.js';
import { selectL4Route } from '../proxy/tcp/tcp-proxy.js';
import { pickWeighted } from '../proxy/upstream/load-balancer.js';
import { displayPath } from './format.js';
import { fixClusterNotFound, fixNoChain, fixNoEndpoints, fixNoListener, fixNoVirtualHost } from './fixes.js';
import type { TraceRecorder } from './recorder.js';
import { traceTlsOrigination, traceTlsTermination } from './tls.js';
import { headerChanges, traceConnection, traceStream, type PeerInfo, type RecordedResponse } from './trace-stream.js';
import type { StepResult, StepStage, Trace, TraceDestination, TraceFilter, TraceOutcome, TraceRequest, TraceSource, TraceStep, TraceUpstream } from './types.js';
import { responseMutations, retryConditions, traceCluster, traceEndpoint } from './upstream.js';

/** What trace walks: a compiled snapshot and, when at hand, the config it came from (for fixes). */
export interface TraceInput {
  readonly snapshot: Snapshot;
  readonly store?: ConfigStore | null;
}

export interface TraceOptions {
  /**
   * The trace runs outside the gateway (`sluice trace -c`, `sluice test`): process-wide state
   * (token buckets, rate limit service, JWKS cache) is not the gateway's. Default false
   * (/debug/trace inside the running gateway).
   */
  readonly offline?: boolean;
  /**
   * Offline only: remote JWKS this process holds no keys for are fetched once, with the
   * rule's timeout (default true). A running gateway's trace never fetches: it uses the
   * gateway's cached keys, and says when there are none.
   */
  readonly fetchJwks?: boolean;
  /** Keys fetched for earlier traces of the same run (sluice test shares one per run). */
  readonly keyCache?: Map<JwksSource, Promise<FetchedKeySet>>;
  /** Signature checks of earlier traces of the same run (sluice test shares one per run). */
  readonly signatureCache?: WeakMap<object, Map<string, string | null>>;
}

/** A filter explanation the trace waits for (a JWT signature check). */
type Pending = Promise<FilterExplanation>;
type Walk<T> = Generator<Pending, T, FilterExplanation>;

// Istio's HTTP filter order; a slot with no registered filter is shown as not configured.
const ISTIO_FILTER_SLOTS: readonly { readonly name: string; readonly short: string; readonly configuredBy: string }[] = [
  { name: 'envoy.filters.http.jwt_authn', short: 'jwt', configuredBy: 'RequestAuthentication' },
  { name: 'envoy.filters.http.ext_authz', short: 'ext_authz', configuredBy: 'AuthorizationPolicy CUSTOM' },
  { name: 'envoy.filters.http.rbac', short: 'rbac', configuredBy: 'AuthorizationPolicy' },
  { name: 'envoy.filters.http.local_ratelimit', short: 'ratelimit', configuredBy: 'EnvoyFilter local_ratelimit' },
  { name: 'envoy.filters.http.cors', short: 'cors', configuredBy: 'VirtualService corsPolicy' },
  { name: 'envoy.filters.http.fault', short: 'fault', configuredBy: 'VirtualService fault' },
];

/**
 * Walks a request through the snapshot with the data plane's own functions — listener chain
 * selection, route selection, local replies, redirects, weighted pick, upstream head, load
 * balancer — and records each decision with its source position and, for failures, the fix.
 */
export function traceRequest(input: TraceInput, req: TraceRequest): Trace {
  const walk = new Tracer(input, req, SYNC_EXPLAIN).run();
  let r = walk.next();
  while (r.done !== true) {
    // A filter answered with a promise although asked not to: its verdict is unknown here.
    r.value.catch(() => undefined);
    r = walk.next({ verdict: 'unknown', summary: 'this decision needs an asynchronous check (use sluice trace or /debug/trace, which wait for it)' });
  }
  return r.value;
}

/**
 * traceRequest, waiting for the explanations that need it (a JWT signature is checked with
 * jose, which is asynchronous): what `sluice trace`, `sluice test` and /debug/trace use.
 * Requests no filter needs to wait for take the synchronous path all the same.
 */
export async function traceRequestAsync(input: TraceInput, req: TraceRequest, o: TraceOptions = {}): Promise<Trace> {
  const x: ExplainContext = { async: true, offline: o.offline === true, fetchedKeys: o.offline === true && o.fetchJwks !== false ? (o.keyCache ?? new Map()) : null, signatures: o.signatureCache ?? null };
  const walk = new Tracer(input, req, x).run();
  let r = walk.next();
  while (r.done !== true) {
    let e: FilterExplanation;
    try {
      e = await r.value;
    } catch (err) {
      e = { verdict: 'unknown', summary: `explain failed: ${(err as Error).message}` };
    }
    r = walk.next(e);
  }
  return r.value;
}

function sourceOf(s: RouteSource, kind: 'http' | 'tls' | 'tcp' = 'http'): TraceSource {
  // Routes compile makes itself (a sidecar's allow_any/block_all) have no rule in a resource.
  if (s.rule < 0) return { resource: s.resource, file: s.file, line: s.line, col: s.col };
  const path = `spec.${kind}[${s.rule}]${s.match >= 0 ? `.match[${s.match}]` : ''}`;
  return { resource: s.resource, file: s.file, line: s.line, col: s.col, path };
}

function quote(v: string | undefined): string {
  return v === undefined ? 'absent' : JSON.stringify(v);
}

class Tracer {
  readonly #snapshot: Snapshot;
  readonly #store: ConfigStore | null;
  readonly #req: TraceRequest;
  readonly #steps: TraceStep[] = [];
  readonly #filters: TraceFilter[] = [];
  #listener: Listener | null = null;
  #chain: FilterChain | null = null;
  #routeConfig: RouteConfiguration | null = null;
  #vhost: VirtualHost | null = null;
  #route: Route | null = null;
  #routeIndex = -1;
  #l4: L4Route | null = null;
  #upstream: TraceUpstream | null = null;
  #outcome: TraceOutcome | null = null;
  #filterFix: string | null = null;
  readonly #x: ExplainContext;
  readonly #rec: TraceRecorder = {
    step: (stage, result, text, source, detail) => this.#step(stage, result, text, source, detail),
    closed: (details, flags, fix) => this.#closed(details, flags, fix),
  };

  constructor(input: TraceInput, req: TraceRequest, x: ExplainContext) {
    this.#snapshot = input.snapshot;
    this.#store = input.store ?? null;
    this.#req = req;
    this.#x = x;
  }

  #step(stage: StepStage, result: StepResult, text: string, source?: TraceSource, detail?: readonly string[]): void {
    const s: { -readonly [K in keyof TraceStep]: TraceStep[K] } = { stage, result, text };
    if (source !== undefined) s.source = source;
    if (detail !== undefined && detail.length > 0) s.detail = detail;
    this.#steps.push(s);
  }

  #closed(details: string, flags: number, fix: string | null): void {
    this.#outcome = { kind: 'closed', status: null, responseFlags: formatResponseFlags(flags), details, headers: [], body: '', fix, accessLog: null };
  }

  #localReply(s: HttpStream, r: RecordedResponse, fix: string | null): void {
    const headers: [string, string][] = [];
    for (let i = 0; i < r.headers.length; i += 2) if (r.headers[i] !== 'date') headers.push([r.headers[i]!, r.headers[i + 1]!]);
    this.#outcome = { kind: r.reset ? 'closed' : 'local_reply', status: r.reset ? null : r.status, responseFlags: formatResponseFlags(s.responseFlags), details: s.details, headers, body: r.body, fix, accessLog: r.accessLog };
  }

  *run(): Walk<Trace> {
    const req = this.#req;
    const snap = this.#snapshot;
    // Sidecar mode: applications reach the outbound explicit proxy, whatever the destination port.
    const sc = (snap as { sidecar?: { outbound: { listener: Listener; chain: FilterChain }; inbound: InboundConfig | null } | null }).sidecar;
    const outbound = sc?.outbound;
    // A request to the sidecar's --inbound-port: its inbound side, in front of the application.
    const inbound = sc?.inbound ?? null;
    if (snap.workload.mode === 'sidecar' && inbound !== null && req.port === inbound.listener.bindPort) {
      this.#listener = inbound.listener;
      this.#step('listener', 'match', `${inbound.listener.name}: the sidecar's inbound port ${inbound.listener.bindPort}, in front of the application on port ${inbound.appPort}`);
      if (req.scheme !== 'http') {
        this.#step('filter_chain', 'info', `${req.scheme}:// on the inbound port is mesh mTLS (PeerAuthentication ${inbound.mode}); trace follows plaintext http:// requests to it`);
        this.#closed('mTLS to the inbound port is not traced', 0, null);
        return this.#result();
      }
      if (inbound.mode === 'STRICT') {
        this.#step('filter_chain', 'fail', `plaintext refused: mTLS mode STRICT on port ${inbound.appPort}${inbound.modeFrom !== null ? ` (${inbound.modeFrom})` : ''}`);
        this.#closed('plaintext refused (mTLS STRICT)', 0, 'call it from a mesh sidecar (mTLS), or relax the PeerAuthentication to PERMISSIVE');
        return this.#result();
      }
      this.#chain = inbound.httpChain;
      this.#step('filter_chain', 'match', `${inbound.httpChain.name}: plaintext HTTP (PeerAuthentication ${inbound.mode})`);
      yield* this.#http(inbound.listener, inbound.httpChain, null);
      return this.#result();
    }
    if (snap.workload.mode === 'sidecar' && outbound !== undefined) {
      this.#listener = outbound.listener;
      this.#chain = outbound.chain;
      this.#step('listener', 'match', `${outbound.listener.name}: the sidecar's outbound proxy (http_proxy); the destination port ${req.port} picks the route configuration`);
      if (req.scheme !== 'http') {
        this.#step('filter_chain', 'info', `${req.scheme}:// goes through a CONNECT tunnel, routed by tls/tcp rules or the registry; trace follows plain http:// requests through a sidecar`);
        this.#closed('CONNECT tunnels are not traced', 0, null);
        return this.#result();
      }
      yield* this.#http(outbound.listener, outbound.chain, null);
      return this.#result();
    }
    const l = snap.listeners.find((x) => x.port === req.port) ?? snap.listeners.find((x) => x.bindPort === req.port) ?? null;
    this.#listener = l;
    if (l === null) {
      this.#step('listener', 'fail', `no listener for port ${req.port} (this workload listens on ${snap.listeners.map((x) => x.port).join(', ') || 'nothing'})`);
      this.#closed('no listener: connection refused', 0, fixNoListener(snap, this.#store, req.port));
      return this.#result();
    }
    this.#step('listener', 'match', `${l.name}: Gateway port ${l.port}${l.bindPort !== l.port ? ` bound on local port ${l.bindPort}` : ''}, ${l.filterChains.length} filter chain${l.filterChains.length === 1 ? '' : 's'}`);
    const chain = this.#selectChain(l);
    if (chain === null) return this.#result();
    this.#chain = chain;
    let peer: PeerInfo | null = null;
    if (chain.tls !== null) {
      const p = traceTlsTermination(this.#rec, snap, chain, req.clientCertPem);
      if (p === false) return this.#result();
      peer = p;
    }
    if (chain.kind === 'http') yield* this.#http(l, chain, peer);
    else this.#l4Flow(l, chain, peer);
    return this.#result();
  }

  // ---------------------------------------------------------------- listener and TLS

  #selectChain(l: Listener): FilterChain | null {
    const req = this.#req;
    const wantsTls = req.scheme === 'https' || req.scheme === 'tls';
    if (wantsTls && l.inspectsTls) {
      const c = selectChain(l, req.sni);
      if (c === null) {
        this.#step('filter_chain', 'fail', `no filter chain for SNI "${req.sni}" (server names: ${[...new Set(l.filterChains.flatMap((x) => x.serverNames))].join(', ') || 'none'})`);
        this.#closed(`no filter chain for SNI "${req.sni}"`, ResponseFlag.NR, fixNoChain(this.#snapshot, this.#store, l, req.sni));
        return null;
      }
      const how = c.serverNames.includes(req.sni) ? `server name "${req.sni}" (exact)` : c.serverNames.length > 0 ? `wildcard server name ${c.serverNames.find((n) => n.startsWith('*') && req.sni.endsWith(n.slice(1)))}` : 'the chain without server names (fallback)';
      this.#step('filter_chain', 'match', `${c.name}: SNI "${req.sni}" matched ${how}`, this.#originSource(c));
      return c;
    }
    const c = plaintextChain(l);
    if (c === null) {
      this.#step('filter_chain', 'fail', `plaintext connection on a TLS-only port ${l.port}`);
      this.#closed('plaintext on a TLS port (no TLS ClientHello)', ResponseFlag.NR, `port ${l.port} serves only TLS: use https:// (or tls://), or add a plain HTTP server on another port`);
      return null;
    }
    if (wantsTls && c.kind === 'http') {
      this.#step('filter_chain', 'fail', `${c.name}: port ${l.port} serves plain HTTP, but the client starts a TLS handshake`, this.#originSource(c));
      this.#closed('TLS ClientHello on a plain HTTP port: answered 400 Bad Request', 0, `port ${l.port} is a plain HTTP server: use http://, or make the server protocol HTTPS with a tls block`);
      return null;
    }
    this.#step('filter_chain', 'match', `${c.name}: ${c.kind === 'tcp' ? 'TCP' : 'plain HTTP'} chain`, this.#originSource(c));
    return c;
  }

  #originSource(c: FilterChain): TraceSource | undefined {
    const o = c.origin;
    if (o === null) return undefined;
    return { resource: `Gateway ${o.gateway}`, file: o.source.file, line: o.source.line, col: o.source.col, path: `spec.servers[${o.server}]` };
  }

  // ---------------------------------------------------------------- HTTP

  *#http(l: Listener, chain: FilterChain, peer: PeerInfo | null): Walk<void> {
    const req = this.#req;
    const snap = this.#snapshot;
    const tc = traceConnection(snap, l, chain, req, chain.tls !== null, peer);
    const s = traceStream(tc, req, chain.tls !== null);
    const before = [...s.headers];
    prepareRequestHeaders(s);
    this.#step('request', 'info', `${s.method} ${s.scheme}://${s.authority}${s.path} ${s.protocol}; headers after the connection manager's edge handling:`, undefined, headerChanges(before, s.headers));
    const ok = routeStream(s, snap);
    this.#routeConfig = s.routeConfig;
    this.#vhost = s.vhost;
    const rc = s.routeConfig;
    if (rc === null) {
      this.#step('virtual_host', 'fail', `chain ${chain.name} has no route configuration`);
      sendRouteMiss(s);
      this.#localReply(s, tc.codec.response, null);
      return;
    }
    this.#explainVirtualHost(rc, s);
    // Without a route the router answers (404 NR, or the https redirect) — after the filters,
    // which see the request first, as in Envoy. `missFix` is that answer's fix.
    let missFix: string | null = null;
    // Compile gives a port with no bound VirtualService a catch-all host without routes.
    const blackhole = s.vhost !== null && s.vhost.routes.length === 0 && s.vhost.name.startsWith('blackhole:');
    if (s.vhost === null || blackhole) {
      missFix = fixNoVirtualHost(snap, this.#store, l, chain, s.authority, rc.virtualHosts);
    } else if (!ok && s.vhost.requireTls && s.scheme === 'http') {
      this.#step('virtual_host', 'info', `${s.vhost.name} requires TLS (Gateway server with httpsRedirect): the router answers 301 to https once the filters pass`);
    } else {
      const nearest = this.#explainRoutes(s.vhost, s);
      if (!ok) missFix = this.#fixNoRoute(s.vhost, nearest);
    }
    const route = s.route;
    if (route !== null) {
      this.#route = route;
      this.#routeIndex = s.vhost!.routes.indexOf(route);
    }
    if (!(yield* this.#runFilters(s, route))) {
      this.#localReply(s, tc.codec.response, this.#filterFix);
      return;
    }
    if (route === null) {
      sendRouteMiss(s);
      this.#localReply(s, tc.codec.response, missFix);
      return;
    }
    this.#action(s, route, tc.codec.response);
  }

  #explainVirtualHost(rc: RouteConfiguration, s: HttpStream): void {
    const host = lowerAscii(stripPort(s.authority));
    const v = s.vhost;
    if (v === null) {
      const domains = rc.virtualHosts.flatMap((x) => x.domains);
      this.#step('virtual_host', 'fail', `route config ${rc.name}: no virtual host for "${host}" (domains: ${domains.join(', ') || 'none'})`);
      return;
    }
    if (v.routes.length === 0 && v.name.startsWith('blackhole:')) {
      this.#step('virtual_host', 'fail', `route config ${rc.name}: no VirtualService is bound to this port; its catch-all virtual host ${v.name} answers 404`);
      return;
    }
    const how = rc.exact.get(host) === v ? `exact domain "${host}"` : rc.any === v && !rc.suffixes.some((x) => x.vhost === v && host.endsWith(x.suffix)) ? 'the catch-all domain "*"' : `wildcard domain "*${rc.suffixes.find((x) => x.vhost === v && host.endsWith(x.suffix))?.suffix ?? ''}"`;
    this.#step('virtual_host', 'match', `${v.name} in route config ${rc.name}: Host "${s.authority}" matched ${how}; ${v.routes.length} route${v.routes.length === 1 ? '' : 's'}`);
  }

  /** Each route in order until the first match; returns the failing route that got furthest. */
  #explainRoutes(v: VirtualHost, s: HttpStream): { route: Route; index: number; failed: number } | null {
    let nearest: { route: Route; index: number; failed: number } | null = null;
    for (let i = 0; i < v.routes.length; i++) {
      const r = v.routes[i]!;
      const failed = firstFailingCondition(r.match, s);
      const label = `#${i} ${r.source.resource}${r.source.rule >= 0 ? ` ${sourceOf(r.source).path}` : ''}${r.name !== '' ? ` (${r.name})` : ''}`;
      const conds = r.match.conditions.map((c) => c.describe);
      if (failed < 0) {
        this.#step('route', 'match', `${label}: matched${conds.length === 0 ? ' (no conditions: matches every request)' : `: ${conds.join(' AND ')}`}`, sourceOf(r.source));
        const rest = v.routes.length - i - 1;
        if (rest > 0) this.#step('route', 'skipped', `${rest} later route${rest === 1 ? '' : 's'} not tried (first match wins)`);
        return nearest;
      }
      const c = r.match.conditions[failed]!;
      const actual = conditionSubject(c, s);
      this.#step('route', 'no_match', `${label}: ${c.describe} — request has ${c.kind === 'path' || c.kind === 'method' || c.kind === 'scheme' || c.kind === 'authority' ? c.kind : c.kind === 'query' ? `query ${c.name}` : `header ${c.name}`} ${quote(actual)}`, sourceOf(r.source), failed > 0 ? [`held: ${conds.slice(0, failed).join(' AND ')}`] : undefined);
      if (nearest === null || failed > nearest.failed) nearest = { route: r, index: i, failed };
    }
    return nearest;
  }

  #fixNoRoute(v: VirtualHost, nearest: { route: Route; index: number; failed: number } | null): string {
    const owners = [...new Set(v.routes.map((r) => r.source.resource))];
    if (v.routes.length === 0) return `virtual host ${v.name} has no routes: add http rules to a VirtualService bound to it`;
    const n = nearest!;
    const c = n.route.match.conditions[n.failed]!;
    return `no route of ${v.name} matches this request; the closest is route #${n.index} of ${n.route.source.resource} (${displayPath(n.route.source.file)}:${n.route.source.line}), which needs ${c.describe}. Add a match for this request, or a last rule without match (a default route), to ${owners.join(' or ')}`;
  }

  /** Filters in the data plane's order; false when one would answer the request itself. */
  *#runFilters(s: HttpStream, route: Route | null): Walk<boolean> {
    const registered = httpFilters();
    const absent: string[] = [];
    for (const slot of ISTIO_FILTER_SLOTS) {
      if (registered.some((f) => f.name === slot.name || f.name.includes(slot.short))) continue;
      const configured = route !== null && ((slot.short === 'fault' && route.filters.fault !== null) || (slot.short === 'cors' && route.filters.cors !== null));
      const summary = configured ? `${slot.configuredBy} is compiled on this route but no ${slot.short} filter is active in this build: not enforced` : `not configured (no ${slot.short} filter in this build)`;
      this.#filters.push({ name: slot.name, verdict: 'not_configured', summary });
      if (configured) this.#step('filter', 'info', `${slot.name}: ${summary}`);
      else absent.push(slot.name.replace('envoy.filters.http.', ''));
    }
    if (absent.length > 0) this.#step('filter', 'skipped', `not configured: ${absent.join(', ')} (no such filter in this build)`);
    const skipped: [string, string][] = [];
    for (const f of registered) {
      let e: FilterExplanation;
      if (f.explain === undefined) e = { verdict: 'unknown', summary: 'this filter cannot explain its decision (no explain hook)' };
      else {
        let got: FilterExplanation | Pending;
        try {
          got = f.explain(s, this.#x);
        } catch (err) {
          got = { verdict: 'unknown', summary: `explain failed: ${(err as Error).message}` };
        }
        // The next filter's explanation may depend on this one (a verified JWT sets the principal).
        e = got instanceof Promise ? yield got : got;
      }
      const tf: { -readonly [K in keyof TraceFilter]: TraceFilter[K] } = { name: f.name, verdict: e.verdict, summary: e.summary };
      if (e.decidedBy !== undefined) {
        tf.decidedBy = e.decidedBy.file !== undefined
          ? { resource: e.decidedBy.resource, file: e.decidedBy.file, line: e.decidedBy.line ?? 0, col: e.decidedBy.col ?? 0, ...(e.decidedBy.rule !== undefined ? { path: e.decidedBy.rule } : {}) }
          : { resource: e.decidedBy.resource, ...(e.decidedBy.rule !== undefined ? { rule: e.decidedBy.rule } : {}) };
      }
      this.#filters.push(tf);
      // Filters with nothing to do for this request share one line (the JSON keeps each).
      if (e.verdict === 'skip') { skipped.push([f.name, e.summary]); continue; }
      const src = tf.decidedBy !== undefined && 'file' in tf.decidedBy ? tf.decidedBy : undefined;
      this.#step('filter', e.verdict === 'reply' ? 'fail' : e.verdict === 'continue' ? 'ok' : 'info', `${f.name}: ${e.summary}`, src, e.steps);
      if (e.verdict === 'reply') {
        this.#skippedFilters(skipped);
        this.#filterFix = e.fix ?? null;
        const flag = e.responseFlag !== undefined ? (ResponseFlag as Record<string, number>)[e.responseFlag] ?? 0 : 0;
        sendLocalReply(s, e.status ?? 500, e.body ?? '', flag, e.details ?? `filter_denied{${f.name}}`, e.headers !== undefined && e.headers.length > 0 ? e.headers.flat() : null);
        return false;
      }
    }
    this.#skippedFilters(skipped);
    return true;
  }

  /** One step for the filters that had nothing to do, grouped by reason. */
  #skippedFilters(skipped: readonly (readonly [string, string])[]): void {
    if (skipped.length === 0) return;
    // Rate-limit positions (`local_ratelimit@3`) read as one name with a count.
    const short = (names: readonly string[]): string => {
      const counts = new Map<string, number>();
      for (const n of names) { const b = n.replace('envoy.filters.http.', '').replace(/@\d+$/, ''); counts.set(b, (counts.get(b) ?? 0) + 1); }
      return [...counts].map(([b, k]) => (k > 1 ? `${b} (${k} positions)` : b)).join(', ');
    };
    const byReason = new Map<string, string[]>();
    for (const [name, why] of skipped) byReason.set(why, [...(byReason.get(why) ?? []), name]);
    this.#step('filter', 'skipped', `not active for this request: ${short(skipped.map(([n]) => n))}`, undefined, [...byReason].map(([why, names]) => `${short(names)}: ${why}`));
  }

  // ---------------------------------------------------------------- actions

  #action(s: HttpStream, route: Route, response: RecordedResponse): void {
    const a = route.action;
    if (a.kind === 'redirect') {
      sendRedirect(s, a);
      this.#step('action', 'ok', `redirect ${a.code} to ${getHeader(response.headers, 'location') ?? '?'}`, sourceOf(route.source));
      this.#localReply(s, response, null);
      return;
    }
    if (a.kind === 'direct') {
      sendDirectResponse(s, a);
      this.#step('action', 'ok', `direct response ${a.status}${a.body !== '' ? ` with a ${a.body.length}-byte body` : ''}`, sourceOf(route.source));
      this.#localReply(s, response, null);
      return;
    }
    const wc = chooseDestination(s, a, this.#req.draw);
    if (wc === null) {
      this.#step('destination', 'fail', 'the route has no destination');
      this.#localReply(s, response, `give rule http[${route.source.rule}] of ${route.source.resource} a route destination`);
      return;
    }
    const total = a.totalWeight;
    const destinations: TraceDestination[] = a.clusters.map((c) => ({ cluster: c.cluster, host: c.host, subset: c.subset, port: c.port, weight: c.weight, percent: total > 0 ? Math.round((c.weight * 10000) / total) / 100 : 100 }));
    const index = a.clusters.indexOf(wc);
    if (a.clusters.length > 1) {
      this.#step('destination', 'ok', `weighted: ${destinations.map((d) => `${d.host}${d.subset !== '' ? `/${d.subset}` : ''} ${d.percent}%`).join(', ')}; this trace follows ${wc.host}${wc.subset !== '' ? `/${wc.subset}` : ''} (draw ${this.#req.draw}; --draw picks another)`, sourceOf(route.source));
    } else {
      this.#step('destination', 'ok', `${wc.host}${wc.subset !== '' ? ` subset ${wc.subset}` : ''} port ${wc.port}`, sourceOf(route.source));
    }
    const cluster = this.#snapshot.clusters.get(wc.cluster);
    if (cluster === undefined) {
      sendClusterNotFound(s);
      this.#step('cluster', 'fail', `${wc.cluster}: no such cluster`);
      this.#localReply(s, response, fixClusterNotFound(this.#snapshot, route.source.resource, `spec.http[${route.source.rule}].route[${index}]`, wc.cluster));
      return;
    }
    const head = buildUpstreamHead(s, a, wc);
    const fullHead = `${head.requestLine}host: ${head.authority}\r\n${head.headerBlock}x-envoy-attempt-count: 1\r\n\r\n`;
    const headers: [string, string][] = [];
    for (const line of fullHead.split('\r\n').slice(1)) {
      const i = line.indexOf(': ');
      if (i > 0) headers.push([line.slice(0, i), line.slice(i + 2)]);
    }
    traceCluster(this.#rec, cluster);
    const ep = traceEndpoint(this.#rec, s, cluster, head.authority);
    if (ep === false) {
      sendNoHealthyUpstream(s);
      this.#localReply(s, response, fixNoEndpoints(this.#snapshot, this.#store, cluster));
      return;
    }
    const { tls, error: tlsError } = traceTlsOrigination(this.#rec, this.#snapshot, cluster, head.authority);
    const detail: string[] = [];
    if (a.timeoutMs > 0) detail.push(`(route timeout ${a.timeoutMs} ms)`);
    if (a.retry !== null) detail.push(`(retries: ${a.retry.attempts} on ${retryConditions(a.retry.on, a.retry.statusCodes)})`);
    for (const m of a.mirrors) detail.push(`(mirrored to ${m.cluster} for ${m.fractionPerMillion / 10_000}% of requests)`);
    const mutations = responseMutations(route, wc);
    if (mutations.length > 0) detail.push(`(response headers: ${mutations.join('; ')})`);
    this.#step('upstream_request', 'ok', `request sent to ${wc.cluster}${ep !== null ? ` endpoint ${ep}` : ''}`, undefined, detail);
    this.#upstream = {
      cluster: wc.cluster,
      host: wc.host,
      subset: wc.subset,
      port: wc.port,
      destinations,
      path: head.path,
      authority: head.authority,
      headers,
      head: fullHead,
      endpoint: ep,
      endpoints: cluster.endpoints.map((e) => `${e.address}:${e.port}`),
      loadBalancer: cluster.lb.policy,
      tls,
      timeoutMs: a.timeoutMs,
      mirrors: a.mirrors.map((m) => m.cluster),
    };
    if (tls !== null && tlsError !== null) {
      this.#outcome = { kind: 'local_reply', status: 503, responseFlags: 'UF', details: `upstream_reset_before_response_started{remote_connection_failure|TLS_error:_${tlsError.replace(/ /g, '_')}}`, headers: [], body: `upstream connect error or disconnect/reset before headers. reset reason: remote connection failure, transport failure reason: TLS_error: ${tlsError}`, fix: `fix the TLS origination material of ${cluster.origins.find((o) => o.startsWith('DestinationRule')) ?? 'the DestinationRule'}: ${tlsError}`, accessLog: null };
      return;
    }
    this.#outcome = { kind: 'upstream', status: null, responseFlags: '-', details: 'via_upstream', headers: [], body: '', fix: null, accessLog: null };
  }

  // ---------------------------------------------------------------- TCP / TLS passthrough

  #l4Flow(l: Listener, chain: FilterChain, peer: PeerInfo | null): void {
    const req = this.#req;
    const sni = chain.tls !== null || chain.kind === 'tls_passthrough' ? req.sni : '';
    const tc = traceConnection(this.#snapshot, l, chain, req, sni !== '', peer);
    // Network RBAC runs on the connection before a route is chosen (tcp-proxy.ts).
    if (chain.policies.networkRbac !== null && !this.#networkRbac(tc.conn)) return;
    const route = selectL4Route(tc.conn.chain.l4Routes, tc.conn.sni, tc.conn.localAddress);
    const kind = chain.kind === 'tls_passthrough' ? 'tls' : 'tcp';
    for (const r of chain.l4Routes) {
      const hit = r === route;
      const covers = r.sniHosts.length === 0 || r.sniHosts.some((h) => h === sni || (h.startsWith('*') && sni.endsWith(h.slice(1)) && sni.length > h.length - 1));
      const why = hit ? ' — chosen' : covers ? ` — also matches, but ${route?.name ?? 'another route'} is more specific (exact SNI > longest wildcard > no SNI)` : ` — SNI "${sni}" not covered`;
      this.#step('route', hit ? 'match' : 'no_match', `${r.name} ${sourceOf(r.source, kind).path}: ${r.sniHosts.length === 0 ? 'any connection' : `sniHosts ${r.sniHosts.join(', ')}`}${why}`, sourceOf(r.source, kind));
    }
    if (route === null || route.clusters.length === 0) {
      this.#step('route', 'fail', `no ${kind} route for ${sni !== '' ? `SNI "${sni}"` : 'this connection'}: the connection is closed`);
      this.#closed('filter_chain_not_found', ResponseFlag.NR, `add a VirtualService \`${kind}:\` rule${kind === 'tls' ? ` with sniHosts [${sni}]` : ''} bound to ${chain.origin?.gateway ?? 'this gateway'}`);
      return;
    }
    this.#l4 = route;
    const wc: WeightedCluster = pickWeighted(route, req.draw);
    const total = route.totalWeight;
    const destinations: TraceDestination[] = route.clusters.map((c) => ({ cluster: c.cluster, host: c.host, subset: c.subset, port: c.port, weight: c.weight, percent: total > 0 ? Math.round((c.weight * 10000) / total) / 100 : 100 }));
    this.#step('destination', 'ok', route.clusters.length > 1 ? `weighted: ${destinations.map((d) => `${d.host} ${d.percent}%`).join(', ')}; following ${wc.host}` : `${wc.host} port ${wc.port}`, sourceOf(route.source, kind));
    const cluster = this.#snapshot.clusters.get(wc.cluster);
    if (cluster === undefined) {
      this.#step('cluster', 'fail', `${wc.cluster}: no such cluster`);
      this.#closed('cluster_not_found', ResponseFlag.NC, fixClusterNotFound(this.#snapshot, route.source.resource, `spec.${kind}[${route.source.rule}].route[${route.clusters.indexOf(wc)}]`, wc.cluster));
      return;
    }
    traceCluster(this.#rec, cluster);
    let endpoint: string | null = null;
    if (cluster.type === 'original_dst') {
      endpoint = `${sni}:${wc.port}`;
      this.#step('endpoint', 'ok', `original destination: SNI ${sni} resolved by DNS, port ${wc.port}`);
    } else if (cluster.endpoints.length === 0) {
      this.#step('endpoint', 'fail', `${cluster.name} has no endpoints: the connection is closed (UH)`);
      this.#closed('no_healthy_upstream', ResponseFlag.UH, fixNoEndpoints(this.#snapshot, this.#store, cluster));
      return;
    } else {
      endpoint = cluster.endpoints.length === 1 ? `${cluster.endpoints[0]!.address}:${cluster.endpoints[0]!.port}` : null;
      this.#step('endpoint', endpoint !== null ? 'ok' : 'info', endpoint ?? `one of ${cluster.endpoints.map((e) => `${e.address}:${e.port}`).join(', ')} (${cluster.lb.policy})`);
    }
    this.#step('upstream_request', 'ok', `bytes proxied to ${wc.cluster}${chain.kind === 'tls_passthrough' ? ' (TLS passed through, not terminated)' : ''}`);
    this.#upstream = { cluster: wc.cluster, host: wc.host, subset: wc.subset, port: wc.port, destinations, path: '', authority: '', headers: [], head: null, endpoint, endpoints: cluster.endpoints.map((e) => `${e.address}:${e.port}`), loadBalancer: cluster.lb.policy, tls: null, timeoutMs: 0, mirrors: [] };
    this.#outcome = { kind: 'upstream', status: null, responseFlags: '-', details: 'tcp_proxy', headers: [], body: '', fix: null, accessLog: null };
  }

  /** The connection's AuthorizationPolicy decision; false when it closes the connection. */
  #networkRbac(conn: DownstreamConnection): boolean {
    const e = explainNetworkRbac(conn);
    const decidedBy = e.decidedBy === undefined ? undefined : { resource: e.decidedBy.resource, file: e.decidedBy.file ?? '', line: e.decidedBy.line ?? 0, col: e.decidedBy.col ?? 0, ...(e.decidedBy.rule !== undefined ? { path: e.decidedBy.rule } : {}) };
    this.#filters.push({ name: 'envoy.filters.network.rbac', verdict: e.verdict, summary: e.summary, ...(decidedBy !== undefined ? { decidedBy } : {}) });
    this.#step('filter', e.verdict === 'reply' ? 'fail' : 'ok', `envoy.filters.network.rbac: ${e.summary}`, decidedBy, e.steps);
    if (e.verdict !== 'reply') return true;
    this.#closed(e.details ?? 'rbac_access_denied', 0, e.fix ?? null);
    return false;
  }

  // ---------------------------------------------------------------- result

  #result(): Trace {
    const w = this.#snapshot.workload;
    const r = this.#route;
    return {
      request: this.#req,
      workload: { mode: w.mode, labels: w.labels, namespace: w.namespace },
      configVersion: this.#snapshot.version,
      listener: this.#listener?.name ?? null,
      filterChain: this.#chain?.name ?? null,
      routeConfig: this.#routeConfig?.name ?? null,
      virtualHost: this.#vhost?.name ?? null,
      route: r === null ? null : { name: r.name, index: this.#routeIndex, source: sourceOf(r.source) },
      l4Route: this.#l4 === null ? null : { name: this.#l4.name, source: sourceOf(this.#l4.source, this.#chain?.kind === 'tls_passthrough' ? 'tls' : 'tcp') },
      filters: this.#filters,
      upstream: this.#upstream,
      outcome: this.#outcome ?? { kind: 'closed', status: null, responseFlags: '-', details: 'unknown', headers: [], body: '', fix: null, accessLog: null },
      steps: this.#steps,
    };
  }
}
