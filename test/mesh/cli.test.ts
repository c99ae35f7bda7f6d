import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSluice, startSluice } from '../support/sluice-process.js';
import { pluginCaFiles } from './support/plugin-ca.js';

describe('sluice ca', () => {
  it('init writes the CA; init again refuses (exit 1) and says how to force it', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'sluice-cli-')), 'ca');
    const first = await runSluice(['ca', 'init', '--dir', dir, '--trust-domain', 'corp.example']);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/mesh CA created in .*\n.*\n {2}subject: {2}O=corp\.example, CN=Sluice mesh root CA/);
    const again = await runSluice(['ca', 'init', '--dir', dir]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/SLU0401: .* already holds a CA .*use --force/);
  });

  it('issue writes cert-chain.pem, key.pem, root-cert.pem for the identity; show prints the CA', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
    expect((await runSluice(['ca', 'init', '--dir', join(root, 'ca')])).code).toBe(0);
    const r = await runSluice(['ca', 'issue', '--dir', join(root, 'ca'), '--namespace', 'payments', '--service-account', 'api', '--ttl', '2h', '--out', join(root, 'api')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('issued spiffe://cluster.local/ns/payments/sa/api');
    const cert = new X509Certificate(readFileSync(join(root, 'api', 'cert-chain.pem')));
    expect(cert.subjectAltName).toBe('URI:spiffe://cluster.local/ns/payments/sa/api');
    expect(Date.parse(cert.validTo) - Date.now()).toBeLessThanOrEqual(2 * 3_600_000);
    expect(readFileSync(join(root, 'api', 'key.pem'), 'utf8')).toMatch(/BEGIN PRIVATE KEY/);
    const show = await runSluice(['ca', 'show', '--dir', join(root, 'ca')]);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/trust anchors \(root-cert\.pem\):/);
  });

  it('init --from takes a user CA in Istio\'s plug-in layout', async () => {
    const src = pluginCaFiles();
    const dst = join(mkdtempSync(join(tmpdir(), 'sluice-cli-')), 'ca');
    const r = await runSluice(['ca', 'init', '--dir', dst, '--from', src]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/imported from .*\n.*\n {2}subject: {2}.*Intermediate CA/);
  });

  it('bad input: a bad --ttl, a folder without a CA', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
    const ttl = await runSluice(['ca', 'issue', '--dir', root, '--namespace', 'a', '--service-account', 'b', '--ttl', 'soon', '--out', join(root, 'x')]);
    expect(ttl.code).toBe(2);
    expect(ttl.stderr).toContain('--ttl soon: expected a duration');
    const none = await runSluice(['ca', 'show', '--dir', root]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/SLU0402: .*ca-cert\.pem not found.*sluice ca init --dir/);
  });
});

describe('sluice run --mesh-ca-dir', () => {
  it('exits 2 with the reason when the CA folder is unusable', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
    writeFileSync(join(root, 'empty.yaml'), '');
    const r = await runSluice(['run', '-c', join(root, 'empty.yaml'), '--admin-port', '0', '--mesh-ca-dir', join(root, 'nope')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--mesh-ca-dir .*: .*not found: a mesh CA folder holds ca-cert\.pem/);
    const ttl = await runSluice(['run', '-c', join(root, 'empty.yaml'), '--admin-port', '0', '--mesh-ca-dir', root, '--workload-cert-ttl', '10ms']);
    expect(ttl.code).toBe(2);
    expect(ttl.stderr).toContain('--workload-cert-ttl 10ms: expected a duration of at least 1s');
  });
});

describe('sluice proxy-config secret / admin /certs with a mesh identity', () => {
  it('show the workload certificate as `default` and the mesh root as ROOTCA, with serial and SPIFFE SAN', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
    expect((await runSluice(['ca', 'init', '--dir', join(root, 'ca')])).code).toBe(0);
    writeFileSync(join(root, 'empty.yaml'), '');
    const p = await startSluice({ config: [join(root, 'empty.yaml')], args: ['--mode', 'sidecar', '--outbound-port', '0', '--namespace', 'shop', '--service-account', 'cart', '--mesh-ca-dir', join(root, 'ca'), '--drain-timeout', '1'] });
    try {
      const certs = (await (await p.admin('/certs')).json()) as { workload: { identity: string; secret: { cert_chain: { serial_number: string; subject_alt_names: { uri?: string }[] }[] } } };
      expect(certs.workload.identity).toBe('spiffe://cluster.local/ns/shop/sa/cart');
      const serial = certs.workload.secret.cert_chain[0]!.serial_number;
      expect(certs.workload.secret.cert_chain[0]!.subject_alt_names).toEqual([{ uri: 'spiffe://cluster.local/ns/shop/sa/cart' }]);
      const table = await runSluice(['proxy-config', 'secret', '--admin', `127.0.0.1:${p.adminPort}`]);
      expect(table.code).toBe(0);
      expect(table.stdout).toMatch(new RegExp(`^default +Cert Chain +ACTIVE +true +${serial} `, 'm'));
      expect(table.stdout).toMatch(/^default \(ROOTCA\) +CA +ACTIVE +true /m);
      const renewed = (await (await p.admin('/certs/renew', { method: 'POST' })).json()) as { serial_number: string };
      expect(renewed.serial_number).not.toBe(serial);
      await p.waitFor(/workload certificate renewed: serial /);
    } finally {
      await p.stop();
    }
  });
});
