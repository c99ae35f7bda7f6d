import type { HTTPMatchRequest, HTTPRoute } from '../api/types.js';
import type { Resource } from '../config/resource.js';
import { resourceRef } from '../config/resource.js';
import type { CompileContext } from './context.js';
import type { MergedServer } from './gateways.js';
import { compileHeaderMutation } from './header-mutation.js';
import { intersectHosts, normalizeHost } from './hosts.js';
import { compileRouteMatch } from './match/route-match.js';
import { gatewayRef, virtualHostName } from './names.js';
import { compileRouteAction, compileRouteFilters } from './route-action.js';
import type { Route, RouteConfiguration, VirtualHost } from './snapshot.js';
import { isVisible, selectorMatches } from './visibility.js';

type VS = Resource<'VirtualService'>;

interface VhostBuilder {
  name: string;
  domain: string;
  routes: Route[];
  requireTls: boolean;
}

/** VirtualServices visible to this workload that name one of `refs` in `gateways`. */
export function virtualServicesFor(ctx: CompileContext, refs: ReadonlySet<string>): VS[] {
  return ctx.store.list('VirtualService').filter((vs) => {
    if (!isVisible(vs.spec.exportTo ?? [], vs.namespace, ctx.workload.namespace)) return false;
    const gws = (vs.spec.gateways ?? ['mesh']).map((g) => gatewayRef(g, vs.namespace));
    return gws.some((g) => refs.has(g));
  });
}

/** Does the server host entry `ns/host` admit a VirtualService from `vsNamespace`? */
function serverAdmits(entryNs: string, gatewayNs: string, vsNamespace: string): boolean {
  return entryNs === '*' || (entryNs === '.' ? gatewayNs === vsNamespace : entryNs === vsNamespace);
}

/**
 * The route configuration for HTTP servers sharing one port (`http.<port>`) or for one
 * terminating HTTPS server. Virtual hosts are the intersections of VirtualService hosts with
 * server hosts; same-host VirtualServices merge, oldest first; a host with no VirtualService
 * on an `httpsRedirect` server still redirects; with no virtual host at all the port answers
 * 404 from a catch-all blackhole host, as Istio configures it.
 */
export function buildRouteConfiguration(ctx: CompileContext, name: string, servers: readonly MergedServer[], port: number): RouteConfiguration {
  const vhosts = new Map<string, VhostBuilder>();
  const refs = new Set(servers.map((s) => s.ref));
  const getVhost = (domain: string): VhostBuilder => {
    let v = vhosts.get(domain);
    if (v === undefined) vhosts.set(domain, (v = { name: virtualHostName(domain, port), domain, routes: [], requireTls: false }));
    return v;
  };

  for (const vs of virtualServicesFor(ctx, refs)) {
    const vsGateways = new Set((vs.spec.gateways ?? ['mesh']).map((g) => gatewayRef(g, vs.namespace)));
    const domains = new Set<string>();
    const redirectDomains = new Set<string>();
    const boundRefs = new Set<string>();
    for (const s of servers) {
      if (!vsGateways.has(s.ref)) continue;
      for (const rawHost of vs.spec.hosts ?? []) {
        const h = normalizeHost(rawHost, vs.namespace, ctx.workload.domainSuffix);
        for (const entry of s.hosts) {
          if (!serverAdmits(entry.namespace, s.gateway.namespace, vs.namespace)) continue;
          const inter = intersectHosts(h, entry.host);
          if (inter === null) continue;
          domains.add(inter);
          boundRefs.add(s.ref);
          if (s.server.tls?.httpsRedirect === true && s.protocol === 'HTTP') redirectDomains.add(inter);
        }
      }
    }
    if (domains.size === 0) continue;
    const routes = translateVirtualService(ctx, vs, boundRefs, port);
    for (const d of domains) {
      const v = getVhost(d);
      v.routes.push(...routes);
      if (redirectDomains.has(d)) v.requireTls = true;
    }
  }
  for (const s of servers) {
    if (s.server.tls?.httpsRedirect !== true || s.protocol !== 'HTTP') continue;
    for (const entry of s.hosts) getVhost(entry.host).requireTls = true;
  }
  let list: VirtualHost[] = [...vhosts.values()].map((v) => Object.freeze({ name: v.name, domains: Object.freeze([v.domain]), routes: Object.freeze(v.routes), requireTls: v.requireTls }));
  if (list.length === 0) list = [Object.freeze({ name: `blackhole:${port}`, domains: Object.freeze(['*']), routes: Object.freeze([]), requireTls: false })];
  return indexRouteConfiguration(name, list);
}

/** Builds the lookup index: exact names, suffix wildcards longest first, then `*`. */
export function indexRouteConfiguration(name: string, virtualHosts: readonly VirtualHost[]): RouteConfiguration {
  const exact = new Map<string, VirtualHost>();
  const suffixes: { suffix: string; vhost: VirtualHost }[] = [];
  let any: VirtualHost | null = null;
  for (const v of virtualHosts) {
    for (const d of v.domains) {
      if (d === '*') any ??= v;
      else if (d.startsWith('*')) suffixes.push({ suffix: d.slice(1), vhost: v });
      else if (!exact.has(d)) exact.set(d, v);
    }
  }
  suffixes.sort((a, b) => b.suffix.length - a.suffix.length);
  return Object.freeze({ name, virtualHosts: Object.freeze([...virtualHosts]), exact, suffixes: Object.freeze(suffixes), any });
}

/**
 * Translates a VirtualService's `http` rules for a gateway port: one route per kept match
 * block (blocks OR-ed, in order). Blocks whose `gateways`, `port`, `sourceLabels` or
 * `sourceNamespace` exclude this proxy are dropped; a rule whose blocks all drop disappears.
 */
export function translateVirtualService(ctx: CompileContext, vs: VS, boundRefs: ReadonlySet<string>, port: number): Route[] {
  const out: Route[] = [];
  (vs.spec.http ?? []).forEach((rule, ruleIndex) => {
    const at = ['spec', 'http', ruleIndex];
    if (rule.delegate !== undefined) {
      out.push(...translateDelegate(ctx, vs, rule, ruleIndex, boundRefs, port));
      return;
    }
    out.push(...translateRule(ctx, vs, vs, at, rule, ruleIndex, rule.match, boundRefs, port));
  });
  return out;
}

function keepBlock(ctx: CompileContext, vs: VS, m: HTTPMatchRequest, boundRefs: ReadonlySet<string>, port: number): boolean {
  if (m.gateways !== undefined && m.gateways.length > 0 && !m.gateways.some((g) => boundRefs.has(gatewayRef(g, vs.namespace)))) return false;
  if (m.port !== undefined && m.port !== port) return false;
  if (m.sourceLabels !== undefined && !selectorMatches(m.sourceLabels, ctx.workload.labels)) return false;
  if (m.sourceNamespace !== undefined && m.sourceNamespace !== ctx.workload.namespace) return false;
  return true;
}

function translateRule(ctx: CompileContext, root: VS, owner: VS, at: (string | number)[], rule: HTTPRoute, ruleIndex: number, matches: readonly HTTPMatchRequest[] | undefined, boundRefs: ReadonlySet<string>, port: number): Route[] {
  const blocks: (HTTPMatchRequest | undefined)[] = matches !== undefined && matches.length > 0 ? [...matches] : [undefined];
  const out: Route[] = [];
  const filters = compileRouteFilters(rule);
  const requestHeaders = compileHeaderMutation(rule.headers?.request);
  const responseHeaders = compileHeaderMutation(rule.headers?.response);
  blocks.forEach((m, matchIndex) => {
    if (m !== undefined && !keepBlock(ctx, root, m, boundRefs, port)) return;
    const match = compileRouteMatch(m);
    const pos = owner.pos(m !== undefined ? [...at, 'match', matchIndex] : at);
    const routeName = rule.name !== undefined ? (m?.name !== undefined ? `${rule.name}.${m.name}` : rule.name) : (m?.name ?? '');
    out.push(Object.freeze({
      name: routeName,
      match,
      action: compileRouteAction(ctx, owner, at, rule, match, port),
      requestHeaders,
      responseHeaders,
      filters,
      source: Object.freeze({ resource: resourceRef(owner), file: pos.file, line: pos.line, col: pos.col, rule: ruleIndex, match: m !== undefined ? matchIndex : -1 }),
    }));
  });
  return out;
}

/** A delegate rule splices in the child's rules, each child match AND-ed with the root's. */
function translateDelegate(ctx: CompileContext, vs: VS, rule: HTTPRoute, ruleIndex: number, boundRefs: ReadonlySet<string>, port: number): Route[] {
  const d = rule.delegate!;
  const ns = d.namespace ?? vs.namespace;
  const child = ctx.store.get('VirtualService', ns, d.name ?? '');
  const at = ['spec', 'http', ruleIndex, 'delegate'];
  if (child === undefined) {
    ctx.report(vs, at, 'IST0101', 'warning', `delegate VirtualService ${ns}/${d.name} not found; its routes are missing`, 'create the delegate VirtualService or fix delegate.name/namespace');
    return [];
  }
  if (!isVisible(child.spec.exportTo ?? [], child.namespace, vs.namespace)) {
    ctx.report(vs, at, 'IST0101', 'warning', `delegate VirtualService ${ns}/${d.name} is not exported to namespace ${vs.namespace}`, `add ${vs.namespace} to its exportTo`);
    return [];
  }
  const out: Route[] = [];
  const rootBlocks: (HTTPMatchRequest | undefined)[] = rule.match !== undefined && rule.match.length > 0 ? rule.match : [undefined];
  (child.spec.http ?? []).forEach((childRule, childIndex) => {
    if (childRule.delegate !== undefined) return; // one level only
    const childBlocks: (HTTPMatchRequest | undefined)[] = childRule.match !== undefined && childRule.match.length > 0 ? childRule.match : [undefined];
    const merged: HTTPMatchRequest[] = [];
    for (const r of rootBlocks) for (const c of childBlocks) {
      const m = mergeMatch(r, c);
      if (m !== null) merged.push(m);
    }
    if (merged.length === 0) return;
    out.push(...translateRule(ctx, vs, child, ['spec', 'http', childIndex], childRule, childIndex, merged, boundRefs, port));
  });
  return out;
}

/** AND of a root and a child match (Istio mergeHTTPMatchRequest); null when impossible. */
function mergeMatch(root: HTTPMatchRequest | undefined, child: HTTPMatchRequest | undefined): HTTPMatchRequest | null {
  if (root === undefined) return child ?? {};
  if (child === undefined) return { ...root };
  const out: HTTPMatchRequest = { ...root };
  if (child.uri !== undefined) {
    if (root.uri === undefined) out.uri = child.uri;
    else {
      const rp = root.uri.prefix;
      const cv = child.uri.prefix ?? child.uri.exact;
      if (rp !== undefined && cv !== undefined && cv.startsWith(rp)) out.uri = child.uri;
      else if (JSON.stringify(root.uri) !== JSON.stringify(child.uri)) return null;
    }
  }
  for (const k of ['scheme', 'method', 'authority'] as const) {
    if (child[k] === undefined) continue;
    if (root[k] !== undefined && JSON.stringify(root[k]) !== JSON.stringify(child[k])) return null;
    out[k] = child[k];
  }
  if (child.port !== undefined) {
    if (root.port !== undefined && root.port !== child.port) return null;
    out.port = child.port;
  }
  if (child.headers !== undefined) out.headers = { ...(root.headers ?? {}), ...child.headers };
  if (child.withoutHeaders !== undefined) out.withoutHeaders = { ...(root.withoutHeaders ?? {}), ...child.withoutHeaders };
  if (child.queryParams !== undefined) out.queryParams = { ...(root.queryParams ?? {}), ...child.queryParams };
  if (child.ignoreUriCase === true) out.ignoreUriCase = true;
  if (child.name !== undefined) out.name = root.name !== undefined ? `${root.name}-${child.name}` : child.name;
  return out;
}
