import type { ServerTLSSettings } from '../api/types.js';
import type { CompileContext } from './context.js';
import { isPassthrough, isPlainHttp, mergeGatewayServers, terminatesTls, type MergedServer } from './gateways.js';
import { buildRouteConfiguration } from './http-routes.js';
import { buildTcpRoutes, buildTlsRoutes } from './l4-routes.js';
import { httpRouteConfigName, httpsRouteConfigName, listenerName } from './names.js';
import { DEFAULT_LISTENER_POLICIES, type ListenerPolicies } from './policies.js';
import { meshSecret, resolveCredential, resolveFiles } from './secrets.js';
import type { FilterChain, Listener, RouteConfiguration, ServerTls } from './snapshot.js';

const TLS_VERSIONS: Record<string, string> = { TLSV1_0: 'TLSv1', TLSV1_1: 'TLSv1.1', TLSV1_2: 'TLSv1.2', TLSV1_3: 'TLSv1.3' };

export interface GatewayListeners {
  listeners: Listener[];
  routeConfigs: Map<string, RouteConfiguration>;
}

/**
 * One listener per bind port from every Gateway this workload adopts (Istio's
 * buildGatewayListeners): plaintext HTTP servers on a port share one route table; each
 * terminating HTTPS server is its own SNI-selected chain with its own table; passthrough
 * servers route by SNI; TCP servers carry `tcp` routes.
 */
export function buildGatewayListeners(ctx: CompileContext, policies: (port: number) => ListenerPolicies = () => DEFAULT_LISTENER_POLICIES): GatewayListeners {
  const listeners: Listener[] = [];
  const routeConfigs = new Map<string, RouteConfiguration>();
  for (const [port, servers] of [...mergeGatewayServers(ctx)].sort((a, b) => a[0] - b[0])) {
    const bindPort = servers[0]!.bindPort;
    const chains: FilterChain[] = [];
    const listenerPolicies = policies(port);
    const http = servers.filter(isPlainHttp);
    if (http.length > 0) {
      const name = httpRouteConfigName(port);
      routeConfigs.set(name, buildRouteConfiguration(ctx, name, http, port));
      chains.push(chain({ name, serverNames: [], tls: null, kind: 'http', routeConfigName: name, l4Routes: [], httpsRedirect: http.some((s) => s.server.tls?.httpsRedirect === true), policies: listenerPolicies, origin: origin(http[0]!) }));
    }
    for (const s of servers) {
      if (isPlainHttp(s)) continue;
      const serverNames = s.hosts.map((h) => h.host).filter((h) => h !== '*');
      if (terminatesTls(s)) {
        const tls = compileServerTls(ctx, s);
        if (tls === null) continue;
        if (s.protocol === 'HTTPS') {
          const name = httpsRouteConfigName(port, s.server.port.name, s.gateway.name, s.gateway.namespace);
          routeConfigs.set(name, buildRouteConfiguration(ctx, name, [s], port));
          chains.push(chain({ name, serverNames, tls, kind: 'http', routeConfigName: name, l4Routes: [], httpsRedirect: false, policies: listenerPolicies, origin: origin(s) }));
        } else {
          chains.push(chain({ name: `tls.${port}.${s.server.port.name}.${s.gateway.name}.${s.gateway.namespace}`, serverNames, tls, kind: 'tcp', routeConfigName: null, l4Routes: buildTcpRoutes(ctx, s), httpsRedirect: false, policies: listenerPolicies, origin: origin(s) }));
        }
      } else if (isPassthrough(s)) {
        if (s.tlsMode === 'AUTO_PASSTHROUGH') {
          ctx.report(s.gateway, ['spec', 'servers', s.index, 'tls', 'mode'], 'SLU0202', 'warning', 'AUTO_PASSTHROUGH (multi-network SNI-encoded routing) is not supported by Sluice; this server is not served', 'use PASSTHROUGH with VirtualService tls routes on sniHosts');
          continue;
        }
        chains.push(chain({ name: `passthrough.${port}.${s.server.port.name}.${s.gateway.name}.${s.gateway.namespace}`, serverNames, tls: null, kind: 'tls_passthrough', routeConfigName: null, l4Routes: buildTlsRoutes(ctx, s), httpsRedirect: false, policies: listenerPolicies, origin: origin(s) }));
      } else {
        chains.push(chain({ name: `tcp.${port}.${s.server.port.name}.${s.gateway.name}.${s.gateway.namespace}`, serverNames: [], tls: null, kind: 'tcp', routeConfigName: null, l4Routes: buildTcpRoutes(ctx, s), httpsRedirect: false, policies: listenerPolicies, origin: origin(s) }));
      }
    }
    if (chains.length === 0) continue;
    listeners.push(Object.freeze({
      name: listenerName('0.0.0.0', bindPort),
      address: ctx.workload.listenHost,
      port,
      bindPort,
      filterChains: Object.freeze(chains),
      inspectsTls: chains.some((c) => c.tls !== null || c.kind === 'tls_passthrough'),
    }));
  }
  return { listeners, routeConfigs };
}

function chain(c: FilterChain): FilterChain {
  return Object.freeze({ ...c, serverNames: Object.freeze([...c.serverNames]), l4Routes: Object.freeze([...c.l4Routes]) });
}

function origin(s: MergedServer): FilterChain['origin'] {
  return Object.freeze({ gateway: s.ref, server: s.index, portName: s.server.port.name, source: s.gateway.pos(['spec', 'servers', s.index]) });
}

/** Certificates, CA and TLS parameters for a terminating server; null drops the server. */
function compileServerTls(ctx: CompileContext, s: MergedServer): ServerTls | null {
  const t: ServerTLSSettings = s.server.tls ?? {};
  const mode = s.tlsMode as ServerTls['mode'];
  const at = ['spec', 'servers', s.index, 'tls'];
  const certificates: string[] = [];
  let caSecret: string | null = null;
  if (mode === 'ISTIO_MUTUAL') {
    const m = meshSecret(ctx);
    if (m.error !== null) {
      ctx.report(s.gateway, [...at, 'mode'], 'SLU0203', 'warning', `${m.error}; this server is not served`);
      return null;
    }
    certificates.push(m.name);
    caSecret = m.name;
  } else {
    const names = t.credentialName !== undefined ? [t.credentialName] : (t.credentialNames ?? []);
    for (const n of names) {
      const sec = resolveCredential(ctx, n);
      if (sec.error !== null || sec.cert === null || sec.key === null) {
        ctx.report(s.gateway, [...at, t.credentialName !== undefined ? 'credentialName' : 'credentialNames'], 'IST0161', 'warning', `credential ${n}: ${sec.error ?? 'it has no certificate/key (tls.crt/tls.key or cert/key)'}; this server is not served`, `create Secret ${ctx.workload.namespace}/${n} of type kubernetes.io/tls, or put tls.crt/tls.key in --credentials DIR/${n}/`);
        continue;
      }
      certificates.push(sec.name);
      if (sec.ca !== null) caSecret ??= sec.name;
    }
    if (names.length === 0) {
      for (const tc of [{ serverCertificate: t.serverCertificate, privateKey: t.privateKey }, ...(t.tlsCertificates ?? [])]) {
        if (tc.serverCertificate === undefined) continue;
        const sec = resolveFiles(ctx, tc.serverCertificate, tc.privateKey, undefined);
        if (sec.error !== null) {
          ctx.report(s.gateway, at, 'IST0161', 'warning', `${sec.error}; this server is not served`, 'fix serverCertificate/privateKey paths');
          continue;
        }
        certificates.push(sec.name);
      }
    }
    if (caSecret === null && t.caCertificates !== undefined && names.length === 0) {
      const ca = resolveFiles(ctx, undefined, undefined, t.caCertificates);
      if (ca.error === null) caSecret = ca.name;
      else ctx.report(s.gateway, [...at, 'caCertificates'], 'IST0161', 'warning', ca.error);
    }
    if (certificates.length === 0) return null;
    if ((mode === 'MUTUAL') && caSecret === null) {
      ctx.report(s.gateway, [...at, 'mode'], 'IST0161', 'warning', 'MUTUAL needs a CA to verify client certificates and none was found; this server is not served', `add ca.crt to the Secret, or a Secret ${t.credentialName ?? 'NAME'}-cacert`);
      return null;
    }
  }
  return Object.freeze({
    mode,
    certificates: Object.freeze(certificates),
    caSecret,
    subjectAltNames: Object.freeze(t.subjectAltNames ?? []),
    verifyCertificateSpki: Object.freeze(t.verifyCertificateSpki ?? []),
    verifyCertificateHash: Object.freeze((t.verifyCertificateHash ?? []).map((h) => h.replace(/:/g, '').toLowerCase())),
    minVersion: TLS_VERSIONS[t.minProtocolVersion ?? ''] ?? 'TLSv1.2',
    maxVersion: TLS_VERSIONS[t.maxProtocolVersion ?? ''] ?? 'TLSv1.3',
    cipherSuites: Object.freeze(t.cipherSuites ?? []),
    alpn: Object.freeze(['h2', 'http/1.1']),
  });
}
