// VirtualService: the CRD shape and istio/istio ValidateVirtualService — hosts (with the gateway
// and mesh variants), delegation, `tls:`/`tcp:` rules with sniHosts inside the hosts, exportTo.
// `http:` rules are in virtual-service-http.ts.

import type { HTTPRoute, TCPRoute, TLSRoute } from '../types.js';
import type { KindValidator, Path, ValidationContext } from './context.js';
import { checkExportTo, checkLabels, portNumberSchema } from './common.js';
import { checkIstioDocument } from './document.js';
import { hostFix, hostsIntersect, hostSubsetOf, isDns1123Label, isIpAddress, wildcardDomainError } from './names.js';
import { ipOrCidrError } from './net.js';
import { list, map, obj, str, stringList } from './schema.js';
import { checkWeights, CODE_NO_EFFECT, routeDestinationSchema } from './virtual-service-actions.js';
import { gatewayNameErrors, MESH_GATEWAY } from './virtual-service-gateways.js';
import { checkHttpRoute, httpRouteSchema, type HttpRouteType } from './virtual-service-http.js';
import { cleanItems, isPlainObject, shaped } from './walk.js';

const l4MatchFields = {
  destinationSubnets: stringList(),
  port: portNumberSchema,
  sourceLabels: map(str()),
  gateways: stringList(),
  sourceNamespace: str(),
};

const tlsRouteSchema = obj(
  { match: list(obj({ ...l4MatchFields, sniHosts: stringList({ minItems: 1 }) }, { required: ['sniHosts'] }), { minItems: 1 }), route: list(routeDestinationSchema, { minItems: 1 }) },
  { required: ['match', 'route'] },
);
const tcpRouteSchema = obj({ match: list(obj(l4MatchFields)), route: list(routeDestinationSchema, { minItems: 1 }) }, { required: ['route'] });

const vsSpecSchema = obj({
  hosts: stringList(),
  gateways: stringList(),
  http: list(httpRouteSchema),
  tls: list(tlsRouteSchema),
  tcp: list(tcpRouteSchema),
  exportTo: stringList(),
});

/** agent.ValidateWildcardDomainForVirtualServiceBoundToGateway: also `outbound_.<port>_...` SNI names. */
function gatewayHostError(host: string, sni: boolean): string | undefined {
  if (sni && host.startsWith('outbound_.')) return /^outbound_.[0-8]/.test(host) ? undefined : `domain name "${host}" invalid (label "outbound_" invalid)`;
  return wildcardDomainError(host);
}

interface VsView {
  hosts: string[];
  gateways: string[];
  appliesToGateway: boolean;
}

function checkHosts(sni: boolean, v: VsView, ctx: ValidationContext): void {
  const appliesToMesh = !v.appliesToGateway;
  let allValid = true;
  v.hosts.forEach((h, i) => {
    const p = ['spec', 'hosts', i];
    const e = v.appliesToGateway ? gatewayHostError(h, sni) : wildcardDomainError(h);
    if (e !== undefined) {
      if (isIpAddress(h)) {
        // Istio accepts IP hosts everywhere, but sidecars never see an IP as Host/SNI.
        if (!v.appliesToGateway) ctx.warning(p, `IP address host "${h}" only matches at gateways (Host: ${h}); sidecars route by service name`, 'use the service host name, or bind the VirtualService to a gateway', CODE_NO_EFFECT);
        return;
      }
      ctx.error(p, e, hostFix(h));
      allValid = false;
    } else if (appliesToMesh && h === '*') {
      ctx.error(p, 'wildcard host * is not allowed for virtual services bound to the mesh gateway', v.gateways.length === 0 ? 'gateways is omitted, which means [mesh]: list your gateway under gateways, or name the hosts' : 'remove "mesh" from gateways, or name the hosts explicitly');
      allValid = false;
    }
  });
  if (!allValid) return;
  for (let i = 0; i < v.hosts.length; i++) {
    for (let j = i + 1; j < v.hosts.length; j++) {
      if (hostsIntersect(v.hosts[i]!, v.hosts[j]!)) ctx.error(['spec', 'hosts', j], `duplicate hosts in virtual service: ${v.hosts[i]} & ${v.hosts[j]}`, 'list each host once; a wildcard already covers the names below it');
    }
  }
}

function checkL4Match(m: TLSRoute['match'][number] | NonNullable<TCPRoute['match']>[number], path: Path, ctx: ValidationContext): void {
  (m.destinationSubnets ?? []).forEach((s, i) => {
    const e = ipOrCidrError(s);
    if (e !== undefined) ctx.error([...path, 'destinationSubnets', i], e, 'write an IP (10.0.0.1) or CIDR block (10.0.0.0/16)');
  });
  if (m.sourceLabels !== undefined) checkLabels(m.sourceLabels, [...path, 'sourceLabels'], ctx);
  (m.gateways ?? []).forEach((g, i) => {
    for (const f of gatewayNameErrors(g)) ctx[f.level]([...path, 'gateways', i], f.message, f.fix);
  });
  if (m.sourceNamespace !== undefined && m.sourceNamespace !== '' && !isDns1123Label(m.sourceNamespace)) ctx.error([...path, 'sourceNamespace'], `sourceNamespace match ${m.sourceNamespace} is invalid`);
}

/** validateSniHost: a valid (wildcard) name that falls within one of the VS hosts. */
function checkSniHost(sni: string, path: Path, v: VsView, ctx: ValidationContext): void {
  const e = v.appliesToGateway ? gatewayHostError(sni, true) : wildcardDomainError(sni);
  if (e !== undefined) {
    if (isIpAddress(sni)) ctx.warning(path, `using an IP address ("${sni}") goes against SNI spec and most clients do not support this`);
    else ctx.error(path, e, hostFix(sni));
    return;
  }
  if (!v.hosts.some((h) => hostSubsetOf(sni, h))) {
    ctx.error(path, `SNI host "${sni}" is not a compatible subset of any of the virtual service hosts: [${v.hosts.join(', ')}]`, `add "${sni}" (or a wildcard covering it) to spec.hosts, or narrow sniHosts to names under the hosts`);
  }
}

function checkTlsRoute(r: TLSRoute, path: Path, v: VsView, ctx: ValidationContext): void {
  r.match.forEach((m, i) => {
    const mp = [...path, 'match', i];
    m.sniHosts.forEach((s, j) => checkSniHost(s, [...mp, 'sniHosts', j], v, ctx));
    checkL4Match(m, mp, ctx);
  });
  if (r.route !== undefined) checkWeights(r.route, [...path, 'route'], ctx);
}

function checkTcpRoute(r: TCPRoute, path: Path, ctx: ValidationContext): void {
  (r.match ?? []).forEach((m, i) => checkL4Match(m, [...path, 'match', i], ctx));
  if (r.route !== undefined) checkWeights(r.route, [...path, 'route'], ctx);
}

/** The well-shaped strings of a string list. */
const strings = (v: unknown): string[] => cleanItems(v as string[]).map(([x]) => x);

/** Cross-field rules on the well-shaped parts of the spec (lists item by item). */
function checkVirtualService(raw: Record<string, unknown>, ctx: ValidationContext): void {
  const hosts = strings(raw.hosts);
  const gateways = strings(raw.gateways);
  const http = cleanItems(raw.http as HTTPRoute[]);
  const tls = cleanItems(raw.tls as TLSRoute[]);
  const tcp = cleanItems(raw.tcp as TCPRoute[]);
  const v: VsView = { hosts, gateways, appliesToGateway: gateways.length > 0 && !gateways.includes(MESH_GATEWAY) };
  const isDelegate = raw.hosts === undefined || (Array.isArray(raw.hosts) && raw.hosts.length === 0);
  const count = (x: unknown): number => (Array.isArray(x) ? x.length : 0);
  if (isDelegate) {
    if (count(raw.gateways) > 0) ctx.error(['spec', 'gateways'], 'delegate virtual service must have no gateways specified', 'a VirtualService without hosts is a delegate; add hosts, or remove gateways (the root VirtualService binds them)');
    if (count(raw.tls) > 0) ctx.error(['spec', 'tls'], 'delegate virtual service must have no tls route specified', 'only http rules can be delegated; add hosts to make this a root VirtualService');
    if (count(raw.tcp) > 0) ctx.error(['spec', 'tcp'], 'delegate virtual service must have no tcp route specified', 'only http rules can be delegated; add hosts to make this a root VirtualService');
  }
  gateways.forEach((g, i) => {
    for (const f of gatewayNameErrors(g)) ctx[f.level](['spec', 'gateways', i], f.message, f.fix);
  });
  checkHosts(tls.some(([r]) => r.match.some((m) => m.sniHosts.length > 0)), v, ctx);
  if (count(raw.http) === 0 && count(raw.tcp) === 0 && count(raw.tls) === 0) {
    ctx.error(['spec'], 'http, tcp or tls must be provided in virtual service', 'add http: [{route: [{destination: {host: ...}}]}] (or tls/tcp rules)');
  }
  for (const [r, i] of http) {
    const type: HttpRouteType = isDelegate ? 'delegate' : r.delegate !== undefined ? 'root' : 'independent';
    checkHttpRoute(r, ['spec', 'http', i], ctx, type, v.appliesToGateway);
  }
  for (const [r, i] of tls) checkTlsRoute(r, ['spec', 'tls', i], v, ctx);
  for (const [r, i] of tcp) checkTcpRoute(r, ['spec', 'tcp', i], ctx);
  if (shaped(raw.exportTo)) checkExportTo(raw.exportTo as string[], ['spec', 'exportTo'], ctx);
}

export const validateVirtualService: KindValidator = (body, ctx) => {
  checkIstioDocument(body, vsSpecSchema, ctx, true);
  if (isPlainObject(body.spec)) checkVirtualService(body.spec, ctx);
};
