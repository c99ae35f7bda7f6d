// Gateway server TLS (ServerTLSSettings): the CRD shape plus Istio's validateTLSOptions and the
// protocol/tls pairing rules of validateServer, with Sluice warnings for configurations Istio
// accepts but that cannot work (certificates on a passthrough server, file paths next to a
// credentialName — the seed document's mistake (c)).

import type { Server, ServerTLSSettings } from '../types.js';
import type { Path, ValidationContext } from './context.js';
import { protocolClass } from './common.js';
import { bool, enumOf, list, obj, str, stringList } from './schema.js';

export const CODE_TLS_PASSTHROUGH_CERTS = 'SLU0110';
export const CODE_TLS_CREDENTIAL_WITH_FILES = 'SLU0111';
export const CODE_TLS_HTTP_IGNORED = 'SLU0112';
export const CODE_TLS_BAD_PARAMS = 'SLU0113';

const NO_CERT_FIELDS = 'ISTIO_MUTUAL takes no certificate fields (serverCertificate, privateKey, caCertificates, credentialName): the gateway presents its own mesh (SPIFFE) certificate and only mesh sidecars can connect';

const MODE_FIXES: Record<string, string> = {
  ISTIO_MUTUAL: `write mode: ISTIO_MUTUAL. ${NO_CERT_FIELDS}`,
  MUTUAL: 'write mode: MUTUAL, with credentialName (a Secret holding the certificate, key and ca.crt) or serverCertificate + privateKey + caCertificates',
  OPTIONAL_MUTUAL: 'write mode: OPTIONAL_MUTUAL (client certificates requested, verified when sent)',
  SIMPLE: 'write mode: SIMPLE, with credentialName or serverCertificate + privateKey',
  PASSTHROUGH: 'write mode: PASSTHROUGH (TLS is not terminated; route with VirtualService tls: rules on sniHosts)',
  AUTO_PASSTHROUGH: 'write mode: AUTO_PASSTHROUGH (only for multi-network east-west gateways, protocol TLS)',
};

export const SERVER_TLS_MODES = ['PASSTHROUGH', 'SIMPLE', 'MUTUAL', 'AUTO_PASSTHROUGH', 'ISTIO_MUTUAL', 'OPTIONAL_MUTUAL'] as const;
const TLS_VERSIONS = ['TLS_AUTO', 'TLSV1_0', 'TLSV1_1', 'TLSV1_2', 'TLSV1_3'] as const;

// security.ValidCipherSuites: the names Envoy's BoringSSL accepts in cipher_suites.
const VALID_CIPHERS = new Set([
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-SHA',
  'ECDHE-RSA-AES128-SHA',
  'AES128-GCM-SHA256',
  'AES128-SHA',
  'ECDHE-ECDSA-AES256-SHA',
  'ECDHE-RSA-AES256-SHA',
  'AES256-GCM-SHA384',
  'AES256-SHA',
]);

export const serverTlsSchema = obj({
  httpsRedirect: bool(),
  mode: enumOf(SERVER_TLS_MODES, { fixes: MODE_FIXES }),
  serverCertificate: str(),
  privateKey: str(),
  caCertificates: str(),
  caCrl: str(),
  credentialName: str(),
  credentialNames: stringList(),
  tlsCertificates: list(obj({ serverCertificate: str(), privateKey: str(), caCertificates: str() })),
  subjectAltNames: stringList(),
  verifyCertificateSpki: stringList(),
  verifyCertificateHash: stringList(),
  minProtocolVersion: enumOf(TLS_VERSIONS),
  maxProtocolVersion: enumOf(TLS_VERSIONS),
  cipherSuites: stringList(),
});

const set = (s: string | undefined): boolean => s !== undefined && s !== '';

/** Fields holding certificate material, in the order we name them in messages. */
function certFields(t: ServerTLSSettings): string[] {
  const out: string[] = [];
  if (set(t.serverCertificate)) out.push('serverCertificate');
  if (set(t.privateKey)) out.push('privateKey');
  if (set(t.caCertificates)) out.push('caCertificates');
  if (set(t.credentialName)) out.push('credentialName');
  if ((t.credentialNames?.length ?? 0) > 0) out.push('credentialNames');
  if ((t.tlsCertificates?.length ?? 0) > 0) out.push('tlsCertificates');
  return out;
}

/**
 * Checks `server.tls` together with the server's protocol. Called from the Gateway server check
 * (so `server` is structurally valid; the mode may still be missing).
 */
export function checkServerTls(server: Server, path: Path, ctx: ValidationContext): void {
  const tls = server.tls;
  const proto = server.port.protocol.toUpperCase();
  const cls = protocolClass(proto);
  const tp = [...path, 'tls'];
  if (tls === undefined) {
    if (cls === 'tls') {
      ctx.error([...path, 'port', 'protocol'], `server with protocol ${proto} must have TLS settings`, proto === 'HTTPS' ? 'add tls: {mode: SIMPLE, credentialName: <secret>} to terminate TLS, or use protocol TLS with tls: {mode: PASSTHROUGH} to route by SNI' : 'add tls: {mode: PASSTHROUGH} to route by SNI, or mode SIMPLE with a credential to terminate');
    }
    return;
  }
  if (cls === 'http') return checkPlainHttpTls(tls, proto, tp, ctx);
  if (cls !== 'tls') {
    ctx.error(tp, `server cannot have TLS settings for non HTTPS/TLS ports (protocol ${proto})`, 'remove the tls block, or change the protocol to TLS/HTTPS');
    return;
  }
  checkTlsOptions(tls, proto, tp, ctx);
}

/** Plain HTTP servers: only `httpsRedirect` means anything (validateServer's HTTP branch). */
function checkPlainHttpTls(tls: ServerTLSSettings, proto: string, tp: Path, ctx: ValidationContext): void {
  const mode = tls.mode ?? 'PASSTHROUGH';
  if (mode === 'AUTO_PASSTHROUGH') {
    ctx.error([...tp, 'mode'], `AUTO_PASSTHROUGH requires protocol TLS (found ${proto})`, 'set port.protocol: TLS, or remove the mode from this plain HTTP server');
    return;
  }
  const files = ['serverCertificate', 'privateKey', 'caCertificates'].filter((f) => set(tls[f as keyof ServerTLSSettings] as string | undefined));
  if (mode !== 'PASSTHROUGH' || files.length > 0) {
    ctx.error(tls.mode !== undefined ? [...tp, 'mode'] : [...tp, files[0]!], `server cannot have TLS settings for plain text ${proto} ports (found ${tls.mode !== undefined ? `mode ${tls.mode}` : files.join(', ')})`, 'to serve HTTPS add a second server with protocol HTTPS and this tls block; on the plain HTTP server keep only tls.httpsRedirect');
    return;
  }
  const ignored = Object.keys(tls).filter((k) => k !== 'httpsRedirect');
  if (ignored.length > 0) {
    ctx.warning([...tp, ignored[0]!], `plain ${proto} server: tls.${ignored.join(', tls.')} ${ignored.length > 1 ? 'are' : 'is'} ignored; only tls.httpsRedirect applies to plain HTTP`, 'remove them, or move them to an HTTPS server', CODE_TLS_HTTP_IGNORED);
  }
}

/** validateTLSOptions for HTTPS/TLS servers, plus the credential exclusivity rules. */
function checkTlsOptions(tls: ServerTLSSettings, proto: string, tp: Path, ctx: ValidationContext): void {
  checkCiphersAndVersions(tls, tp, ctx);
  checkCredentialSources(tls, tp, ctx);
  const mode = tls.mode;
  const certs = certFields(tls);

  if (mode === 'ISTIO_MUTUAL') {
    for (const f of certs) ctx.error([...tp, f], `ISTIO_MUTUAL TLS cannot have associated ${f}`, `remove ${f}. ${NO_CERT_FIELDS}`);
    return;
  }
  if (mode === undefined || mode === 'PASSTHROUGH' || mode === 'AUTO_PASSTHROUGH') {
    if (mode === 'AUTO_PASSTHROUGH' && proto !== 'TLS') {
      ctx.error([...tp, 'mode'], `AUTO_PASSTHROUGH requires protocol TLS (found ${proto})`, 'set port.protocol: TLS (AUTO_PASSTHROUGH forwards by SNI without a VirtualService, e.g. on port 15443)');
    }
    if (certs.length > 0 || set(tls.caCrl)) {
      const fields = [...certs, ...(set(tls.caCrl) ? ['caCrl'] : [])];
      if (mode === undefined) {
        ctx.warning([...tp, fields[0]!], `tls has no mode, so it defaults to PASSTHROUGH: ${fields.join(', ')} ${fields.length > 1 ? 'are' : 'is'} ignored and TLS is not terminated${proto === 'HTTPS' ? ', so VirtualService http routes bound to this HTTPS server never match (a classic dead server)' : ''}`, 'add mode: SIMPLE (or MUTUAL) to terminate TLS with these certificates; for SNI passthrough remove them and write mode: PASSTHROUGH', CODE_TLS_PASSTHROUGH_CERTS);
      } else {
        ctx.warning([...tp, fields[0]!], `${mode} mode does not use certificates, they will be ignored (${fields.join(', ')})`, 'remove the certificate fields, or use mode SIMPLE/MUTUAL to terminate TLS', CODE_TLS_PASSTHROUGH_CERTS);
      }
    }
    return;
  }

  // SIMPLE, MUTUAL, OPTIONAL_MUTUAL terminate TLS.
  const mutual = mode !== 'SIMPLE';
  const credential = set(tls.credentialName) || (tls.credentialNames?.length ?? 0) > 0;
  if (credential) {
    // Istio stops checking once a credential is named; file fields are silently unused.
    const files = ['serverCertificate', 'privateKey', 'caCertificates'].filter((f) => set(tls[f as keyof ServerTLSSettings] as string | undefined));
    if (files.length > 0) {
      const name = tls.credentialName ?? tls.credentialNames?.[0] ?? '<name>';
      const caHint = files.includes('caCertificates')
        ? ` The client CA must come from the Secret: key ca.crt (kubernetes.io/tls) or cacert (generic) in Secret "${name}", or a separate Secret "${name}-cacert".`
        : '';
      ctx.warning([...tp, files[0]!], `${files.join(', ')} ${files.length > 1 ? 'are' : 'is'} ignored because credentialName is set: Istio reads certificates only from the credential (mistake (c) of the seed document).${caHint}`, `remove ${files.join(', ')} and put ${files.includes('caCertificates') ? 'the CA' : 'the material'} into Secret "${name}"${mutual ? `, e.g. {mode: ${mode}, credentialName: ${name}} plus ca.crt in the Secret` : ''}`, CODE_TLS_CREDENTIAL_WITH_FILES);
    }
    if (set(tls.caCrl)) ctx.error([...tp, 'caCrl'], 'CRL is not supported with credentialName. CRL has to be specified in the credential', `remove caCrl and add key ca.crl to the Secret`);
    return;
  }
  if ((tls.tlsCertificates?.length ?? 0) > 0) {
    checkTlsCertificates(tls, mutual, tp, ctx);
  } else {
    if (!set(tls.serverCertificate)) ctx.error([...tp, 'serverCertificate'], `${mode} TLS requires a server certificate`, 'set credentialName to a Secret in the gateway namespace (keys tls.crt/tls.key), or serverCertificate + privateKey file paths');
    if (!set(tls.privateKey)) ctx.error([...tp, 'privateKey'], `${mode} TLS requires a private key`, 'set privateKey (the file path of the key), or use credentialName');
    if (mutual && !set(tls.caCertificates)) ctx.error([...tp, 'caCertificates'], `${mode} TLS requires a client CA bundle`, 'set caCertificates to the CA file path, or use credentialName with ca.crt in the Secret');
  }
  if (set(tls.caCrl) && mode === 'SIMPLE') ctx.error([...tp, 'caCrl'], 'CRL is not supported with SIMPLE TLS', 'remove caCrl, or use mode MUTUAL');
}

function checkTlsCertificates(tls: ServerTLSSettings, mutual: boolean, tp: Path, ctx: ValidationContext): void {
  if (tls.tlsCertificates!.length > 2) ctx.error([...tp, 'tlsCertificates'], `at most 2 tlsCertificates (one RSA, one ECDSA) are allowed, found ${tls.tlsCertificates!.length}`);
  tls.tlsCertificates!.forEach((c, i) => {
    if (!set(c.serverCertificate)) ctx.error([...tp, 'tlsCertificates', i, 'serverCertificate'], 'tlsCertificates entry requires serverCertificate');
    if (!set(c.privateKey)) ctx.error([...tp, 'tlsCertificates', i, 'privateKey'], 'tlsCertificates entry requires privateKey');
  });
  if (mutual && !set(tls.caCertificates) && !tls.tlsCertificates!.some((c) => set(c.caCertificates))) {
    ctx.error([...tp, 'caCertificates'], 'MUTUAL TLS requires a client CA bundle', 'set caCertificates');
  }
}

/** credentialName, credentialNames and tlsCertificates are alternative sources of one thing. */
function checkCredentialSources(tls: ServerTLSSettings, tp: Path, ctx: ValidationContext): void {
  const sources = (['credentialName', 'credentialNames', 'tlsCertificates'] as const).filter((f) => (f === 'credentialName' ? set(tls[f]) : (tls[f]?.length ?? 0) > 0));
  if (sources.length > 1) ctx.error([...tp, sources[1]!], `only one of credentialName, credentialNames or tlsCertificates may be set (found ${sources.join(' and ')})`, 'keep one certificate source');
  if ((tls.credentialNames?.length ?? 0) > 2) ctx.error([...tp, 'credentialNames'], `credentialNames allows at most 2 entries (one RSA, one ECDSA), found ${tls.credentialNames!.length}`);
  if ((tls.tlsCertificates?.length ?? 0) > 0 && (set(tls.serverCertificate) || set(tls.privateKey))) {
    ctx.error([...tp, set(tls.serverCertificate) ? 'serverCertificate' : 'privateKey'], 'serverCertificate/privateKey cannot be combined with tlsCertificates', 'list every certificate under tlsCertificates');
  }
}

const RANK: Record<string, number> = { TLSV1_0: 0, TLSV1_1: 1, TLSV1_2: 2, TLSV1_3: 3 };

function checkCiphersAndVersions(tls: ServerTLSSettings, tp: Path, ctx: ValidationContext): void {
  const min = tls.minProtocolVersion;
  const max = tls.maxProtocolVersion;
  if ((min === 'TLSV1_0' || min === 'TLSV1_1') && (tls.cipherSuites?.length ?? 0) === 0) {
    ctx.warning([...tp, 'minProtocolVersion'], 'TLS version below TLSV1_2 require setting compatible ciphers as by default they no longer include compatible ciphers', 'list cipherSuites compatible with the old version, or raise minProtocolVersion to TLSV1_2');
  }
  if (min !== undefined && max !== undefined && min !== 'TLS_AUTO' && max !== 'TLS_AUTO' && RANK[min]! > RANK[max]!) {
    ctx.error([...tp, 'minProtocolVersion'], `minProtocolVersion ${min} is above maxProtocolVersion ${max}: no TLS version is left`, 'lower minProtocolVersion or raise maxProtocolVersion', CODE_TLS_BAD_PARAMS);
  }
  const seen = new Set<string>();
  (tls.cipherSuites ?? []).forEach((c, i) => {
    if (!VALID_CIPHERS.has(c)) ctx.warning([...tp, 'cipherSuites', i], `ignoring invalid cipher suite "${c}"`, `use OpenSSL-style names, e.g. ECDHE-RSA-AES128-GCM-SHA256`);
    else if (seen.has(c)) ctx.warning([...tp, 'cipherSuites', i], `ignoring duplicate cipher suite "${c}"`);
    seen.add(c);
  });
  (tls.verifyCertificateHash ?? []).forEach((h, i) => {
    if (!/^([0-9a-fA-F]{2}:){31}[0-9a-fA-F]{2}$|^[0-9a-fA-F]{64}$/.test(h)) ctx.error([...tp, 'verifyCertificateHash', i], `"${h}" is not a hex SHA-256 certificate hash`, 'write 64 hex digits, optionally colon-separated (openssl x509 -noout -fingerprint -sha256)', CODE_TLS_BAD_PARAMS);
  });
  (tls.verifyCertificateSpki ?? []).forEach((h, i) => {
    if (!/^[A-Za-z0-9+/]{43}=$/.test(h)) ctx.error([...tp, 'verifyCertificateSpki', i], `"${h}" is not a base64 SHA-256 SPKI hash`, 'write the base64 of the 32-byte SHA-256 of the SubjectPublicKeyInfo (44 characters ending in "=")', CODE_TLS_BAD_PARAMS);
  });
}
