import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import type { CompileContext } from './context.js';
import type { TlsSecret } from './snapshot.js';

// TLS material by credential name, resolved as Istio's SDS server does for `credentialName`
// (pilot/pkg/credentials/kube): the key pair comes from Secret `<name>` in the workload's
// namespace — generic keys `cert`/`key` first, else `kubernetes.io/tls` keys `tls.crt`/`tls.key`;
// the CA (MUTUAL) from Secret `<name>-cacert` when it exists, else from `<name>` itself —
// `cacert` first, else `ca.crt`. Sluice adds `--credentials DIR/<name>/{tls.crt,tls.key,ca.crt}`
// (and `DIR/<name>-cacert/ca.crt`) for running without Kubernetes. Entries are registered under
// Envoy's SDS resource names, `kubernetes://<name>` and `kubernetes://<name>-cacert`, so
// `config_dump` reads like `istioctl proxy-config secret`.

/** Istio's suffix for the CA half of a credential (securitymodel.SdsCaSuffix). */
export const CA_SUFFIX = '-cacert';

function decode(v: string): string {
  return Buffer.from(v, 'base64').toString('utf8');
}

function secretData(ctx: CompileContext, name: string): Record<string, string> | null {
  const s = ctx.store.get('Secret', ctx.workload.namespace, name);
  if (s === undefined) return null;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.spec.data ?? {})) out[k] = decode(v);
  for (const [k, v] of Object.entries(s.spec.stringData ?? {})) out[k] = v;
  return out;
}

const nonEmpty = (v: string | undefined): v is string => v !== undefined && v !== '';

/** Istio's ExtractCertInfo: generic cert/key win over tls.crt/tls.key; both halves required. */
function extractKeyPair(d: Record<string, string>, where: string): { cert: string; key: string } | string {
  if (nonEmpty(d.cert) && nonEmpty(d.key)) return { cert: d.cert, key: d.key };
  if (nonEmpty(d['tls.crt']) && nonEmpty(d['tls.key'])) return { cert: d['tls.crt'], key: d['tls.key'] };
  if ('cert' in d && 'key' in d) return `${where}: found keys "cert" and "key", but they were empty`;
  if ('tls.crt' in d && 'tls.key' in d) return `${where}: found keys "tls.crt" and "tls.key", but they were empty`;
  return `${where} has neither cert/key nor tls.crt/tls.key (found: ${Object.keys(d).sort().join(', ') || 'no keys'})`;
}

/** Istio's ExtractRoot: `cacert` first, else `ca.crt`. */
function extractRoot(d: Record<string, string>, where: string): string | { error: string } {
  if (nonEmpty(d.cacert)) return d.cacert;
  if (nonEmpty(d['ca.crt'])) return d['ca.crt'];
  return { error: `${where} has no CA certificate (key cacert or ca.crt)` };
}

/** Checks PEM material now, so a bad Secret is a diagnostic rather than a failed handshake. */
function checkMaterial(cert: string | null, key: string | null, ca: string | null): string | null {
  try {
    if (cert !== null) {
      const x = new X509Certificate(cert);
      if (key !== null && !x.checkPrivateKey(createPrivateKey(key))) return 'the private key does not match the certificate';
    } else if (key !== null) {
      createPrivateKey(key);
    }
    if (ca !== null) new X509Certificate(ca);
  } catch (e) {
    return `not a valid PEM certificate/key: ${(e as Error).message}`;
  }
  return null;
}

function register(ctx: CompileContext, s: Omit<TlsSecret, 'fingerprint'>): TlsSecret {
  const fingerprint = createHash('sha256').update(`${s.cert ?? ''}\0${s.key ?? ''}\0${s.ca ?? ''}\0${s.error ?? ''}`).digest('hex').slice(0, 16);
  const out: TlsSecret = Object.freeze({ ...s, fingerprint });
  ctx.secrets.set(s.name, out);
  return out;
}

/**
 * The key pair for `credentialName` (`kubernetes://<name>`): Secret first, then
 * `--credentials DIR/<name>/`. A missing or unusable one still registers an entry with
 * `error` set, which the caller turns into IST0161.
 */
export function resolveCredential(ctx: CompileContext, credentialName: string): TlsSecret {
  const name = `kubernetes://${credentialName}`;
  const existing = ctx.secrets.get(name);
  if (existing !== undefined) return existing;
  const ns = ctx.workload.namespace;
  const data = secretData(ctx, credentialName);
  const files = ctx.input.credentials.get(credentialName);
  let cert: string | null = null;
  let key: string | null = null;
  let origin: string;
  let error: string | null = null;
  if (data !== null) {
    origin = `Secret ${ns}/${credentialName}`;
    const kp = extractKeyPair(data, origin);
    if (typeof kp === 'string') error = kp;
    else ({ cert, key } = kp);
  } else if (files !== undefined) {
    origin = files.origin;
    cert = files.cert;
    key = files.key;
    if (cert === null || key === null) error = `${origin} lacks ${cert === null ? 'tls.crt' : 'tls.key'}`;
  } else {
    origin = `Secret ${ns}/${credentialName}`;
    error = `secret ${ns}/${credentialName} not found (no Secret in the config and no --credentials folder ${credentialName}/)`;
  }
  if (error === null) {
    const bad = checkMaterial(cert, key, null);
    if (bad !== null) error = `${origin}: ${bad}`;
  }
  return register(ctx, { name, cert, key, ca: null, origin, error });
}

/**
 * The CA for `credentialName` (`kubernetes://<name>-cacert`), as Istio's GetCaCert: Secret
 * `<name>-cacert`, else Secret `<name>`; then the same two names under `--credentials`.
 */
export function resolveCredentialCa(ctx: CompileContext, credentialName: string): TlsSecret {
  const caName = credentialName.endsWith(CA_SUFFIX) ? credentialName : `${credentialName}${CA_SUFFIX}`;
  const name = `kubernetes://${caName}`;
  const existing = ctx.secrets.get(name);
  if (existing !== undefined) return existing;
  const ns = ctx.workload.namespace;
  const stripped = caName.slice(0, -CA_SUFFIX.length);
  let ca: string | null = null;
  let origin = '';
  let error: string | null = null;
  const split = secretData(ctx, caName);
  const whole = split === null ? secretData(ctx, stripped) : null;
  if (split !== null || whole !== null) {
    origin = `Secret ${ns}/${split !== null ? caName : stripped}`;
    const r = extractRoot((split ?? whole)!, origin);
    if (typeof r === 'string') ca = r;
    else error = r.error;
  } else {
    const files = ctx.input.credentials.get(caName) ?? ctx.input.credentials.get(stripped);
    if (files !== undefined && files.ca !== null) {
      ca = files.ca;
      origin = files.origin;
    } else {
      origin = `Secret ${ns}/${stripped}`;
      error = files !== undefined
        ? `${files.origin} has no ca.crt`
        : `no CA for ${stripped}: neither Secret ${ns}/${caName} nor ${ns}/${stripped} exists (nor a --credentials folder)`;
    }
  }
  if (error === null) {
    const bad = checkMaterial(null, null, ca);
    if (bad !== null) error = `${origin}: ${bad}`;
  }
  return register(ctx, { name, cert: null, key: null, ca, origin, error });
}

/** TLS material from file paths (serverCertificate/privateKey/caCertificates, DR client files). */
export function resolveFiles(ctx: CompileContext, cert: string | undefined, key: string | undefined, ca: string | undefined): TlsSecret {
  const name = `file://${[cert, key, ca].filter((p) => p !== undefined).join('~')}`;
  const existing = ctx.secrets.get(name);
  if (existing !== undefined) return existing;
  const read = (p: string | undefined): string | null => (p === undefined ? null : (ctx.input.files.get(p) ?? null));
  const missing = [cert, key, ca].filter((p): p is string => p !== undefined && !ctx.input.files.has(p));
  let error = missing.length > 0 ? `cannot read ${missing.join(', ')}` : null;
  if (error === null) {
    const bad = checkMaterial(read(cert), read(key), read(ca));
    if (bad !== null) error = `${[cert, key, ca].filter((p) => p !== undefined).join(', ')}: ${bad}`;
  }
  return register(ctx, { name, cert: read(cert), key: read(key), ca: read(ca), origin: 'files', error });
}

/** The mesh workload certificate (ISTIO_MUTUAL), registered as `default` like Istio's SDS. */
export function meshSecret(ctx: CompileContext): TlsSecret {
  const existing = ctx.secrets.get('default');
  if (existing !== undefined) return existing;
  const ca = ctx.meshCa;
  return register(ctx, ca === null
    ? { name: 'default', cert: null, key: null, ca: null, origin: 'mesh CA', error: 'ISTIO_MUTUAL needs the mesh CA, which is not yet configured: run `sluice ca init --dir DIR` and start with --mesh-ca-dir DIR' }
    : { name: 'default', cert: ca.cert, key: ca.key, ca: ca.root, origin: 'mesh CA', error: null });
}

/** All file paths a set of resources names, so the config layer can read them before compile. */
export function referencedFiles(paths: (string | undefined)[]): string[] {
  return paths.filter((p): p is string => typeof p === 'string' && p !== '');
}
