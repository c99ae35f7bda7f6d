import type { Destination, HTTPMatchRequest, L4MatchAttributes } from '../api/types.js';
import { intersectHosts, normalizeHost, splitServerHost } from '../compile/hosts.js';
import { gatewayRef } from '../compile/names.js';
import type { Resource } from '../config/resource.js';

// Small shared readers of VirtualService/Gateway specs for analyzers. Host and gateway-name
// rules come from compile (normalizeHost, gatewayRef, intersectHosts) so analyze and the data
// plane agree on what binds to what.

export type VS = Resource<'VirtualService'>;
export type GW = Resource<'Gateway'>;
export type Path = (string | number)[];

/** The VirtualService's gateways as `ns/name` (or `mesh`); absent means `[mesh]`. */
export function gatewaysOf(vs: VS): string[] {
  return (vs.spec.gateways ?? ['mesh']).map((g) => gatewayRef(g, vs.namespace));
}

export function isMeshBound(vs: VS): boolean {
  return gatewaysOf(vs).includes('mesh');
}

/** Does a Gateway server host entry (`ns/host`) admit a VirtualService from `vsNamespace`? */
export function serverAdmits(entryNs: string, gatewayNs: string, vsNamespace: string): boolean {
  return entryNs === '*' || (entryNs === '.' ? gatewayNs === vsNamespace : entryNs === vsNamespace);
}

/** Does any host entry of the given server hosts bind VirtualService host `host` (normalised) from `vsNamespace`? */
export function serverHostsBind(hosts: readonly string[], gatewayNs: string, host: string, vsNamespace: string): boolean {
  return hosts.some((raw) => {
    const e = splitServerHost(raw);
    return serverAdmits(e.namespace, gatewayNs, vsNamespace) && intersectHosts(host, e.host) !== null;
  });
}

export function vsHosts(vs: VS, domainSuffix: string): string[] {
  return (vs.spec.hosts ?? []).map((h) => normalizeHost(h, vs.namespace, domainSuffix));
}

/** Every destination of a VirtualService (http/tls/tcp routes and mirrors) with its field path. */
export function destinationsOf(vs: VS): { d: Destination; path: Path; kind: 'http' | 'tls' | 'tcp'; rule: number; weight: number | undefined; siblings: number }[] {
  const out: { d: Destination; path: Path; kind: 'http' | 'tls' | 'tcp'; rule: number; weight: number | undefined; siblings: number }[] = [];
  (vs.spec.http ?? []).forEach((r, i) => {
    (r.route ?? []).forEach((rd, j) => out.push({ d: rd.destination, path: ['spec', 'http', i, 'route', j, 'destination'], kind: 'http', rule: i, weight: rd.weight, siblings: (r.route ?? []).length }));
    if (r.mirror !== undefined) out.push({ d: r.mirror, path: ['spec', 'http', i, 'mirror'], kind: 'http', rule: i, weight: undefined, siblings: 1 });
    (r.mirrors ?? []).forEach((m, j) => out.push({ d: m.destination, path: ['spec', 'http', i, 'mirrors', j, 'destination'], kind: 'http', rule: i, weight: undefined, siblings: 1 }));
  });
  (vs.spec.tls ?? []).forEach((r, i) => (r.route ?? []).forEach((rd, j) => out.push({ d: rd.destination, path: ['spec', 'tls', i, 'route', j, 'destination'], kind: 'tls', rule: i, weight: rd.weight, siblings: (r.route ?? []).length })));
  (vs.spec.tcp ?? []).forEach((r, i) => (r.route ?? []).forEach((rd, j) => out.push({ d: rd.destination, path: ['spec', 'tcp', i, 'route', j, 'destination'], kind: 'tcp', rule: i, weight: rd.weight, siblings: (r.route ?? []).length })));
  return out;
}

/**
 * The gateways a rule applies at: the match blocks' `gateways` when every block names some,
 * else the VirtualService's (a block without `gateways` inherits them).
 */
export function ruleGateways(vs: VS, matches: readonly (HTTPMatchRequest | L4MatchAttributes)[] | undefined): Set<string> {
  const top = gatewaysOf(vs);
  if (matches === undefined || matches.length === 0) return new Set(top);
  const out = new Set<string>();
  for (const m of matches) {
    const g = m.gateways;
    if (g === undefined || g.length === 0) for (const t of top) out.add(t);
    else for (const x of g) out.add(gatewayRef(x, vs.namespace));
  }
  return out;
}

export function labelsText(l: Readonly<Record<string, string>>): string {
  const e = Object.entries(l);
  return e.length === 0 ? '{}' : `{${e.map(([k, v]) => `${k}: ${v}`).join(', ')}}`;
}

/** `ns/name` of a resource. */
export function refOf(r: Resource): string {
  return `${r.namespace}/${r.name}`;
}

/** Position text `file:line` for messages that point at a second place. */
export function at(r: Resource, path: Path): string {
  const p = r.pos(path);
  return `${p.file}:${p.line}`;
}
