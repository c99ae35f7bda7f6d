import { CompileContext } from '../compile/context.js';
import { isPassthrough, isPlainHttp, mergeGatewayServers, type MergedServer } from '../compile/gateways.js';
import { hostCovers, lowerAscii, normalizeHost, stripPort } from '../compile/hosts.js';
import { gatewayRef } from '../compile/names.js';
import { buildRegistry } from '../compile/registry.js';
import type { Cluster, FilterChain, Listener, Snapshot, VirtualHost } from '../compile/snapshot.js';
import { isVisible, selectorMatches } from '../compile/visibility.js';
import { displayPath } from './format.js';
import type { Diagnostic } from '../config/diagnostic.js';
import type { ConfigStore } from '../config/store.js';

// What to add or change when a traced request does not get where it should. Each function
// answers one failure the data plane can produce, naming the resource and position to edit.
// With the config store (CLI, tests) the advice names Gateways and VirtualServices; from a
// bare snapshot (a running gateway) it names what the snapshot knows.

function where(file: string, line: number): string {
  return line > 0 ? ` (${displayPath(file)}:${line})` : '';
}

function labelsText(l: Readonly<Record<string, string>>): string {
  const e = Object.entries(l);
  return e.length === 0 ? '{}' : `{${e.map(([k, v]) => `${k}: ${v}`).join(', ')}}`;
}

/** Gateway servers this workload adopts, by port, computed by compile's own merge. */
function adoptedServers(snapshot: Snapshot, store: ConfigStore): Map<number, MergedServer[]> {
  const ctx = new CompileContext({ store, workload: snapshot.workload, mesh: {}, credentials: new Map(), files: new Map(), version: 0, meshCa: null }, buildRegistry(store, snapshot.workload.domainSuffix));
  return mergeGatewayServers(ctx);
}

function droppedServerReason(snapshot: Snapshot, gateway: string, index: number): Diagnostic | undefined {
  return snapshot.diagnostics.find((d) => d.resource === `Gateway ${gateway}` && d.path !== undefined && (d.path === `spec.servers[${index}]` || d.path.startsWith(`spec.servers[${index}].`)) && /not served|dropped/.test(d.message));
}

export function fixNoListener(snapshot: Snapshot, store: ConfigStore | null, port: number): string {
  const ports = snapshot.listeners.map((l) => l.port).join(', ') || 'none';
  if (store === null) return `this workload listens on Gateway ports [${ports}]; add a server with port.number ${port} to a Gateway whose selector matches labels ${labelsText(snapshot.workload.labels)}`;
  const labels = snapshot.workload.labels;
  for (const gw of store.list('Gateway')) {
    const i = gw.spec.servers.findIndex((s) => s.port.number === port);
    if (i < 0) continue;
    const at = gw.pos(['spec', 'servers', i]);
    if (!selectorMatches(gw.spec.selector ?? {}, labels)) {
      return `Gateway ${gw.namespace}/${gw.name}${where(at.file, at.line)} has a server on port ${port}, but its selector ${labelsText(gw.spec.selector ?? {})} does not match this workload's labels ${labelsText(labels)}: trace with --gateway ${Object.entries(gw.spec.selector ?? {}).map(([k, v]) => `${k}=${v}`).join(',')}, or change the selector`;
    }
    const d = droppedServerReason(snapshot, `${gw.namespace}/${gw.name}`, i);
    if (d !== undefined) return `Gateway ${gw.namespace}/${gw.name} servers[${i}]${where(at.file, at.line)} is not served: ${d.message}${d.fix !== undefined ? `; ${d.fix}` : ''}`;
  }
  return `no Gateway selecting labels ${labelsText(labels)} has a server on port ${port} (this workload listens on [${ports}]): add a server with port.number ${port} to one`;
}

export function fixNoChain(snapshot: Snapshot, store: ConfigStore | null, l: Listener, sni: string): string {
  const names = [...new Set(l.filterChains.flatMap((c) => c.serverNames))];
  if (store !== null && sni !== '') {
    // A passthrough server whose hosts cover the SNI has a chain only for the SNIs a tls route names.
    const s = (adoptedServers(snapshot, store).get(l.port) ?? []).find((x) => isPassthrough(x) && x.hosts.some((e) => hostCovers(e.host, sni)));
    if (s !== undefined) return `Gateway ${s.ref} servers[${s.index}] passes TLS for ${sni} through, but no VirtualService tls rule routes it: add a \`tls:\` rule with sniHosts [${sni}] and gateways [${s.ref}]`;
  }
  if (sni === '') return `the client sent no SNI and no server on port ${l.port} has host "*": send SNI (one of ${names.join(', ')}), or add a server with hosts ["*"]`;
  return `no server on port ${l.port} has a host matching SNI "${sni}" (server hosts: ${names.join(', ') || 'none'}): add "${sni}" (or a wildcard covering it) to the hosts of the HTTPS/TLS server on port ${l.port}`;
}

/** 404 with no virtual host: which server hosts and VirtualServices to fix. */
export function fixNoVirtualHost(snapshot: Snapshot, store: ConfigStore | null, l: Listener, chain: FilterChain, authority: string, vhosts: readonly VirtualHost[]): string {
  const host = lowerAscii(stripPort(authority));
  const domains = vhosts.flatMap((v) => v.domains).filter((d) => !d.startsWith('blackhole'));
  if (store === null) return `no virtual host of ${chain.routeConfigName} matches "${host}" (domains: ${domains.join(', ') || 'none'}): bind a VirtualService with host ${host} to this gateway's server on port ${l.port}`;
  const servers = (adoptedServers(snapshot, store).get(l.port) ?? []).filter((s) => (chain.tls === null ? isPlainHttp(s) : chain.origin !== null && s.ref === chain.origin.gateway && s.index === chain.origin.server));
  const covering = servers.filter((s) => s.hosts.some((e) => hostCovers(e.host, host)));
  if (covering.length === 0) {
    const s = servers[0];
    if (s === undefined) return `no server on port ${l.port} serves ${host}`;
    const at = s.gateway.pos(['spec', 'servers', s.index, 'hosts']);
    return `Gateway ${s.ref} servers[${s.index}]${where(at.file, at.line)} lists hosts [${s.server.hosts.join(', ')}], not ${host}: add "${host}" to its hosts, then bind a VirtualService with host ${host} to gateway ${s.ref}`;
  }
  const gwRefs = new Set(covering.map((s) => s.ref));
  const named = store.list('VirtualService').filter((vs) => (vs.spec.hosts ?? []).some((h) => hostCovers(normalizeHost(h, vs.namespace, snapshot.workload.domainSuffix), host) || hostCovers(host, normalizeHost(h, vs.namespace, snapshot.workload.domainSuffix))));
  for (const vs of named) {
    const gws = (vs.spec.gateways ?? ['mesh']).map((g) => gatewayRef(g, vs.namespace));
    const at = vs.pos(['spec', 'gateways']);
    if (!gws.some((g) => gwRefs.has(g))) {
      return `VirtualService ${vs.namespace}/${vs.name}${where(at.file, at.line)} has host ${host} but gateways [${vs.spec.gateways?.join(', ') ?? '(none: mesh only)'}] do not include ${[...gwRefs].join(' or ')}: add "${[...gwRefs][0]}" to its gateways`;
    }
    if (!isVisible(vs.spec.exportTo ?? [], vs.namespace, snapshot.workload.namespace)) {
      return `VirtualService ${vs.namespace}/${vs.name} is not exported to namespace ${snapshot.workload.namespace} where this gateway runs: add it to exportTo`;
    }
    const entries = covering.flatMap((s) => s.hosts.filter((e) => hostCovers(e.host, host)).map((e) => e.namespace));
    if (entries.every((ns) => ns !== '*' && ns !== vs.namespace && ns !== '.')) {
      return `the server host entry for ${host} only admits VirtualServices from namespace ${entries.join(', ')}, and ${vs.namespace}/${vs.name} is in ${vs.namespace}: move it, or write the server host as "*/${host}" or "${vs.namespace}/${host}"`;
    }
  }
  const s = covering[0]!;
  return `Gateway ${s.ref} serves ${host} on port ${l.port} but no VirtualService binds it: add a VirtualService with hosts [${host}] and gateways [${s.ref}]`;
}

/** 503 NC: the compile diagnostic that explains why the route's cluster is missing. */
export function fixClusterNotFound(snapshot: Snapshot, resource: string, pathPrefix: string, cluster: string): string {
  const d = snapshot.diagnostics.find((x) => x.resource === resource && x.path !== undefined && x.path.startsWith(pathPrefix));
  if (d !== undefined) return `${d.message}${d.fix !== undefined ? `; fix: ${d.fix}` : ''}${d.file !== undefined ? ` (${displayPath(d.file)}:${d.line ?? 0})` : ''}`;
  return `cluster ${cluster} does not exist: the destination's host, port or subset is unknown; add a ServiceEntry (or Service) for the host with that port, and the subset to a DestinationRule`;
}

/** 503 UH: why the cluster has no endpoint, and where endpoints come from. */
export function fixNoEndpoints(snapshot: Snapshot, store: ConfigStore | null, c: Cluster): string {
  const origin = c.origins[0] ?? `the service ${c.serviceHost}`;
  if (c.subset !== '') {
    let labels = '';
    if (store !== null) {
      const registry = buildRegistry(store, snapshot.workload.domainSuffix);
      const svc = registry.lookup(c.serviceHost, snapshot.workload.namespace);
      if (svc !== undefined) labels = `; its endpoints carry labels ${svc.endpoints.map((e) => labelsText(e.labels)).join(', ') || '(no endpoints at all)'}`;
    }
    const dr = c.origins.find((o) => o.startsWith('DestinationRule'));
    return `subset ${c.subset} selects no endpoint of ${c.serviceHost}${labels}: fix the subset's labels in ${dr ?? 'its DestinationRule'}, or add endpoints with those labels to ${origin}`;
  }
  return `${origin} has no endpoints for port ${c.port}: add endpoints (or Endpoints/EndpointSlices for a Service)`;
}
