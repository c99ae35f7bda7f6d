import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCa {
  dir: string;
  certPem: string;
  keyFile: string;
  certFile: string;
}

export interface IssuedCert {
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A throw-away CA (EC P-256) made with openssl, for real TLS handshakes in tests. */
export function createTestCa(name = 'Sluice Test CA'): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-ca-'));
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '30', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-keyout', 'ca.key', '-out', 'ca.crt'], dir);
  return { dir, certPem: readFileSync(join(dir, 'ca.crt'), 'utf8'), keyFile: join(dir, 'ca.key'), certFile: join(dir, 'ca.crt') };
}

/** A leaf certificate signed by `ca` with the given DNS/IP/URI SANs. */
export function issueCert(ca: TestCa, cn: string, sans: string[], opts: { days?: number; client?: boolean; rsa?: boolean } = {}): IssuedCert {
  const dir = mkdtempSync(join(ca.dir, 'leaf-'));
  const san = sans.map((s) => (s.includes('://') ? `URI:${s}` : /^[\d.]+$/.test(s) || s.includes(':') ? `IP:${s}` : `DNS:${s}`)).join(',');
  writeFileSync(join(dir, 'ext.cnf'), `subjectAltName=${san}\nextendedKeyUsage=${opts.client === true ? 'clientAuth,serverAuth' : 'serverAuth,clientAuth'}\nbasicConstraints=CA:FALSE\n`);
  const keyArgs = opts.rsa === true ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
  openssl(['req', ...keyArgs, '-nodes', '-subj', `/CN=${cn}`, '-keyout', 'leaf.key', '-out', 'leaf.csr'], dir);
  openssl(['x509', '-req', '-in', 'leaf.csr', '-CA', ca.certFile, '-CAkey', ca.keyFile, '-CAcreateserial', '-days', String(opts.days ?? 30), '-extfile', 'ext.cnf', '-out', 'leaf.crt'], dir);
  return { cert: readFileSync(join(dir, 'leaf.crt'), 'utf8'), key: readFileSync(join(dir, 'leaf.key'), 'utf8'), certFile: join(dir, 'leaf.crt'), keyFile: join(dir, 'leaf.key') };
}

/** A server certificate for `host` (CN and the one DNS SAN) signed by `ca`. */
export function serverCert(ca: TestCa, host: string, opts: { days?: number; rsa?: boolean } = {}): IssuedCert {
  return issueCert(ca, host, [host], opts);
}

/** Writes `--credentials DIR/<name>/{tls.crt,tls.key,ca.crt}`. */
export function writeCredential(root: string, name: string, c: { cert?: string; key?: string; ca?: string }): string {
  const d = join(root, name);
  mkdirSync(d, { recursive: true });
  if (c.cert !== undefined) writeFileSync(join(d, 'tls.crt'), c.cert);
  if (c.key !== undefined) writeFileSync(join(d, 'tls.key'), c.key);
  if (c.ca !== undefined) writeFileSync(join(d, 'ca.crt'), c.ca);
  return d;
}

/** A `kubernetes.io/tls` Secret document, as `kubectl create secret tls` makes it. */
export function tlsSecretYaml(name: string, namespace: string, c: { cert: string; key: string; ca?: string }): string {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  return `apiVersion: v1\nkind: Secret\nmetadata:\n  name: ${name}\n  namespace: ${namespace}\ntype: kubernetes.io/tls\ndata:\n  tls.crt: ${b64(c.cert)}\n  tls.key: ${b64(c.key)}\n${c.ca !== undefined ? `  ca.crt: ${b64(c.ca)}\n` : ''}`;
}
