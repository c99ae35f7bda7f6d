import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalCaClient } from '../../src/security/ca-client.js';
import { describeCertificates } from '../../src/security/cert-info.js';
import { generateKeyPair, EC_P256 } from '../../src/security/keys.js';
import { CA_FILES, CaError, MeshCa } from '../../src/security/mesh-ca.js';
import { x509 } from '../../src/security/pem.js';
import { parseSpiffeId, principalOf, spiffeId } from '../../src/security/spiffe.js';
import { WorkloadCertificateManager, type WorkloadCertificate } from '../../src/security/workload-cert.js';
import { pluginCaFiles } from './support/plugin-ca.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'sluice-ca-test-'));

async function csrFor(identity: string): Promise<string> {
  const keys = await generateKeyPair(EC_P256);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: '', keys: keys as unknown as CryptoKeyPair, signingAlgorithm: EC_P256, extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: identity }], true)] });
  return csr.toString('pem');
}

function opensslVerify(rootPem: string, chainPem: string): string {
  const d = tmp();
  writeFileSync(join(d, 'root.pem'), rootPem);
  const certs = chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
  writeFileSync(join(d, 'leaf.pem'), certs[0]!);
  writeFileSync(join(d, 'untrusted.pem'), certs.slice(1).join('') || certs[0]!);
  return execFileSync('openssl', ['verify', '-CAfile', 'root.pem', '-untrusted', 'untrusted.pem', 'leaf.pem'], { cwd: d, encoding: 'utf8' }).trim();
}

describe('SPIFFE identities', () => {
  it('formats and parses spiffe://td/ns/x/sa/y; principals drop the scheme', () => {
    const id = spiffeId('cluster.local', 'default', 'sleep');
    expect(id).toBe('spiffe://cluster.local/ns/default/sa/sleep');
    expect(parseSpiffeId(id)).toEqual({ trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'sleep' });
    expect(principalOf(id)).toBe('cluster.local/ns/default/sa/sleep');
    expect(parseSpiffeId('spiffe://cluster.local/workload/x')).toBeNull();
    expect(parseSpiffeId('https://example.com')).toBeNull();
  });
});

describe('mesh CA: sluice ca init layout', () => {
  it('writes Istio plug-in files, the key private, and refuses to overwrite without force', async () => {
    const dir = tmp();
    const ca = await MeshCa.init(dir, { trustDomain: 'example.org' });
    for (const f of Object.values(CA_FILES)) expect(readFileSync(join(dir, f), 'utf8')).toMatch(/BEGIN/);
    expect(statSync(join(dir, CA_FILES.caKey)).mode & 0o077).toBe(0);
    const root = new X509Certificate(readFileSync(join(dir, CA_FILES.root)));
    expect(root.ca).toBe(true);
    expect(root.subject).toContain('O=example.org');
    expect(ca.chainPems).toEqual([]); // a self-signed root is the trust anchor, not sent
    await expect(MeshCa.init(dir)).rejects.toMatchObject({ code: 'SLU0401' });
    const again = await MeshCa.init(dir, { force: true });
    expect(again.rootPem).not.toBe(ca.rootPem);
  });

  it('issues a workload certificate Istio-style: empty subject, critical URI SAN, both EKUs, verified by openssl', async () => {
    const ca = await MeshCa.init(tmp());
    const id = spiffeId('cluster.local', 'default', 'sleep');
    const chain = await ca.sign({ csrPem: await csrFor(id), identities: [id], ttlMs: 3_600_000 });
    const leaf = new X509Certificate(chain[0]!);
    expect(leaf.subjectAltName).toBe(`URI:${id}`);
    expect(leaf.ca).toBe(false);
    expect(leaf.checkIssued(new X509Certificate(ca.caCertPem))).toBe(true);
    const text = execFileSync('openssl', ['x509', '-noout', '-text'], { input: chain[0], encoding: 'utf8' });
    expect(text).toMatch(/Subject Alternative Name: critical/);
    expect(text).toMatch(/TLS Web Server Authentication, TLS Web Client Authentication/);
    expect(opensslVerify(ca.rootPem, chain.join(''))).toMatch(/OK$/);
    const lifetime = Date.parse(leaf.validTo) - Date.now();
    expect(lifetime).toBeGreaterThan(3_500_000);
    expect(lifetime).toBeLessThanOrEqual(3_600_000);
  });

  it('signs for the caller identity only: a CSR asking for another identity is refused, as istiod does', async () => {
    const ca = await MeshCa.init(tmp());
    const me = spiffeId('cluster.local', 'default', 'sleep');
    const other = spiffeId('cluster.local', 'istio-system', 'istio-egressgateway-service-account');
    await expect(ca.sign({ csrPem: await csrFor(other), identities: [me], ttlMs: 60_000 })).rejects.toMatchObject({ code: 'SLU0411' });
    await expect(ca.sign({ csrPem: 'not a csr', identities: [me], ttlMs: 60_000 })).rejects.toBeInstanceOf(CaError);
  });

  it('caps the lifetime at the CA\'s own expiry', async () => {
    const ca = await MeshCa.init(tmp(), { days: 1 });
    const id = spiffeId('cluster.local', 'default', 'sleep');
    const chain = await ca.sign({ csrPem: await csrFor(id), identities: [id], ttlMs: 30 * 86_400_000 });
    expect(Date.parse(new X509Certificate(chain[0]!).validTo)).toBeLessThanOrEqual(ca.notAfter.getTime());
  });
});

describe("mesh CA: the user's own CA (ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem)", () => {
  it('loads an intermediate CA with a PKCS#1 RSA key and sends the intermediate with each leaf', async () => {
    const dir = pluginCaFiles();
    const ca = await MeshCa.load(dir);
    expect(ca.chainPems).toHaveLength(1); // the intermediate; the root is the trust anchor
    const id = spiffeId('cluster.local', 'default', 'sleep');
    const chain = await ca.sign({ csrPem: await csrFor(id), identities: [id], ttlMs: 600_000 });
    expect(chain).toHaveLength(2);
    expect(opensslVerify(readFileSync(join(dir, 'root-cert.pem'), 'utf8'), chain.join(''))).toMatch(/OK$/);
  });

  it('sluice ca init --from copies a checked plug-in CA', async () => {
    const src = pluginCaFiles({ rsaKeys: false });
    const dst = tmp();
    const ca = await MeshCa.importFrom(src, dst);
    expect(readFileSync(join(dst, 'root-cert.pem'), 'utf8')).toBe(readFileSync(join(src, 'root-cert.pem'), 'utf8'));
    expect(ca.chainPems).toHaveLength(1);
  });

  it('names the problem: missing files, a key that is not the certificate\'s, a chain that does not reach the root', async () => {
    await expect(MeshCa.load(tmp())).rejects.toMatchObject({ code: 'SLU0402', message: expect.stringContaining('sluice ca init --dir') });
    const wrongKey = pluginCaFiles({ rsaKeys: false });
    cpSync(join(wrongKey, 'root-key.pem'), join(wrongKey, 'ca-key.pem'));
    await expect(MeshCa.load(wrongKey)).rejects.toMatchObject({ code: 'SLU0405', message: expect.stringContaining('is not the key of') });
    const foreignRoot = pluginCaFiles({ rsaKeys: false });
    const other = pluginCaFiles({ rsaKeys: false });
    cpSync(join(other, 'root-cert.pem'), join(foreignRoot, 'root-cert.pem'));
    writeFileSync(join(foreignRoot, 'cert-chain.pem'), readFileSync(join(foreignRoot, 'ca-cert.pem')));
    await expect(MeshCa.load(foreignRoot)).rejects.toMatchObject({ code: 'SLU0406', message: expect.stringContaining('does not chain up') });
    const notCa = tmp();
    const ca = await MeshCa.init(tmp());
    const id = spiffeId('cluster.local', 'default', 'x');
    const leaf = await ca.sign({ csrPem: await csrFor(id), identities: [id], ttlMs: 60_000 });
    writeFileSync(join(notCa, 'ca-cert.pem'), leaf[0]!);
    writeFileSync(join(notCa, 'ca-key.pem'), (await generateKeyPair()).pem);
    await expect(MeshCa.load(notCa)).rejects.toMatchObject({ code: 'SLU0403', message: expect.stringContaining('not a CA certificate') });
  });
});

describe('workload certificates (istio-agent model: key + CSR → CA client → chain, renewed at half-life)', () => {
  it('issues for --namespace/--service-account and renews with a new key and serial before expiry', async () => {
    const ca = await MeshCa.init(tmp());
    const id = spiffeId('cluster.local', 'prod', 'payments');
    const renewed: WorkloadCertificate[] = [];
    const m = new WorkloadCertificateManager({ client: new LocalCaClient(ca, id), trustDomain: 'cluster.local', namespace: 'prod', serviceAccount: 'payments', ttlMs: 2_000, onRenewed: (c) => renewed.push(c) });
    const first = await m.start();
    expect(first.identity).toBe(id);
    expect(describeCertificates(first.certChain)[0]!.subject_alt_names).toEqual([{ uri: id }]);
    // Renewal is due at half of the lifetime, well before expiry.
    expect(first.renewAt - first.issuedAt).toBeLessThanOrEqual(1_000);
    expect(first.renewAt).toBeLessThan(first.notAfter.getTime());
    await expect.poll(() => renewed.length, { timeout: 10_000, interval: 50 }).toBeGreaterThan(0);
    m.stop();
    const next = renewed[0]!;
    expect(next.serialNumber).not.toBe(first.serialNumber);
    expect(next.privateKey).not.toBe(first.privateKey);
    expect(m.current().serialNumber).toBe(renewed[renewed.length - 1]!.serialNumber);
  });

  it('keeps serving the current certificate and retries when the CA fails', async () => {
    const ca = await MeshCa.init(tmp());
    const id = spiffeId('cluster.local', 'default', 'sleep');
    let fail = false;
    const client = new LocalCaClient(ca, id);
    const flaky = { csrSign: (csr: string, ttl: number) => (fail ? Promise.reject(new Error('CA unreachable')) : client.csrSign(csr, ttl)), rootCertificates: () => client.rootCertificates(), close: () => {} };
    const m = new WorkloadCertificateManager({ client: flaky, trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'sleep', ttlMs: 60_000 });
    const first = await m.start();
    fail = true;
    await expect(m.renew()).rejects.toThrow('CA unreachable');
    expect(m.current().serialNumber).toBe(first.serialNumber);
    fail = false;
    const next = await m.renew();
    expect(m.current().serialNumber).toBe(next.serialNumber);
    m.stop();
  });
});
