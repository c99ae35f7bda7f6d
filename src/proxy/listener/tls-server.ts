import { createHash, X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import type { ServerTls, TlsSecret } from '../../compile/snapshot.js';

/** A terminating chain's TLS, built once per distinct material: context plus client-cert checks. */
export interface ServerTlsContext {
  readonly config: ServerTls;
  readonly secureContext: SecureContext;
  readonly requestCert: boolean;
  /** MUTUAL / ISTIO_MUTUAL: no (valid) client certificate, no connection. */
  readonly requireCert: boolean;
  /** URI SANs of our own certificate: Envoy's XFCC `By=`. */
  readonly localUriSans: readonly string[];
}

// Envoy's default server cipher list (BoringSSL equal-preference groups flattened); Node's
// names are OpenSSL's, which match for these.
const DEFAULT_CIPHERS = 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384';
// cipherSuites configure TLS ≤ 1.2 only, as in Envoy; the TLS 1.3 suites stay on.
const TLS13_SUITES = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256';

export function buildServerTls(cfg: ServerTls, secrets: ReadonlyMap<string, TlsSecret>): ServerTlsContext | string {
  const certs = cfg.certificates.map((n) => secrets.get(n)).filter((s): s is TlsSecret => s !== undefined && s.cert !== null && s.key !== null);
  if (certs.length === 0) return 'no server certificate';
  const ca = cfg.caSecret !== null ? secrets.get(cfg.caSecret)?.ca ?? null : null;
  const requestCert = cfg.mode === 'MUTUAL' || cfg.mode === 'OPTIONAL_MUTUAL' || cfg.mode === 'ISTIO_MUTUAL';
  if (requestCert && ca === null) return `${cfg.mode} without a CA to verify clients`;
  try {
    const secureContext = createSecureContext({
      cert: certs.map((c) => c.cert!),
      key: certs.map((c) => c.key!),
      ...(requestCert ? { ca: ca! } : {}),
      minVersion: cfg.minVersion as 'TLSv1.2',
      maxVersion: cfg.maxVersion as 'TLSv1.3',
      ciphers: `${cfg.cipherSuites.length > 0 ? cfg.cipherSuites.join(':') : DEFAULT_CIPHERS}:${TLS13_SUITES}`,
      honorCipherOrder: true,
    });
    let localUriSans: string[] = [];
    try {
      localUriSans = sansOf(new X509Certificate(certs[0]!.cert!)).filter((s) => s.startsWith('URI:')).map((s) => s.slice(4));
    } catch { /* checked at compile time */ }
    return { config: cfg, secureContext, requestCert, requireCert: requestCert && cfg.mode !== 'OPTIONAL_MUTUAL', localUriSans };
  } catch (e) {
    return `bad TLS material: ${(e as Error).message}`;
  }
}

/** The verified client certificate, as later filters (authorization, XFCC, logs) see it. */
export interface PeerIdentity {
  /** RFC 2253 subject, as Envoy prints it (`CN=client,O=Example`). */
  readonly subject: string;
  readonly uriSans: readonly string[];
  readonly dnsSans: readonly string[];
  /** Hex SHA-256 of the DER certificate (XFCC `Hash=`). */
  readonly sha256: string;
  readonly pem: string;
}

function sansOf(c: X509Certificate): string[] {
  return (c.subjectAltName ?? '').split(', ').filter((s) => s !== '');
}

/**
 * After the handshake: was the client certificate verified, and does it pass
 * subjectAltNames / verifyCertificateSpki / verifyCertificateHash (either list may match)?
 * Returns the peer identity, null when no certificate was presented (allowed for
 * OPTIONAL_MUTUAL), or a refusal reason.
 */
export function checkPeer(ctx: ServerTlsContext, socket: TLSSocket): PeerIdentity | null | string {
  if (!ctx.requestCert) return null;
  const raw = socket.getPeerX509Certificate();
  // A TLSSocket made outside a tls.Server never sets `authorized`: ask OpenSSL's verify result
  // ourselves, as node's onServerSocketSecure does.
  const verifyError = raw === undefined ? null : (socket as unknown as { _handle: { verifyError(): (Error & { code?: string }) | null } | null })._handle?.verifyError() ?? null;
  return checkPeerCertificate(ctx.config, ctx.requireCert, raw, verifyError === null ? null : `${verifyError.code ?? verifyError.message} (${verifyError.message})`);
}

/**
 * The checks of `checkPeer` on a certificate whose chain was already verified against the CA
 * (`verifyError` null) or not: also what `sluice trace --client-cert` runs.
 */
export function checkPeerCertificate(cfg: ServerTls, requireCert: boolean, raw: X509Certificate | undefined, verifyError: string | null): PeerIdentity | null | string {
  if (raw === undefined) return requireCert ? 'client certificate required but none was presented' : null;
  if (verifyError !== null) return `client certificate rejected: ${verifyError}`;
  const sans = sansOf(raw);
  const values = sans.map((s) => s.replace(/^(DNS|URI|IP Address|email):/, ''));
  if (cfg.subjectAltNames.length > 0 && !cfg.subjectAltNames.some((w) => values.includes(w))) {
    return `client certificate SANs [${values.join(', ')}] match none of subjectAltNames [${cfg.subjectAltNames.join(', ')}]`;
  }
  const sha256 = createHash('sha256').update(raw.raw).digest('hex');
  if (cfg.verifyCertificateSpki.length > 0 || cfg.verifyCertificateHash.length > 0) {
    const spki = createHash('sha256').update(raw.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
    if (!cfg.verifyCertificateSpki.includes(spki) && !cfg.verifyCertificateHash.includes(sha256)) {
      return `client certificate (sha256 ${sha256}, spki ${spki}) matches neither verifyCertificateSpki nor verifyCertificateHash`;
    }
  }
  return {
    subject: rfc2253(raw.subject ?? ''), // mesh workload certificates have an empty subject
    uriSans: sans.filter((s) => s.startsWith('URI:')).map((s) => s.slice(4)),
    dnsSans: sans.filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4)),
    sha256,
    pem: raw.toString(),
  };
}

/** Node lists the subject most-significant first, one RDN per line; RFC 2253 reverses it. */
function rfc2253(subject: string): string {
  return subject.split('\n').filter((l) => l !== '').reverse().map((rdn) => rdn.replace(/([,+"\\<>;])/g, '\\$1')).join(',');
}

/**
 * Envoy's x-forwarded-client-cert element for this connection, with the fields Istio sets at a
 * gateway (set_current_client_cert_details: Subject, Cert, URI, DNS), in Envoy's order:
 * By, Hash, Cert, Subject, URI, DNS.
 */
export function xfccElement(local: readonly string[], peer: PeerIdentity): string {
  const parts: string[] = [];
  for (const u of local) parts.push(`By=${u}`);
  parts.push(`Hash=${peer.sha256}`);
  parts.push(`Cert="${encodeURIComponent(peer.pem)}"`);
  parts.push(`Subject="${peer.subject.replace(/"/g, '\\"')}"`);
  if (peer.uriSans.length === 0) parts.push('URI=');
  for (const u of peer.uriSans) parts.push(`URI=${u}`);
  for (const d of peer.dnsSans) parts.push(`DNS=${d}`);
  return parts.join(';');
}
