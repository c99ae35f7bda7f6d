import type { CompileContext } from './context.js';
import type { TlsSecret } from './snapshot.js';

// TLS material by credential name, as Istio's SDS resolves `credentialName`: a Secret in the
// workload's namespace — `kubernetes.io/tls` (tls.crt, tls.key, ca.crt) or generic (cert,
// key, cacert) — with the CA optionally in a second Secret `<name>-cacert`; or Sluice's
// `--credentials DIR/<name>/{tls.crt,tls.key,ca.crt}`.

function decode(v: string | undefined): string | null {
  if (v === undefined) return null;
  return Buffer.from(v, 'base64').toString('utf8');
}

function secretData(ctx: CompileContext, namespace: string, name: string): Record<string, string> | null {
  const s = ctx.store.get('Secret', namespace, name);
  if (s === undefined) return null;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.spec.data ?? {})) out[k] = decode(v) ?? '';
  for (const [k, v] of Object.entries(s.spec.stringData ?? {})) out[k] = v;
  return out;
}

/**
 * Resolves `credentialName` for this workload. Registers the result in ctx.secrets under
 * `kubernetes://<name>` and returns that key. A missing secret still registers an entry with
 * `error` set, so the listener can refuse handshakes with a clear reason (IST0161).
 */
export function resolveCredential(ctx: CompileContext, credentialName: string): TlsSecret {
  const key = `kubernetes://${credentialName}`;
  const existing = ctx.secrets.get(key);
  if (existing !== undefined) return existing;
  const ns = ctx.workload.namespace;
  let secret: TlsSecret;
  const data = secretData(ctx, ns, credentialName);
  const files = ctx.input.credentials.get(credentialName);
  if (data !== null) {
    let ca = data['ca.crt'] ?? data.cacert ?? null;
    if (ca === null) {
      const caData = secretData(ctx, ns, `${credentialName}-cacert`);
      if (caData !== null) ca = caData['ca.crt'] ?? caData.cacert ?? null;
    }
    const cert = data['tls.crt'] ?? data.cert ?? null;
    const privateKey = data['tls.key'] ?? data.key ?? null;
    secret = { name: key, cert, key: privateKey, ca, origin: `Secret ${ns}/${credentialName}`, error: null };
  } else if (files !== undefined) {
    secret = { name: key, cert: files.cert, key: files.key, ca: files.ca, origin: files.origin, error: null };
  } else if (credentialName.endsWith('-cacert')) {
    // `credentialName: name-cacert` names only a CA bundle.
    const caData = secretData(ctx, ns, credentialName);
    secret = { name: key, cert: null, key: null, ca: caData?.['ca.crt'] ?? caData?.cacert ?? null, origin: `Secret ${ns}/${credentialName}`, error: caData === null ? `Secret ${ns}/${credentialName} not found` : null };
  } else {
    secret = { name: key, cert: null, key: null, ca: null, origin: `Secret ${ns}/${credentialName}`, error: `no Secret ${ns}/${credentialName} and no --credentials folder ${credentialName}/` };
  }
  ctx.secrets.set(key, Object.freeze(secret));
  return secret;
}

/** TLS material from file paths (serverCertificate/privateKey/caCertificates, DR client files). */
export function resolveFiles(ctx: CompileContext, cert: string | undefined, key: string | undefined, ca: string | undefined): TlsSecret {
  const name = `file://${cert ?? ''}~${key ?? ''}~${ca ?? ''}`;
  const existing = ctx.secrets.get(name);
  if (existing !== undefined) return existing;
  const read = (p: string | undefined): string | null => (p === undefined ? null : (ctx.input.files.get(p) ?? null));
  const missing = [cert, key, ca].filter((p) => p !== undefined && !ctx.input.files.has(p));
  const secret: TlsSecret = Object.freeze({
    name,
    cert: read(cert),
    key: read(key),
    ca: read(ca),
    origin: 'files',
    error: missing.length > 0 ? `cannot read ${missing.join(', ')}` : null,
  });
  ctx.secrets.set(name, secret);
  return secret;
}

/** The mesh workload certificate (ISTIO_MUTUAL), registered as `default` like Istio's SDS. */
export function meshSecret(ctx: CompileContext): TlsSecret {
  const existing = ctx.secrets.get('default');
  if (existing !== undefined) return existing;
  const ca = ctx.meshCa;
  const secret: TlsSecret = Object.freeze(ca === null
    ? { name: 'default', cert: null, key: null, ca: null, origin: 'mesh CA', error: 'ISTIO_MUTUAL needs the mesh CA: run `sluice ca init --dir DIR` and start with --mesh-ca-dir DIR' }
    : { name: 'default', cert: ca.cert, key: ca.key, ca: ca.root, origin: 'mesh CA', error: null });
  ctx.secrets.set('default', secret);
  return secret;
}

/** All file paths a set of resources names, so the config layer can read them before compile. */
export function referencedFiles(paths: (string | undefined)[]): string[] {
  return paths.filter((p): p is string => typeof p === 'string' && p !== '');
}
