import { createHash } from 'node:crypto';
import { getCiphers } from 'node:tls';
import type { ServerTLSSettings } from '../api/types.js';
import type { CompileContext } from './context.js';
import { isPassthrough, isPlainHttp, mergeGatewayServers, terminatesTls, type MergedServer } from './gateways.js';
import { buildRouteConfiguration } from './http-routes.js';
import { buildTcpRoutes, buildTlsRoutes } from './l4-routes.js';
import { httpRouteConfigName, httpsRouteConfigName, listenerName } from './names.js';
import { DEFAULT_LISTENER_POLICIES, type ListenerPolicies } from './policies.js';
import { meshSecret, resolveCredential, resolveCredentialCa, resolveFiles } from './secrets.js';
import type { FilterChain, ForwardClientCertDetails, Listener, RouteConfiguration, ServerTls, TlsSecret } from './snapshot.js';

const TLS_VERSIONS: Record<string, string> = { TLSV1_0: 'TLSv1', TLSV1_1: 'TLSv1.1', TLSV1_2: 'TLSv1.2', TLSV1_3: 'TLSv1.3' };
const VERSION_ORDER = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
const XFCC_MODES = new Set<ForwardClientCertDetails>(['SANITIZE', 'FORWARD_ONLY', 'APPEND_FORWARD', 'SANITIZE_SET', 'ALWAYS_FORWARD_ONLY']);

export interface GatewayListeners {
  listeners: Listener[];
  routeConfigs: Map<string, RouteConfiguration>;
}

/**
 * One listener per bind port from every Gateway this workload adopts (Istio's
 * buildGatewayListeners): plaintext HTTP servers on a port share one route table; each
 * terminating HTTPS server is its own SNI-selected chain with its own table; every `tls:` match
 * bound to a passthrough server becomes its own chain on the match's `sniHosts` (Istio's
 * buildGatewayNetworkFiltersFromTLSRoutes), so the data plane picks chains the way Envoy does:
 * exact server name, then the longest wildcard, then the chain without names.
 */
export function buildGatewayListeners(ctx: CompileContext, policies: (port: number) => ListenerPolicies = () => DEFAULT_LISTENER_POLICIES): GatewayListeners {
  const listeners: Listener[] = [];
  const routeConfigs = new Map<string, RouteConfiguration>();
  const xfcc = forwardClientCertDetails(ctx);
  for (const [port, servers] of [...mergeGatewayServers(ctx)].sort((a, b) => a[0] - b[0])) {
    const bindPort = servers[0]!.bindPort;
    const chains: FilterChain[] = [];
    const listenerPolicies = policies(port);
    const base = { httpsRedirect: false, policies: listenerPolicies, forwardClientCertDetails: xfcc };
    const http = servers.filter(isPlainHttp);
    if (http.length > 0) {
      const name = httpRouteConfigName(port);
      routeConfigs.set(name, buildRouteConfiguration(ctx, name, http, port));
      chains.push(chain({ ...base, name, serverNames: [], tls: null, kind: 'http', routeConfigName: name, l4Routes: [], httpsRedirect: http.some((s) => s.server.tls?.httpsRedirect === true), origin: origin(http[0]!) }));
    }
    // SNI names already claimed on this listener: Envoy refuses duplicate filter chain matches,
    // so Istio skips a later server/match that repeats one.
    const claimed = new Set<string>();
    for (const s of servers) {
      if (isPlainHttp(s)) continue;
      const serverNames = s.hosts.map((h) => h.host.toLowerCase()).filter((h) => h !== '*');
      if (terminatesTls(s)) {
        const tls = compileServerTls(ctx, s);
        if (tls === null) continue;
        for (const n of serverNames) claimed.add(n);
        if (s.protocol === 'HTTPS') {
          const name = httpsRouteConfigName(port, s.server.port.name, s.gateway.name, s.gateway.namespace);
          routeConfigs.set(name, buildRouteConfiguration(ctx, name, [s], port));
          chains.push(chain({ ...base, name, serverNames, tls, kind: 'http', routeConfigName: name, l4Routes: [], origin: origin(s) }));
        } else {
          chains.push(chain({ ...base, name: `tls.${port}.${s.server.port.name}.${s.gateway.name}.${s.gateway.namespace}`, serverNames, tls, kind: 'tcp', routeConfigName: null, l4Routes: buildTcpRoutes(ctx, s), origin: origin(s) }));
        }
      } else if (isPassthrough(s)) {
        if (s.tlsMode === 'AUTO_PASSTHROUGH') {
          ctx.report(s.gateway, ['spec', 'servers', s.index, 'tls', 'mode'], 'SLU0202', 'warning',
            'AUTO_PASSTHROUGH (multi-network routing by SNI-encoded cluster names, port 15443) is not supported by Sluice; this server is not served',
            'use mode: PASSTHROUGH with VirtualService tls routes on sniHosts');
          continue;
        }
        buildTlsRoutes(ctx, s).forEach((r, i) => {
          const dup = r.sniHosts.filter((h) => claimed.has(h));
          if (dup.length > 0) {
            const src = r.source;
            ctx.report(s.gateway, ['spec', 'servers', s.index, 'hosts'], 'SLU0204', 'warning',
              `${src.resource} tls rule ${src.rule} (${src.file}:${src.line}) repeats SNI ${dup.join(', ')} already served on port ${port}; that match is skipped (Istio skips duplicate SNI filter chains)`,
              'give each tls match distinct sniHosts');
            return;
          }
          for (const h of r.sniHosts) claimed.add(h);
          chains.push(chain({ ...base, name: `passthrough.${port}.${s.server.port.name}.${s.gateway.name}.${s.gateway.namespace}.${i}`, serverNames: r.sniHosts, tls: null, kind: 'tls_passthrough', routeConfigName: null, l4Routes: [r], origin: origin(s) }));
        });
      } else {
        chains.push(chain({ ...base, name: `tcp.${port}.${s.server.port.name}.${s.gateway.name}.${s.gateway.namespace}`, serverNames: [], tls: null, kind: 'tcp', routeConfigName: null, l4Routes: buildTcpRoutes(ctx, s), origin: origin(s) }));
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

/** Istio's gateway default is SANITIZE_SET; `meshConfig.defaultConfig.gatewayTopology` overrides it. */
function forwardClientCertDetails(ctx: CompileContext): ForwardClientCertDetails {
  const topo = ctx.mesh.defaultConfig?.gatewayTopology as { forwardClientCertDetails?: unknown } | undefined;
  const v = topo?.forwardClientCertDetails;
  return typeof v === 'string' && XFCC_MODES.has(v as ForwardClientCertDetails) ? (v as ForwardClientCertDetails) : 'SANITIZE_SET';
}

/**
 * `cipherSuites` as Node (OpenSSL) takes them: BoringSSL's equal-preference groups
 * `[A|B]` are flattened, unknown or repeated names dropped (Istio's
 * filteredGatewayCipherSuites; validation has already warned about them).
 */
function compileCiphers(names: readonly string[]): string[] {
  const known = new Set(getCiphers().map((c) => c.toUpperCase()));
  const out: string[] = [];
  names.forEach((raw) => {
    for (const n of raw.replace(/^\[|\]$/g, '').split('|')) {
      const name = n.trim().toUpperCase();
      if (out.includes(name)) continue;
      // Validation already warned about unknown names (SLU0100); they are dropped here.
      if (known.has(name)) out.push(name);
    }
  });
  return out;
}

/** Certificates, CA and TLS parameters for a terminating server; null drops the server (IST0161). */
function compileServerTls(ctx: CompileContext, s: MergedServer): ServerTls | null {
  const t: ServerTLSSettings = s.server.tls ?? {};
  const mode = s.tlsMode as ServerTls['mode'];
  const at = ['spec', 'servers', s.index, 'tls'];
  const certificates: TlsSecret[] = [];
  let ca: TlsSecret | null = null;
  const verifiesClients = mode === 'MUTUAL' || mode === 'OPTIONAL_MUTUAL';
  const drop = (path: (string | number)[], msg: string, fix: string): null => {
    ctx.report(s.gateway, path, 'IST0161', 'warning', `${msg}; this server is not served`, fix);
    return null;
  };
  if (mode === 'ISTIO_MUTUAL') {
    const m = meshSecret(ctx);
    if (m.error !== null) {
      ctx.report(s.gateway, [...at, 'mode'], 'SLU0203', 'warning', `${m.error}; this server is not served`, 'configure the mesh CA (--mesh-ca-dir), or use mode SIMPLE/MUTUAL with credentialName');
      return null;
    }
    certificates.push(m);
    ca = m;
  } else {
    const names = t.credentialName !== undefined ? [t.credentialName] : (t.credentialNames ?? []);
    const field = t.credentialName !== undefined ? 'credentialName' : 'credentialNames';
    for (const n of names) {
      const sec = resolveCredential(ctx, n);
      if (sec.error !== null) return drop([...at, field], `credential ${n}: ${sec.error}`, `create Secret ${ctx.workload.namespace}/${n} (kubectl create secret tls ${n} --cert=FILE --key=FILE -n ${ctx.workload.namespace}), or put tls.crt/tls.key in --credentials DIR/${n}/`);
      certificates.push(sec);
    }
    if (names.length > 0 && verifiesClients) {
      // With a credential the file fields are ignored (seed mistake (c)): the CA is in the
      // Secret or in <name>-cacert.
      const c = resolveCredentialCa(ctx, names[0]!);
      if (c.error !== null) return drop([...at, 'mode'], `${mode} needs a CA to verify client certificates: ${c.error}`, `add ca.crt (or cacert) to Secret ${names[0]}, or create Secret ${names[0]}-cacert holding it`);
      ca = c;
      if (t.caCertificates !== undefined) {
        ctx.report(s.gateway, [...at, 'caCertificates'], 'SLU0206', 'info', `caCertificates is ignored because credentialName is set; client certificates are verified with the CA from ${c.origin}`);
      }
    }
    if (names.length === 0) {
      for (const [i, tc] of [{ serverCertificate: t.serverCertificate, privateKey: t.privateKey }, ...(t.tlsCertificates ?? [])].entries()) {
        if (tc.serverCertificate === undefined) continue;
        const sec = resolveFiles(ctx, tc.serverCertificate, tc.privateKey, undefined);
        if (sec.error !== null) return drop(i === 0 ? at : [...at, 'tlsCertificates', i - 1], sec.error, 'fix the serverCertificate/privateKey paths (absolute paths readable by sluice)');
        certificates.push(sec);
      }
      if (verifiesClients) {
        if (t.caCertificates === undefined) return drop([...at, 'caCertificates'], `${mode} needs caCertificates to verify client certificates`, 'set caCertificates to a CA bundle file, or use credentialName with a CA in the Secret');
        const c = resolveFiles(ctx, undefined, undefined, t.caCertificates);
        if (c.error !== null) return drop([...at, 'caCertificates'], c.error, 'fix the caCertificates path');
        ca = c;
      }
    }
    if (certificates.length === 0) return drop(at, 'no server certificate (credentialName, credentialNames, serverCertificate or tlsCertificates)', 'add credentialName: NAME and a Secret NAME with tls.crt/tls.key');
  }
  let minVersion = TLS_VERSIONS[t.minProtocolVersion ?? ''] ?? 'TLSv1.2';
  const maxVersion = TLS_VERSIONS[t.maxProtocolVersion ?? ''] ?? 'TLSv1.3';
  if (VERSION_ORDER.indexOf(minVersion) > VERSION_ORDER.indexOf(maxVersion)) {
    ctx.report(s.gateway, [...at, 'minProtocolVersion'], 'SLU0207', 'warning', `minProtocolVersion ${t.minProtocolVersion} is above maxProtocolVersion ${t.maxProtocolVersion}; using ${maxVersion} for both`);
    minVersion = maxVersion;
  }
  const cipherSuites = compileCiphers(t.cipherSuites ?? []);
  const params = {
    mode,
    certificates: Object.freeze(certificates.map((c) => c.name)),
    caSecret: ca?.name ?? null,
    subjectAltNames: Object.freeze([...(t.subjectAltNames ?? [])]),
    verifyCertificateSpki: Object.freeze([...(t.verifyCertificateSpki ?? [])]),
    verifyCertificateHash: Object.freeze((t.verifyCertificateHash ?? []).map((h) => h.replace(/:/g, '').toLowerCase())),
    minVersion,
    maxVersion,
    cipherSuites: Object.freeze(cipherSuites),
    alpn: Object.freeze(s.protocol === 'HTTPS' ? ['h2', 'http/1.1'] : []),
  };
  const fp = createHash('sha256').update(JSON.stringify(params));
  for (const c of certificates) fp.update(c.fingerprint ?? `${c.cert}${c.key}`);
  if (ca !== null) fp.update(ca.fingerprint ?? ca.ca ?? '');
  return Object.freeze({ ...params, fingerprint: fp.digest('hex').slice(0, 16) });
}
