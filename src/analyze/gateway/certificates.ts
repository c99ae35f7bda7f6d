import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { Diagnostic } from '../../config/diagnostic.js';
import type { Resource } from '../../config/resource.js';
import type { AnalysisContext, Analyzer } from '../analyzer.js';
import { newMessage } from '../messages.js';

const SOON_DAYS = 30;
const DAY_MS = 86_400_000;
const CERT_KEYS = ['tls.crt', 'cert', 'ca.crt', 'cacert'];

function pemBlocks(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

function secretValues(r: Resource<'Secret'>): Map<string, { value: string; path: (string | number)[] }> {
  const out = new Map<string, { value: string; path: (string | number)[] }>();
  for (const [k, v] of Object.entries(r.spec.data ?? {})) out.set(k, { value: Buffer.from(v, 'base64').toString('utf8'), path: ['data', k] });
  for (const [k, v] of Object.entries(r.spec.stringData ?? {})) out.set(k, { value: v, path: ['stringData', k] });
  return out;
}

/** Expiry findings for every certificate of a PEM text. */
function checkExpiry(ctx: AnalysisContext, pem: string, what: string, make: (code: string, message: string, fix: string) => Diagnostic): void {
  const now = ctx.now.getTime();
  for (const block of pemBlocks(pem)) {
    let c: X509Certificate;
    try {
      c = new X509Certificate(block);
    } catch {
      continue; // unparseable material is IST0161's business when a Gateway uses it
    }
    const to = Date.parse(c.validTo);
    const from = Date.parse(c.validFrom);
    const subject = c.subject.replace(/\n/g, ',');
    if (to < now) ctx.report(make('SLU0307', `${what}: certificate ${subject} expired on ${new Date(to).toISOString().slice(0, 10)}; TLS handshakes with it fail`, 'renew the certificate'));
    else if (from > now) ctx.report(make('SLU0307', `${what}: certificate ${subject} is not valid before ${new Date(from).toISOString().slice(0, 10)}`, 'check the issuing clock, or wait'));
    else if (to - now < SOON_DAYS * DAY_MS) ctx.report(make('SLU0308', `${what}: certificate ${subject} expires on ${new Date(to).toISOString().slice(0, 10)}, in ${Math.max(0, Math.floor((to - now) / DAY_MS))} days`, 'renew it before then'));
  }
}

/** Why a tls.crt/tls.key pair cannot serve, or null. */
function pairProblem(cert: string | undefined, key: string | undefined): string | null {
  if (cert === undefined) return 'it has no certificate (tls.crt or cert)';
  if (key === undefined) return 'it has no private key (tls.key or key)';
  const blocks = pemBlocks(cert);
  if (blocks.length === 0) return 'its certificate is not PEM';
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(blocks[0]!);
  } catch (e) {
    return `its certificate does not parse: ${(e as Error).message}`;
  }
  try {
    if (!leaf.checkPrivateKey(createPrivateKey(key))) return 'its private key does not belong to its certificate';
  } catch (e) {
    return `its private key does not parse: ${(e as Error).message}`;
  }
  return null;
}

/**
 * SLU0307/SLU0308: certificates (Secrets, --credentials folders, files the config names) that
 * have expired or expire within 30 days. IST0161: a Secret a Gateway serves from that exists
 * but cannot work (no key, not PEM, key and certificate do not match) — compile only sees that
 * it exists, and every handshake would fail.
 */
export const certificateAnalyzer: Analyzer = {
  name: 'gateway.CertificateExpiryAnalyzer',
  description: 'TLS material is valid, matches its key, and is not expiring',
  inputs: ['Secret', 'Gateway', 'DestinationRule'],
  codes: ['SLU0307', 'SLU0308', 'IST0161'],
  analyze(ctx) {
    for (const s of ctx.list('Secret')) {
      for (const [k, v] of secretValues(s)) {
        if (!CERT_KEYS.includes(k)) continue;
        checkExpiry(ctx, v.value, `Secret ${s.namespace}/${s.name} ${k}`, (code, message, fix) => newMessage(code, s, v.path, message, fix));
      }
    }
    for (const [name, c] of ctx.credentials) {
      const dir = c.origin.replace(/^--credentials /, '');
      for (const [file, pem] of [['tls.crt', c.cert], ['ca.crt', c.ca]] as const) {
        if (pem === null) continue;
        checkExpiry(ctx, pem, `credential ${name} (${dir}/${file})`, (code, message, fix) => ({ code, level: code === 'SLU0307' ? 'error' : 'warning', message, fix, file: `${dir}/${file}`, line: 0, col: 0 }));
      }
    }
    for (const [file, text] of ctx.files) {
      checkExpiry(ctx, text, `file ${file}`, (code, message, fix) => ({ code, level: code === 'SLU0307' ? 'error' : 'warning', message, fix, file, line: 0, col: 0 }));
    }
    for (const gw of ctx.list('Gateway')) {
      gw.spec.servers.forEach((srv, i) => {
        const t = srv.tls;
        if (t?.credentialName === undefined || t.mode === 'PASSTHROUGH' || t.mode === undefined) return;
        const secret = ctx.get('Secret', gw.namespace, t.credentialName);
        if (secret === undefined) return; // missing: compile reports IST0161
        const v = secretValues(secret);
        const problem = pairProblem(v.get('tls.crt')?.value ?? v.get('cert')?.value, v.get('tls.key')?.value ?? v.get('key')?.value);
        if (problem === null) return;
        ctx.report(newMessage('IST0161', gw, ['spec', 'servers', i, 'tls', 'credentialName'], `The credential referenced by the Gateway ${gw.name} in namespace ${gw.namespace} is invalid: Secret ${secret.namespace}/${secret.name}: ${problem}; TLS handshakes on this server fail`, `put a PEM certificate and its private key in Secret ${secret.namespace}/${secret.name} (kubectl create secret tls ${secret.name} --cert=... --key=... -n ${secret.namespace})`));
      });
    }
  },
};
