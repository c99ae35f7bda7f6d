import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * A user's own CA in Istio's plug-in layout, made the way Istio's tools/certs Makefile makes
 * one: an RSA root, an intermediate signed by it, and the four files istiod reads
 * (ca-cert.pem = the intermediate, ca-key.pem, root-cert.pem, cert-chain.pem = intermediate + root).
 */
export function pluginCaFiles(opts: { rsaKeys?: boolean } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-plugin-ca-'));
  const newkey = opts.rsaKeys === false ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'] : ['-newkey', 'rsa:2048'];
  openssl(['req', '-x509', ...newkey, '-nodes', '-days', '30', '-subj', '/O=Istio/CN=Root CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-keyout', 'root-key.pem', '-out', 'root-cert.pem'], dir);
  writeFileSync(join(dir, 'ca.cnf'), 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
  openssl(['req', ...newkey, '-nodes', '-subj', '/O=Istio/CN=Intermediate CA/L=cluster1', '-keyout', 'ca-key.pem', '-out', 'ca.csr'], dir);
  openssl(['x509', '-req', '-in', 'ca.csr', '-CA', 'root-cert.pem', '-CAkey', 'root-key.pem', '-CAcreateserial', '-days', '20', '-extfile', 'ca.cnf', '-out', 'ca-cert.pem'], dir);
  if (opts.rsaKeys !== false) {
    // Istio's Makefile writes PKCS#1 ("BEGIN RSA PRIVATE KEY") keys; make sure that form loads.
    openssl(['rsa', '-in', 'ca-key.pem', '-out', 'ca-key.pem', '-traditional'], dir);
  }
  writeFileSync(join(dir, 'cert-chain.pem'), readFileSync(join(dir, 'ca-cert.pem'), 'utf8') + readFileSync(join(dir, 'root-cert.pem'), 'utf8'));
  return dir;
}
