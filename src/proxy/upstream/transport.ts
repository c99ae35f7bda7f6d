import { connect as netConnect, type Socket } from 'node:net';
import { markSharedRead, SHARED_READ } from './http1-connection.js';
import { checkServerIdentity, connect as tlsConnect, createSecureContext, type PeerCertificate, type SecureContext } from 'node:tls';
import type { ClientTls, Cluster, TlsSecret } from '../../compile/snapshot.js';
import type { Connector } from './http1-pool.js';

/** Client TLS for a cluster, built once per cluster version: the secure context and checks. */
export interface ClientTlsContext {
  readonly config: ClientTls;
  readonly secureContext: SecureContext;
  /** Error building it (missing secret): every connection fails with this reason. */
  readonly error: string | null;
}

export function buildClientTls(tls: ClientTls, secrets: ReadonlyMap<string, TlsSecret>): ClientTlsContext {
  const ca = tls.caSecret !== null ? secrets.get(tls.caSecret) : undefined;
  const cert = tls.certSecret !== null ? secrets.get(tls.certSecret) : undefined;
  const problems: string[] = [];
  if (ca?.error) problems.push(ca.error);
  if (cert?.error) problems.push(cert.error);
  if (tls.certSecret !== null && (cert?.cert == null || cert.key == null)) problems.push(`client certificate ${tls.certSecret} has no certificate/key`);
  try {
    const secureContext = createSecureContext({
      ...(ca?.ca != null ? { ca: ca.ca } : {}),
      ...(cert?.cert != null && cert.key != null ? { cert: cert.cert, key: cert.key } : {}),
      minVersion: 'TLSv1.2',
    });
    return { config: tls, secureContext, error: problems.length > 0 ? problems.join('; ') : null };
  } catch (e) {
    return { config: tls, secureContext: createSecureContext({}), error: `bad TLS material: ${(e as Error).message}` };
  }
}

/** SNI Istio sends for ISTIO_MUTUAL without `sni`: the AUTO_PASSTHROUGH cluster name. */
function meshSni(cluster: Cluster): string {
  return `outbound_.${cluster.port}_.${cluster.subset}_.${cluster.serviceHost}`;
}

/** The SNI for a connection: explicit `sni`, else (auto-SNI) the request host. */
export function sniFor(cluster: Cluster, tls: ClientTls, requestHost: string): string {
  if (tls.sni !== null) return tls.sni;
  // ISTIO_MUTUAL with autoSni (a sidecar calling a gateway's ISTIO_MUTUAL server): the host picks the server chain.
  if (tls.mode === 'ISTIO_MUTUAL') return tls.autoSni ? requestHost : meshSni(cluster);
  return tls.autoSni ? requestHost : cluster.serviceHost;
}

function sanOf(cert: PeerCertificate): string[] {
  const alt = cert.subjectaltname ?? '';
  return alt.split(', ').map((s) => s.replace(/^(DNS|URI|IP Address):/, '')).filter((s) => s !== '');
}

// strerror() of the socket errors a connect meets, as Envoy words them.
const STRERROR: Record<string, string> = {
  ECONNREFUSED: 'Connection refused', ECONNRESET: 'Connection reset by peer', ETIMEDOUT: 'Connection timed out',
  EHOSTUNREACH: 'No route to host', ENETUNREACH: 'Network is unreachable', EADDRNOTAVAIL: 'Cannot assign requested address',
};

/** A failed connect as Envoy's transport failure reason: `delayed connect error: Connection refused`. */
function connectErrorReason(e: Error): string {
  const code = (e as NodeJS.ErrnoException).code;
  return code !== undefined && code in STRERROR ? `delayed connect error: ${STRERROR[code]}` : `${code ?? 'error'}: ${e.message}`;
}

/**
 * The upstream certificate check of a DestinationRule's TLS settings: the SANs against
 * `subjectAltNames`, else any mesh identity for ISTIO_MUTUAL, else the SNI host (Istio ≥1.21
 * auto SAN check); nothing with `insecureSkipVerify`. Returns the error, or undefined.
 */
export function peerCheck(cfg: ClientTls, sni: string): (host: string, cert: PeerCertificate) => Error | undefined {
  return (host, cert) => {
    if (cfg.insecureSkipVerify) return undefined;
    if (cfg.subjectAltNames.length > 0) {
      const sans = sanOf(cert);
      if (cfg.subjectAltNames.some((want) => sans.includes(want))) return undefined;
      return new Error(`upstream certificate SANs [${sans.join(', ')}] match none of subjectAltNames [${cfg.subjectAltNames.join(', ')}]`);
    }
    if (cfg.mode === 'ISTIO_MUTUAL') return undefined; // any mesh identity signed by the mesh CA
    return checkServerIdentity(sni !== '' ? sni : host, cert);
  };
}

/**
 * The transport to one endpoint: TCP, or TLS originated per the cluster's DestinationRule:
 * verified against the CA (system roots when none is given), the SANs checked against
 * `subjectAltNames` or, when none are set, against the SNI host (Istio ≥1.21 auto SAN check).
 */
export function makeConnector(address: string, port: number, tls: ClientTlsContext | null, sni: string, localAddress: string | null, alpn: readonly string[] = ['http/1.1'], sharedRead = false): Connector {
  if (tls === null) {
    return (onReady, onFail) => {
      // HTTP/1.1 pools (sharedRead): reads go to Http1Connection's shared buffer (SHARED_READ).
      const s: Socket = netConnect({ host: address, port, ...(localAddress !== null ? { localAddress } : {}), ...(sharedRead ? { onread: SHARED_READ } : {}) });
      if (sharedRead) markSharedRead(s);
      s.once('connect', () => { s.removeListener('error', onErr); onReady(s); });
      const onErr = (e: Error): void => onFail(connectErrorReason(e));
      s.once('error', onErr);
      return () => s.destroy();
    };
  }
  const cfg = tls.config;
  const verify = !cfg.insecureSkipVerify;
  const checkPeer = peerCheck(cfg, sni);
  return (onReady, onFail) => {
    if (tls.error !== null) {
      queueMicrotask(() => onFail(`TLS_error: ${tls.error}`));
      return () => {};
    }
    const s = tlsConnect({
      host: address,
      port,
      secureContext: tls.secureContext,
      ...(sni !== '' && !/^[\d.:]+$/.test(sni) ? { servername: sni } : {}),
      rejectUnauthorized: verify,
      ...(alpn.length > 0 ? { ALPNProtocols: [...alpn] } : {}),
      ...(localAddress !== null ? { localAddress } : {}),
      checkServerIdentity: checkPeer,
    });
    s.once('secureConnect', () => { s.removeListener('error', onErr); onReady(s); });
    // %UPSTREAM_TRANSPORT_FAILURE_REASON%: Envoy prints `TLS_error:...`; ours names the check.
    const onErr = (e: Error): void => {
      const code = (e as NodeJS.ErrnoException).code;
      onFail(code !== undefined && code in STRERROR ? connectErrorReason(e) : `TLS_error: ${code !== undefined && code !== 'ERR_TLS_CERT_ALTNAME_INVALID' ? `${code} ` : ''}${e.message}`);
    };
    s.once('error', onErr);
    return () => s.destroy();
  };
}
