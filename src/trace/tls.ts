import { X509Certificate } from 'node:crypto';
import { stripPort } from '../compile/hosts.js';
import type { Cluster, FilterChain, ServerTls, Snapshot, TlsSecret } from '../compile/snapshot.js';
import { buildServerTls, checkPeerCertificate, type ServerTlsContext } from '../proxy/listener/tls-server.js';
import { buildClientTls, sniFor, type ClientTlsContext } from '../proxy/upstream/transport.js';
import type { TraceRecorder } from './recorder.js';
import type { PeerInfo } from './trace-stream.js';
import type { TraceUpstream } from './types.js';

// TLS as the trace explains it, with the data plane's own context builders and peer checks:
// termination on a listener chain (server certificate, client certificate) and origination
// towards a cluster.

// TLS contexts are built once per chain / cluster object: `sluice test` traces thousands of
// requests against one snapshot.
const serverTlsCache = new WeakMap<FilterChain, ServerTlsContext | string>();
const clientTlsCache = new WeakMap<Cluster, ClientTlsContext>();

/**
 * TLS termination on `chain`: the server certificate and the client-certificate checks for
 * the client certificate `clientCertPem` (null: none presented). False: the handshake fails.
 */
export function traceTlsTermination(rec: TraceRecorder, snapshot: Snapshot, chain: FilterChain, clientCertPem: string | null): PeerInfo | null | false {
  const tls = chain.tls!;
  let ctx = serverTlsCache.get(chain);
  if (ctx === undefined) {
    ctx = buildServerTls(tls, snapshot.secrets);
    serverTlsCache.set(chain, ctx);
  }
  const certs = tls.certificates.map((n) => describeSecret(snapshot.secrets.get(n), n));
  if (typeof ctx === 'string') {
    rec.step('tls', 'fail', `TLS ${tls.mode}: cannot build the server TLS context: ${ctx}`, undefined, certs);
    rec.closed(`TLS not available for chain ${chain.name}: ${ctx}`, 0, `fix the certificate of ${tls.certificates.join(', ')} (a Secret with tls.crt/tls.key, or --credentials DIR/<name>/)`);
    return false;
  }
  const detail = [...certs, `versions ${tls.minVersion}–${tls.maxVersion}, ALPN ${tls.alpn.join(',')}`];
  if (!ctx.requestCert) {
    rec.step('tls', 'ok', `TLS ${tls.mode} terminated here`, undefined, detail);
    return null;
  }
  const pem = clientCertPem;
  let raw: X509Certificate | undefined;
  let verifyError: string | null = null;
  if (pem !== null) {
    try {
      raw = new X509Certificate(pem);
    } catch (e) {
      rec.step('tls', 'fail', `the client certificate is not a PEM certificate: ${(e as Error).message}`);
      rec.closed('bad client certificate', 0, 'pass a PEM certificate to --client-cert');
      return false;
    }
    verifyError = verifyAgainstCa(raw, tls, snapshot.secrets);
  }
  const peer = checkPeerCertificate(tls, ctx.requireCert, raw, verifyError);
  if (typeof peer === 'string') {
    rec.step('tls', 'fail', `TLS ${tls.mode}: ${peer}`, undefined, detail);
    rec.closed(`TLS handshake refused: ${peer}`, 0, pem === null
      ? `mode ${tls.mode} requires a client certificate signed by the CA of ${tls.caSecret ?? 'the credential'}: pass one with --client-cert, or use mode SIMPLE`
      : `present a client certificate signed by the CA of ${tls.caSecret ?? 'the credential'}${tls.subjectAltNames.length > 0 ? ` with one of the SANs ${tls.subjectAltNames.join(', ')}` : ''}`);
    return false;
  }
  rec.step('tls', 'ok', `TLS ${tls.mode} terminated here; client certificate ${peer === null ? 'not presented (allowed)' : `accepted: ${peer.subject}${peer.uriSans.length > 0 ? ` ${peer.uriSans.join(', ')}` : ''}`}`, undefined, detail);
  return peer;
}

// A certificate is parsed once per secret object: `sluice test` traces thousands of requests
// through the same chain.
const secretDescriptions = new WeakMap<TlsSecret, string>();

function describeSecret(s: TlsSecret | undefined, name: string): string {
  if (s === undefined) return `certificate ${name}: missing`;
  if (s.cert === null) return `certificate ${name} from ${s.origin}: ${s.error ?? 'no certificate'}`;
  let d = secretDescriptions.get(s);
  if (d === undefined) {
    try {
      const c = new X509Certificate(s.cert);
      d = `subject ${c.subject.replace(/\n/g, ',')}, SANs ${c.subjectAltName ?? 'none'}, valid until ${new Date(c.validTo).toISOString()}`;
    } catch {
      d = '';
    }
    secretDescriptions.set(s, d);
  }
  return d === '' ? `certificate ${name} from ${s.origin}` : `certificate ${name} from ${s.origin}: ${d}`;
}

/** Verifies a client certificate against the chain's CA bundle: null when it chains, else why not. */
function verifyAgainstCa(cert: X509Certificate, tls: ServerTls, secrets: ReadonlyMap<string, TlsSecret>): string | null {
  const bundle = tls.caSecret !== null ? secrets.get(tls.caSecret)?.ca ?? null : null;
  if (bundle === null) return 'no CA configured to verify client certificates';
  const now = Date.now();
  if (Date.parse(cert.validTo) < now) return 'CERT_HAS_EXPIRED';
  if (Date.parse(cert.validFrom) > now) return 'CERT_NOT_YET_VALID';
  const pems = bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  for (const p of pems) {
    try {
      const ca = new X509Certificate(p);
      if (cert.checkIssued(ca) && cert.verify(ca.publicKey)) return null;
    } catch { /* not a certificate: skip */ }
  }
  return 'UNABLE_TO_VERIFY_LEAF_SIGNATURE';
}

/**
 * TLS origination towards cluster `c` for a request to `authority`: what the upstream
 * handshake uses, and `error` when the cluster's TLS material is unusable (every connection
 * then fails).
 */
export function traceTlsOrigination(rec: TraceRecorder, snapshot: Snapshot, c: Cluster, authority: string): { tls: TraceUpstream['tls']; error: string | null } {
  if (c.tls === null) {
    rec.step('tls_origination', 'info', 'plaintext to the upstream (no DestinationRule tls, no auto mTLS)');
    return { tls: null, error: null };
  }
  let ctx = clientTlsCache.get(c);
  if (ctx === undefined) {
    ctx = buildClientTls(c.tls, snapshot.secrets);
    clientTlsCache.set(c, ctx);
  }
  const sni = sniFor(c, c.tls, stripPort(authority));
  const sans = c.tls.subjectAltNames;
  const verify = c.tls.insecureSkipVerify ? 'certificate not verified (insecureSkipVerify)' : `verified against ${c.tls.caSecret ?? 'the system roots'}, SAN ${sans.length > 0 ? `one of ${sans.join(', ')}` : `= ${sni || c.serviceHost}`}`;
  if (ctx.error !== null) {
    rec.step('tls_origination', 'fail', `TLS ${c.tls.mode}: every connection fails: ${ctx.error}`);
  } else {
    rec.step('tls_origination', 'ok', `TLS ${c.tls.mode} originated, SNI "${sni}", ${verify}${c.tls.certSecret !== null ? `, client certificate ${c.tls.certSecret}` : ''}`);
  }
  return { tls: { mode: c.tls.mode, sni, subjectAltNames: sans }, error: ctx.error };
}
