// The user's document: every YAML snippet of shared/seed/000_0c0e52cb95e0385f.txt must validate,
// except the mistakes listed in spec §13, which must be refused (or flagged) with the mistake
// and the fix named. testdata/seed-snippets.yaml holds the snippets with their indentation
// restored; the first test proves it is a faithful copy of the seed text.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runFixture, runText, show, TESTDATA } from './harness.js';

const SEED = join(import.meta.dirname, '../../../shared/seed/000_0c0e52cb95e0385f.txt');
const FIXTURE = 'seed-snippets.yaml';
const docs = runFixture(FIXTURE);
const fixtureText = readFileSync(join(TESTDATA, FIXTURE), 'utf8');
const byName = (name: string) => {
  const d = docs.find((x) => x.name === name);
  if (d === undefined) throw new Error(`no document ${name}`);
  return d;
};
/** 1-based line of the first fixture line containing `needle`. */
const lineOf = (needle: string): number => fixtureText.split('\n').findIndex((l) => l.includes(needle)) + 1;

describe('seed snippets', () => {
  it('are the seed document\'s YAML, line for line (indentation aside)', () => {
    let seed: string;
    try {
      seed = readFileSync(SEED, 'utf8');
    } catch {
      return; // the shared seed is not part of this repository's checkout everywhere
    }
    const seedLines = seed.split('\n').map((l) => l.trim());
    const blocks = fixtureText.split(/^---$/m);
    let copied = 0;
    for (const block of blocks) {
      // Our own comments (headers, `# ---` markers) are not in the seed; the seed's are kept.
      const body = block
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '' && (!l.startsWith('#') || seedLines.includes(l)));
      if (body.some((l) => l.startsWith('kind: Secret'))) continue; // stands for a kubectl command
      let at = seedLines.indexOf(body[0]!);
      // the snippet may start at a later occurrence of its first line
      while (at >= 0 && seedLines.slice(at, at + body.length).join('\n') !== body.join('\n')) at = seedLines.indexOf(body[0]!, at + 1);
      expect(at, `snippet not found verbatim in the seed:\n${body.join('\n')}`).toBeGreaterThanOrEqual(0);
      copied++;
    }
    expect(copied).toBe(22);
  });

  it('all validate except the egress Gateway with ISTIO_MUTUAL_TLS', () => {
    const refused = docs.filter((d) => !d.accepted).map((d) => `${d.kind}/${d.name}`);
    expect(refused).toEqual(['Gateway/istio-egress-gateway']);
  });

  it('mistake (a): ISTIO_MUTUAL_TLS is refused, naming ISTIO_MUTUAL and the no-certificates rule', () => {
    const d = byName('istio-egress-gateway');
    const errors = d.diagnostics.filter((x) => x.level === 'error');
    expect(errors, show(d.diagnostics)).toHaveLength(1);
    const e = errors[0]!;
    expect(e.code).toBe('IST0106');
    expect(e.path).toBe('spec.servers[0].tls.mode');
    expect(e.line).toBe(lineOf('mode: ISTIO_MUTUAL_TLS'));
    expect(e.message).toBe('unknown value "ISTIO_MUTUAL_TLS"; did you mean "ISTIO_MUTUAL"?');
    expect(e.fix).toMatch(/ISTIO_MUTUAL takes no certificate fields/);
  });

  it('mistake (b): MeshConfig is accepted with a warning that says where the setting belongs', () => {
    const d = byName('istio');
    expect(d.kind).toBe('MeshConfig');
    expect(d.accepted).toBe(true);
    const w = d.diagnostics.find((x) => x.code === 'SLU0012');
    expect(w?.level).toBe('warning');
    expect(w?.fix).toMatch(/meshConfig/);
  });

  it('mistake (c): caCertificates next to credentialName is accepted with a warning naming the Secret keys', () => {
    const d = byName('istio-egress-gateway-mtls');
    expect(d.accepted).toBe(true);
    const w = d.diagnostics.filter((x) => x.level !== 'info');
    expect(w.map((x) => [x.code, x.path, x.line]), show(d.diagnostics)).toEqual([['SLU0111', 'spec.servers[0].tls.caCertificates', lineOf('caCertificates: external-ca.pem')]]);
    expect(w[0]!.message).toMatch(/mistake \(c\)/);
    expect(w[0]!.message).toMatch(/ca\.crt/);
    expect(w[0]!.message).toMatch(/external-api-mtls-cert-cacert/);
  });

  it('no other warnings than the documented ones (and the EnvoyFilter apiVersion note)', () => {
    const warnings = docs.flatMap((d) => d.diagnostics.filter((x) => x.level === 'warning').map((x) => `${d.name} ${x.code}`));
    expect(warnings.sort()).toEqual(['egress-rate-limit SLU0011', 'gateway-performance SLU0011', 'istio SLU0012', 'istio-egress-gateway-mtls SLU0111', 'rate-limit SLU0011'].sort());
  });

  it('mistake (f): h2UpgradePolicy outside connectionPool.http is refused with the fix to move it', () => {
    const text = `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata:
  name: egress-gateway-destination
spec:
  host: istio-egressgateway.istio-system.svc.cluster.local
  trafficPolicy:
    connectionPool:
      tcp:
        maxConnections: 100
        h2UpgradePolicy: UPGRADE
      http:
        http1MaxPendingRequests: 100
`;
    const [d] = runText('f.yaml', text);
    expect(d!.accepted).toBe(false);
    const e = d!.diagnostics.find((x) => x.level === 'error');
    expect(e?.path).toBe('spec.trafficPolicy.connectionPool.tcp.h2UpgradePolicy');
    expect(e?.line).toBe(11);
    expect(e?.fix).toMatch(/move it under connectionPool\.http/);
  });
});
