// Trace through TLS: SNI chain selection, termination with client certificates (real
// certificates made by openssl, checked by the listener's own peer-certificate code),
// passthrough and TCP routes.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTestCa, issueCert, serverCert, writeCredential, type IssuedCert, type TestCa } from '../support/certs.js';
import { docs, serviceEntryYaml } from '../support/yaml.js';
import { configFile, tracer } from './helpers.js';

const CONFIG = docs(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https-mtls, protocol: HTTPS}
    hosts: [secure.example.com]
    tls: {mode: MUTUAL, credentialName: secure-cert, subjectAltNames: [spiffe://example.com/partner]}
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["*.example.com"]
    tls: {mode: SIMPLE, credentialName: wildcard-cert}
  - port: {number: 8443, name: tls-pass, protocol: TLS}
    hosts: ["*.partner.com"]
    tls: {mode: PASSTHROUGH}
  - port: {number: 5432, name: tcp-db, protocol: TCP}
    hosts: ["*"]`, `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: ["secure.example.com", "www.example.com"]
  gateways: [istio-system/edge]
  http: [{route: [{destination: {host: web}}]}]`, `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: partner, namespace: default}
spec:
  hosts: ["*.partner.com"]
  gateways: [istio-system/edge]
  tls:
  - match: [{sniHosts: [api.partner.com]}]
    route: [{destination: {host: api.partner.com, port: {number: 443}}}]`, `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db, namespace: default}
spec:
  hosts: ["*"]
  gateways: [istio-system/edge]
  tcp: [{route: [{destination: {host: db, port: {number: 5432}}}]}]`, serviceEntryYaml('web', 9000), `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: partner, namespace: default}
spec:
  hosts: [api.partner.com]
  resolution: DNS
  ports: [{number: 443, name: tls, protocol: TLS}]`, `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: db, namespace: default}
spec:
  hosts: [db.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 5432, name: tcp, protocol: TCP}]
  endpoints: [{address: 10.1.0.5}]`);

describe('trace: TLS and L4', () => {
  let ca: TestCa;
  let partner: IssuedCert;
  let stranger: IssuedCert;
  let other: IssuedCert;
  let trace: ReturnType<typeof tracer>;

  beforeAll(() => {
    ca = createTestCa();
    const creds = mkdtempSync(join(tmpdir(), 'sluice-trace-creds-'));
    const server = serverCert(ca, 'secure.example.com');
    writeCredential(creds, 'secure-cert', { cert: server.cert, key: server.key, ca: ca.certPem });
    const wild = issueCert(ca, 'wildcard.example.com', ['*.example.com']);
    writeCredential(creds, 'wildcard-cert', { cert: wild.cert, key: wild.key });
    partner = issueCert(ca, 'partner', ['spiffe://example.com/partner'], { client: true });
    stranger = issueCert(ca, 'stranger', ['spiffe://example.com/stranger'], { client: true });
    other = issueCert(createTestCa('Other CA'), 'partner', ['spiffe://example.com/partner'], { client: true });
    trace = tracer([configFile(CONFIG)], { credentials: creds });
  });

  it('SNI picks the exact server name before the wildcard', () => {
    expect(trace('GET', 'https://secure.example.com/', { clientCertPem: partner.cert }).filterChain).toBe('https.443.https-mtls.edge.istio-system');
    const w = trace('GET', 'https://www.example.com/');
    expect(w.filterChain).toBe('https.443.https.edge.istio-system');
    expect(w.steps.find((s) => s.stage === 'filter_chain')?.text).toContain('wildcard server name *.example.com');
    expect(w.outcome.kind).toBe('upstream');
  });

  it('MUTUAL without a client certificate: the handshake is refused, and the fix says so', () => {
    const t = trace('GET', 'https://secure.example.com/');
    expect(t.outcome.kind).toBe('closed');
    expect(t.outcome.details).toContain('client certificate required');
    expect(t.outcome.fix).toContain('--client-cert');
  });

  it('MUTUAL with a certificate of the right CA and SAN goes through, with its identity', () => {
    const t = trace('GET', 'https://secure.example.com/', { clientCertPem: partner.cert });
    expect(t.outcome.kind).toBe('upstream');
    expect(t.steps.find((s) => s.stage === 'tls')?.text).toContain('spiffe://example.com/partner');
  });

  it('MUTUAL refuses a certificate with the wrong SAN, or from another CA', () => {
    expect(trace('GET', 'https://secure.example.com/', { clientCertPem: stranger.cert }).outcome.details).toContain('match none of subjectAltNames');
    expect(trace('GET', 'https://secure.example.com/', { clientCertPem: other.cert }).outcome.details).toContain('client certificate rejected: UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('no chain for an SNI outside every server: NR, and the fix lists the server hosts', () => {
    const t = trace('GET', 'https://example.org/');
    expect(t.outcome).toMatchObject({ kind: 'closed', responseFlags: 'NR' });
    expect(t.outcome.fix).toContain('secure.example.com');
  });

  it('TLS passthrough routes by SNI with the tls rule that matched', () => {
    const t = trace('GET', 'tls://api.partner.com:8443');
    expect(t.filterChain).toMatch(/^passthrough\.8443\.tls-pass\.edge\.istio-system/);
    expect(t.l4Route?.source.path).toBe('spec.tls[0].match[0]');
    expect(t.upstream?.cluster).toBe('outbound|443||api.partner.com');
    const miss = trace('GET', 'tls://www.partner.com:8443');
    expect(miss.outcome).toMatchObject({ kind: 'closed', responseFlags: 'NR' });
    expect(miss.outcome.fix).toContain('add a `tls:` rule with sniHosts [www.partner.com] and gateways [istio-system/edge]');
  });

  it('a TCP server proxies bytes to its tcp route', () => {
    const t = trace('GET', 'tcp://db.example.com:5432');
    expect(t.upstream).toMatchObject({ cluster: 'outbound|5432||db.default.svc.cluster.local', endpoint: '10.1.0.5:5432' });
  });
});
