import type { Server } from '../api/types.js';
import type { Resource } from '../config/resource.js';
import { resourceRef } from '../config/resource.js';
import type { CompileContext } from './context.js';
import { intersectHosts, splitServerHost } from './hosts.js';
import { selectorMatches } from './visibility.js';

/** A Gateway server adopted by this workload, with its bind port and normalised protocol. */
export interface MergedServer {
  readonly gateway: Resource<'Gateway'>;
  /** `namespace/name` of the Gateway. */
  readonly ref: string;
  readonly index: number;
  readonly server: Server;
  readonly port: number;
  readonly bindPort: number;
  readonly protocol: string;
  readonly hosts: readonly { readonly namespace: string; readonly host: string }[];
  readonly tlsMode: string | null;
}

const HTTP_PROTOCOLS = new Set(['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB']);

export function isPlainHttp(s: MergedServer): boolean {
  return HTTP_PROTOCOLS.has(s.protocol);
}

/** HTTPS/TLS server that terminates TLS here (SIMPLE, MUTUAL, OPTIONAL_MUTUAL, ISTIO_MUTUAL). */
export function terminatesTls(s: MergedServer): boolean {
  return (s.protocol === 'HTTPS' || s.protocol === 'TLS') && s.tlsMode !== null && s.tlsMode !== 'PASSTHROUGH' && s.tlsMode !== 'AUTO_PASSTHROUGH';
}

export function isPassthrough(s: MergedServer): boolean {
  return (s.protocol === 'HTTPS' || s.protocol === 'TLS') && (s.tlsMode === 'PASSTHROUGH' || s.tlsMode === 'AUTO_PASSTHROUGH');
}

/**
 * Servers of every Gateway whose selector is a subset of this workload's labels, grouped by
 * port. Istio searches all namespaces for Gateways (PILOT_SCOPE_GATEWAY_TO_NAMESPACE=false).
 * A port keeps the protocol class of its first server; same port + overlapping host in two
 * Gateways: the oldest wins (IST0145).
 */
export function mergeGatewayServers(ctx: CompileContext): Map<number, MergedServer[]> {
  const byPort = new Map<number, MergedServer[]>();
  const { workload } = ctx;
  for (const gw of ctx.store.list('Gateway')) {
    if (!selectorMatches(gw.spec.selector ?? {}, workload.labels)) continue;
    const ref = `${gw.namespace}/${gw.name}`;
    gw.spec.servers.forEach((server, index) => {
      const port = server.port.number;
      const protocol = server.port.protocol.toUpperCase();
      const tlsMode = server.tls === undefined || (server.tls.mode === undefined && server.tls.httpsRedirect !== undefined && Object.keys(server.tls).length === 1)
        ? null
        : (server.tls.mode ?? 'PASSTHROUGH');
      const ms: MergedServer = {
        gateway: gw,
        ref,
        index,
        server,
        port,
        bindPort: workload.portMap.get(port) ?? port,
        protocol,
        hosts: server.hosts.map(splitServerHost),
        tlsMode,
      };
      const at = ['spec', 'servers', index];
      if (protocol === 'HTTPS' && tlsMode === 'ISTIO_MUTUAL' && ctx.meshCa === null) {
        // Without a mesh CA there is no workload certificate to serve.
      }
      let list = byPort.get(port);
      if (list === undefined) byPort.set(port, (list = []));
      const first = list[0];
      if (first !== undefined && protocolClass(first) !== protocolClass(ms)) {
        ctx.report(gw, at, 'SLU0201', 'warning', `port ${port} already serves ${first.protocol} for Gateway ${first.ref}; this ${protocol} server is dropped`, 'use a different port number for this server');
        return;
      }
      for (const other of list) {
        if (other.ref === ref) continue;
        const overlap = ms.hosts.some((a) => other.hosts.some((b) => intersectHosts(a.host, b.host) !== null));
        if (overlap && !isPlainHttp(ms)) {
          ctx.report(gw, at, 'IST0145', 'warning', `Gateway ${ref} and ${other.ref} both serve an overlapping host on port ${port} for this workload; the older ${other.ref} wins and this server is dropped`, `give the servers distinct hosts, or merge them into one Gateway (${resourceRef(other.gateway)})`);
          return;
        }
      }
      list.push(ms);
    });
  }
  return byPort;
}

function protocolClass(s: MergedServer): string {
  if (isPlainHttp(s)) return 'http';
  if (s.protocol === 'HTTPS' || s.protocol === 'TLS') return 'tls';
  return 'tcp';
}
