import { createHash, X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import type { ServerTls, TlsSecret } from '../../compile/snapshot.js';

/** A terminating chain's TLS, built once per snapshot: context plus client-cert checks. */
export interface ServerTlsContext {
  readonly config: ServerTls;
  readonly secureContext: SecureContext;
  readonly requestCert: boolean;
  readonly requireCert: boolean;
}

// Node's cipher names are OpenSSL's, as Envoy's (BoringSSL) mostly are.
const DEFAULT_CIPHERS = 'ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305';

export function buildServerTls(cfg: ServerTls, secrets: ReadonlyMap<string, TlsSecret>): ServerTlsContext | string {
  const certs = cfg.certificates.map((n) => secrets.get(n)).filter((s): s is TlsSecret => s !== undefined && s.cert !== null && s.key !== null);
  if (certs.length === 0) return 'no server certificate';
  const ca = cfg.caSecret !== null ? secrets.get(cfg.caSecret)?.ca ?? null : null;
  const requestCert = cfg.mode === 'MUTUAL' || cfg.mode === 'OPTIONAL_MUTUAL' || cfg.mode === 'ISTIO_MUTUAL';
  try {
    const secureContext = createSecureContext({
      cert: certs.map((c) => c.cert!),
      key: certs.map((c) => c.key!),
      ...(requestCert && ca !== null ? { ca } : {}),
      minVersion: cfg.minVersion as 'TLSv1.2',
      maxVersion: cfg.maxVersion as 'TLSv1.3',
      ciphers: cfg.cipherSuites.length > 0 ? cfg.cipherSuites.join(':') : DEFAULT_CIPHERS,
      honorCipherOrder: true,
    });
    return { config: cfg, secureContext, requestCert, requireCert: cfg.mode !== 'OPTIONAL_MUTUAL' && requestCert };
  } catch (e) {
    return `bad TLS material: ${(e as Error).message}`;
  }
}

export interface PeerIdentity {
  readonly subject: string;
  readonly uriSans: readonly string[];
  readonly pem: string;
}

/**
 * After the handshake: was the client certificate verified, and does it pass
 * subjectAltNames / verifyCertificateSpki / verifyCertificateHash? Returns the peer identity,
 * null when no certificate was presented (allowed for OPTIONAL_MUTUAL), or a refusal reason.
 */
export function checkPeer(ctx: ServerTlsContext, socket: TLSSocket): PeerIdentity | null | string {
  if (!ctx.requestCert) return null;
  const raw = socket.getPeerX509Certificate?.();
  if (raw === undefined) return ctx.requireCert ? 'client certificate required' : null;
  // A TLSSocket wrapped by hand (not by tls.Server) never sets `authorized`: ask OpenSSL directly.
  const verifyError = socket.authorized ? null : ((socket as unknown as { _handle?: { verifyError?: () => (Error & { code?: string }) | null } })._handle?.verifyError?.() ?? null);
  if (verifyError !== null) return `client certificate not verified: ${verifyError.code ?? verifyError.message}`;
  const cfg = ctx.config;
  const sans = (raw.subjectAltName ?? '').split(', ').filter((s) => s !== '');
  const values = sans.map((s) => s.replace(/^(DNS|URI|IP Address|email):/, ''));
  if (cfg.subjectAltNames.length > 0 && !cfg.subjectAltNames.some((w) => values.includes(w))) {
    return `client certificate SANs [${values.join(', ')}] match none of subjectAltNames`;
  }
  if (cfg.verifyCertificateSpki.length > 0 || cfg.verifyCertificateHash.length > 0) {
    const spki = createHash('sha256').update(raw.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
    const hash = createHash('sha256').update(raw.raw).digest('hex');
    if (!cfg.verifyCertificateSpki.includes(spki) && !cfg.verifyCertificateHash.includes(hash)) {
      return 'client certificate matches neither verifyCertificateSpki nor verifyCertificateHash';
    }
  }
  return { subject: subjectOf(raw), uriSans: sans.filter((s) => s.startsWith('URI:')).map((s) => s.slice(4)), pem: raw.toString() };
}

function subjectOf(c: X509Certificate): string {
  // Mesh workload certificates have an empty subject (the identity is the URI SAN).
  return (c.subject ?? '').split('\n').join(',');
}
