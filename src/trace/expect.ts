import type { Trace } from './types.js';

/**
 * What a routing test expects of a request. Every key is optional; a case checks only what it
 * names. Host names may be short (`api-service`) or fully qualified; header values may be
 * `/regex/`.
 */
export interface Expectation {
  /** Local reply status; 200 stands for "forwarded upstream" (the backend answers). */
  status?: number;
  /** The connection is closed or refused (no listener, no chain, TLS refused, no L4 route). */
  closed?: boolean;
  flags?: string;
  details?: string;
  /** Destination host (`host` or `host:port`); on a split route use `weights`. */
  destination?: string;
  subset?: string;
  port?: number;
  cluster?: string;
  /** Destination host → percent of traffic, for weighted routes. */
  weights?: Record<string, number>;
  endpoint?: string;
  /** Path and authority sent upstream (after rewrites). */
  path?: string;
  authority?: string;
  /** Headers the upstream receives. */
  headers?: Record<string, string>;
  absentHeaders?: string[];
  /** Location of a redirect (any 3xx). */
  redirect?: string;
  /** Headers and body of a local reply. */
  responseHeaders?: Record<string, string>;
  body?: string;
  /** The VirtualService (`name` or `namespace/name`) and its http rule index that route the request. */
  virtualService?: string;
  rule?: number;
  routeName?: string;
  listener?: string;
  filterChain?: string;
  routeConfig?: string;
  virtualHost?: string;
  /** Denied by authorization (403, or the TCP connection closed by RBAC). */
  deny?: boolean;
  /** Refused by a rate limit (429, flag RL). */
  rateLimited?: boolean;
  /**
   * The policy that decided, as trace names it: `AuthorizationPolicy ns/name`,
   * `RequestAuthentication ns/name`, `EnvoyFilter ns/name`, optionally followed by the rule
   * (`AuthorizationPolicy ns/name spec.rules[0]`). The filter that answered the request when
   * one did; otherwise any filter that let it through citing a policy.
   */
  decidedBy?: string;
}

export const EXPECTATION_KEYS: readonly (keyof Expectation)[] = [
  'status', 'closed', 'flags', 'details', 'destination', 'subset', 'port', 'cluster', 'weights', 'endpoint', 'path', 'authority',
  'headers', 'absentHeaders', 'redirect', 'responseHeaders', 'body', 'virtualService', 'rule', 'routeName', 'listener',
  'filterChain', 'routeConfig', 'virtualHost', 'deny', 'rateLimited', 'decidedBy',
];

/** One mismatch: the key, what the case wants, what the trace shows. */
export interface Difference {
  readonly key: string;
  readonly expected: string;
  readonly actual: string;
}

function show(v: unknown): string {
  if (v === undefined || v === null) return '(none)';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function valueMatches(want: string, got: string | undefined): boolean {
  if (got === undefined) return false;
  if (want.length > 1 && want.startsWith('/') && want.endsWith('/')) return new RegExp(want.slice(1, -1)).test(got);
  return want === got;
}

/** Does `want` (short `api`, `api.ns`, FQDN, optionally `:port`) name the host `got`? */
export function hostMatches(want: string, got: string, gotPort?: number): boolean {
  let w = want.toLowerCase();
  const colon = w.lastIndexOf(':');
  if (colon > 0 && /^\d+$/.test(w.slice(colon + 1))) {
    if (gotPort !== undefined && Number(w.slice(colon + 1)) !== gotPort) return false;
    w = w.slice(0, colon);
  }
  if (got === w) return true;
  return got.endsWith('.svc.cluster.local') && got.startsWith(`${w}.`) && (!w.includes('.') || got === `${w}.svc.cluster.local`);
}

function headerOf(list: readonly (readonly [string, string])[], name: string): string | undefined {
  const lower = name.toLowerCase();
  let out: string | undefined;
  for (const [n, v] of list) if (n.toLowerCase() === lower) out = out === undefined ? v : `${out},${v}`;
  return out;
}

function shortHost(h: string): string {
  return h.endsWith('.svc.cluster.local') ? h.split('.')[0]! : h;
}

/** Compares a trace with an expectation; an empty list means the case passes. */
export function compareTrace(t: Trace, e: Expectation): Difference[] {
  const d: Difference[] = [];
  const o = t.outcome;
  const u = t.upstream;
  const push = (key: string, expected: unknown, actual: unknown): void => { d.push({ key, expected: show(expected), actual: show(actual) }); };
  const forwarded = o.kind === 'upstream';
  const actualStatus = forwarded ? 200 : o.status;
  const describeOutcome = (): string => (forwarded ? `forwarded to ${u?.cluster}` : o.kind === 'closed' ? `connection closed (${o.details})` : `${o.status} ${o.responseFlags} ${o.details}`);

  if (e.status !== undefined && actualStatus !== e.status) push('status', e.status, `${actualStatus ?? 'closed'} — ${describeOutcome()}`);
  if (e.closed !== undefined && (o.kind === 'closed') !== e.closed) push('closed', e.closed, describeOutcome());
  if (e.flags !== undefined && o.responseFlags !== e.flags) push('flags', e.flags, o.responseFlags);
  if (e.details !== undefined && o.details !== e.details) push('details', e.details, o.details);

  const needsUpstream = e.destination !== undefined || e.subset !== undefined || e.port !== undefined || e.cluster !== undefined || e.weights !== undefined || e.endpoint !== undefined || e.path !== undefined || e.authority !== undefined || e.headers !== undefined || e.absentHeaders !== undefined;
  if (needsUpstream && (!forwarded || u === null)) {
    push('forwarded', 'to an upstream', describeOutcome());
  } else if (u !== null) {
    const live = u.destinations.filter((x) => x.weight > 0);
    if (e.destination !== undefined) {
      if (live.length > 1) push('destination', e.destination, `a weighted split: ${live.map((x) => `${shortHost(x.host)} ${x.percent}%`).join(', ')} (state it with weights:)`);
      else if (!hostMatches(e.destination, u.host, u.port)) push('destination', e.destination, `${u.host}:${u.port}`);
    }
    if (e.subset !== undefined && u.subset !== e.subset) push('subset', e.subset, u.subset === '' ? '(no subset)' : u.subset);
    if (e.port !== undefined && u.port !== e.port) push('port', e.port, u.port);
    if (e.cluster !== undefined && u.cluster !== e.cluster) push('cluster', e.cluster, u.cluster);
    if (e.weights !== undefined) {
      const got: Record<string, number> = {};
      for (const x of u.destinations) got[shortHost(x.host) + (x.subset !== '' ? `/${x.subset}` : '')] = x.percent;
      const want = Object.entries(e.weights);
      const ok = want.length === u.destinations.length && want.every(([h, p]) => u.destinations.some((x) => (hostMatches(h.split('/')[0]!, x.host) && (h.includes('/') ? x.subset === h.split('/')[1] : true)) && Math.abs(x.percent - p) < 0.01));
      if (!ok) push('weights', e.weights, got);
    }
    if (e.endpoint !== undefined && u.endpoint !== e.endpoint) push('endpoint', e.endpoint, u.endpoint ?? `one of ${u.endpoints.join(', ')} (decided at run time)`);
    if (e.path !== undefined && u.path !== e.path) push('path', e.path, u.path);
    if (e.authority !== undefined && u.authority !== e.authority) push('authority', e.authority, u.authority);
    for (const [k, v] of Object.entries(e.headers ?? {})) {
      const got = headerOf(u.headers, k);
      if (!valueMatches(String(v), got)) push(`headers.${k}`, v, got);
    }
    for (const k of e.absentHeaders ?? []) {
      const got = headerOf(u.headers, k);
      if (got !== undefined) push(`absentHeaders.${k}`, '(absent)', got);
    }
  }

  if (e.redirect !== undefined) {
    const loc = headerOf(o.headers, 'location');
    const is3xx = o.kind === 'local_reply' && o.status !== null && o.status >= 300 && o.status < 400;
    if (!is3xx || loc !== e.redirect) push('redirect', e.redirect, is3xx ? loc : describeOutcome());
  }
  for (const [k, v] of Object.entries(e.responseHeaders ?? {})) {
    const got = headerOf(o.headers, k);
    if (!valueMatches(String(v), got)) push(`responseHeaders.${k}`, v, got);
  }
  if (e.body !== undefined && o.body !== e.body) push('body', e.body, o.body);

  const rs = t.route?.source;
  if (e.virtualService !== undefined) {
    const got = rs?.resource.replace(/^VirtualService /, '');
    const want = e.virtualService;
    if (got === undefined || !(got === want || got.endsWith(`/${want}`))) push('virtualService', want, got ?? '(no route)');
  }
  if (e.rule !== undefined) {
    const m = /^spec\.http\[(\d+)\]/.exec(rs?.path ?? '');
    const got = m !== null ? Number(m[1]) : undefined;
    if (got !== e.rule) push('rule', e.rule, got ?? '(no route)');
  }
  if (e.routeName !== undefined && t.route?.name !== e.routeName) push('routeName', e.routeName, t.route?.name);
  if (e.listener !== undefined && t.listener !== e.listener) push('listener', e.listener, t.listener);
  if (e.filterChain !== undefined && t.filterChain !== e.filterChain) push('filterChain', e.filterChain, t.filterChain);
  if (e.routeConfig !== undefined && t.routeConfig !== e.routeConfig) push('routeConfig', e.routeConfig, t.routeConfig);
  if (e.virtualHost !== undefined && t.virtualHost !== e.virtualHost) push('virtualHost', e.virtualHost, t.virtualHost);
  if (e.deny !== undefined) {
    const denied = t.filters.some((f) => f.verdict === 'reply' && /rbac|authz/.test(f.name)) && (o.status === 403 || o.kind === 'closed');
    if (denied !== e.deny) push('deny', e.deny, denied ? `denied by ${t.filters.find((f) => f.verdict === 'reply')?.name}` : `not denied — ${describeOutcome()}`);
  }
  if (e.rateLimited !== undefined) {
    const limited = o.status === 429 && o.responseFlags.includes('RL');
    if (limited !== e.rateLimited) push('rateLimited', e.rateLimited, limited ? 'rate limited (429 RL)' : `not rate limited — ${describeOutcome()}`);
  }
  if (e.decidedBy !== undefined) {
    const replied = t.filters.find((f) => f.verdict === 'reply');
    const named = (replied !== undefined ? [replied] : t.filters.filter((f) => f.verdict !== 'skip')).filter((f) => f.decidedBy !== undefined);
    const names = named.map((f) => decidedByText(f.decidedBy!));
    if (!names.some((n) => n === e.decidedBy || n.startsWith(`${e.decidedBy} `))) push('decidedBy', e.decidedBy, names.length > 0 ? names.join('; ') : `no policy decided — ${describeOutcome()}`);
  }
  return d;
}

/** `AuthorizationPolicy ns/name spec.rules[0]`: a filter decision's policy and rule. */
export function decidedByText(b: NonNullable<Trace['filters'][number]['decidedBy']>): string {
  const rule = 'path' in b ? b.path : 'rule' in b ? b.rule : undefined;
  return rule !== undefined ? `${b.resource} ${rule}` : b.resource;
}
