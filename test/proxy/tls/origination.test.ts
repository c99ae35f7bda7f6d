import { connect as h2connect } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestCa, issueCert, serverCert, tlsSecretYaml } from '../../support/certs.js';
import type { SluiceProcess } from '../../support/sluice-process.js';
import { sendRequest } from '../../conformance/runner.js';
import { startEchoBackend, type EchoBackend } from '../../support/echo-backend.js';
import { startGateway, startH2Echo, startHttpsEcho, type H2Echo } from './helpers.js';

// DestinationRule TLS origination and upstream HTTP/2 against real local servers: SIMPLE with
// a CA file, auto-SNI and the auto SAN check, explicit sni/subjectAltNames, insecureSkipVerify,
// system roots, MUTUAL with credentialName and with files; h2 upstreams over TLS (protocol
// HTTP2), h2UpgradePolicy UPGRADE, useClientProtocol, maxConcurrentStreams, http2MaxRequests.

const ca = createTestCa('Upstream CA');
const ext = serverCert(ca, 'ext.example.com');
const h2cert = serverCert(ca, 'h2.example.com');
const client = issueCert(ca, 'gateway-client', ['spiffe://cluster.local/ns/istio-system/sa/egress'], { client: true });

let gw: SluiceProcess;
let httpsEcho: Awaited<ReturnType<typeof startHttpsEcho>>;
let mtlsEcho: Awaited<ReturnType<typeof startHttpsEcho>>;
let h2tls: H2Echo;
let h2c: H2Echo;
let h2cLimited: H2Echo;
let h2cOverflow: H2Echo;
let h1only: EchoBackend;

interface Upstream { host: string; port: number; protocol: string; tls?: string; pool?: string }

function upstreamDocs(u: Upstream): string {
  const name = u.host.split('.')[0];
  return `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: default}
spec:
  hosts: [${u.host}]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{number: 443, name: p, protocol: ${u.protocol}}]
  endpoints: [{address: 127.0.0.1, ports: {p: ${u.port}}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: default}
spec:
  host: ${u.host}
  trafficPolicy:
${u.tls !== undefined ? `    tls: ${u.tls}\n` : ''}${u.pool !== undefined ? `    connectionPool: ${u.pool}\n` : ''}`;
}

beforeAll(async () => {
  httpsEcho = await startHttpsEcho('https-echo', ext.cert, ext.key);
  mtlsEcho = await startHttpsEcho('mtls-echo', ext.cert, ext.key, { ca: ca.certPem, requestCert: true });
  h2tls = await startH2Echo('h2-tls', h2cert);
  h2c = await startH2Echo('h2c');
  h2cLimited = await startH2Echo('h2c-limited');
  h2cOverflow = await startH2Echo('h2c-overflow');
  h1only = await startEchoBackend('h1only');
  const caFile = ca.certFile;
  const upstreams: Upstream[] = [
    { host: 'ext.example.com', port: httpsEcho.port, protocol: 'HTTPS', tls: `{mode: SIMPLE, caCertificates: ${caFile}}` },
    { host: 'mismatch.example.com', port: httpsEcho.port, protocol: 'HTTPS', tls: `{mode: SIMPLE, caCertificates: ${caFile}}` },
    { host: 'pinned.example.com', port: httpsEcho.port, protocol: 'HTTPS', tls: `{mode: SIMPLE, caCertificates: ${caFile}, sni: ext.example.com, subjectAltNames: [ext.example.com]}` },
    { host: 'wrongsan.example.com', port: httpsEcho.port, protocol: 'HTTPS', tls: `{mode: SIMPLE, caCertificates: ${caFile}, sni: ext.example.com, subjectAltNames: [other.example.com]}` },
    { host: 'insecure.example.com', port: httpsEcho.port, protocol: 'HTTPS', tls: '{mode: SIMPLE, insecureSkipVerify: true}' },
    { host: 'sysroots.example.com', port: httpsEcho.port, protocol: 'HTTPS', tls: '{mode: SIMPLE, sni: ext.example.com}' },
    { host: 'mtls.example.com', port: mtlsEcho.port, protocol: 'HTTPS', tls: '{mode: MUTUAL, credentialName: egress-client, sni: ext.example.com}' },
    { host: 'mtls-files.example.com', port: mtlsEcho.port, protocol: 'HTTPS', tls: `{mode: MUTUAL, clientCertificate: ${client.certFile}, privateKey: ${client.keyFile}, caCertificates: ${caFile}, sni: ext.example.com}` },
    { host: 'h2.example.com', port: h2tls.port, protocol: 'HTTP2', tls: `{mode: SIMPLE, caCertificates: ${caFile}}` },
    { host: 'upgrade.example.com', port: h2c.port, protocol: 'HTTP', pool: '{http: {h2UpgradePolicy: UPGRADE}}' },
    { host: 'plain.example.com', port: h2c.port, protocol: 'HTTP', pool: '{http: {useClientProtocol: true}}' },
    { host: 'limited.example.com', port: h2cLimited.port, protocol: 'GRPC', pool: '{tcp: {maxConnections: 1}, http: {maxConcurrentStreams: 1}}' },
    { host: 'overflow.example.com', port: h2cOverflow.port, protocol: 'GRPC', pool: '{http: {http2MaxRequests: 1}}' },
    { host: 'h1only.example.com', port: h1only.port, protocol: 'HTTP2', pool: '{tcp: {connectTimeout: 5s}}' },
  ];
  gw = await startGateway(`
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: egress, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: egress, namespace: default}
spec:
  hosts: [${upstreams.map((u) => u.host).join(', ')}]
  gateways: [istio-system/egress]
  http:
${upstreams.map((u) => `  - match: [{authority: {exact: ${u.host}}}]\n    route: [{destination: {host: ${u.host}, port: {number: 443}}}]\n    retries: {attempts: 0}`).join('\n')}
${upstreams.map(upstreamDocs).join('')}
---
${tlsSecretYaml('egress-client', 'istio-system', { cert: client.cert, key: client.key, ca: ca.certPem })}
`, [80], ['--concurrency', '1']); // one worker: the pool assertions below are per worker, as Envoy's pools are per worker thread
});

afterAll(async () => {
  await gw?.stop();
  for (const s of [httpsEcho, mtlsEcho, h2tls, h2c, h2cLimited, h2cOverflow, h1only]) await s?.close();
});

const get = (host: string, path = '/'): ReturnType<typeof sendRequest> => sendRequest(gw.port(80), { host, path });

describe('DestinationRule TLS origination', () => {
  it('SIMPLE with caCertificates: auto-SNI from the Host, verified against the CA', async () => {
    const r = await get('ext.example.com', '/a');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ backend: 'https-echo', sni: 'ext.example.com', path: '/a' });
  });

  it('auto SAN check: a certificate that does not name the Host gives 503 UF and a log line that says why', async () => {
    const r = await get('mismatch.example.com', '/m');
    expect(r.status).toBe(503);
    expect(r.body).toContain("reset reason: remote connection failure, transport failure reason: TLS_error: Hostname/IP does not match certificate's altnames");
    const line = await gw.waitFor(/"GET \/m HTTP\/1\.1" 503 UF /, 'stdout');
    // %UPSTREAM_TRANSPORT_FAILURE_REASON%, spaces as underscores as Envoy prints it.
    expect(line).toMatch(/"TLS_error:_Hostname\/IP_does_not_match_certificate's_altnames:_Host:_mismatch\.example\.com\._is_not_in_the_cert's_altnames:_DNS:ext\.example\.com"/);
  });

  it('explicit sni and subjectAltNames', async () => {
    const ok = await get('pinned.example.com');
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).sni).toBe('ext.example.com');
    const bad = await get('wrongsan.example.com', '/w');
    expect(bad.status).toBe(503);
    await gw.waitFor(/"GET \/w HTTP\/1\.1" 503 UF .*"TLS_error:_upstream_certificate_SANs_\[ext\.example\.com\]_match_none_of_subjectAltNames_\[other\.example\.com\]"/, 'stdout');
  });

  it('insecureSkipVerify skips CA and SAN checks', async () => {
    const r = await get('insecure.example.com');
    expect(r.status).toBe(200);
  });

  it('without caCertificates the system roots verify (a private CA fails)', async () => {
    const r = await get('sysroots.example.com', '/s');
    expect(r.status).toBe(503);
    await gw.waitFor(/"GET \/s HTTP\/1\.1" 503 UF .*"TLS_error:_UNABLE_TO_VERIFY_LEAF_SIGNATURE/, 'stdout');
  });

  it('MUTUAL with credentialName: the upstream sees the gateway client certificate', async () => {
    const r = await get('mtls.example.com');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ backend: 'mtls-echo', clientCn: 'gateway-client' });
  });

  it('MUTUAL with clientCertificate/privateKey/caCertificates files', async () => {
    const r = await get('mtls-files.example.com');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).clientCn).toBe('gateway-client');
  });
});

describe('HTTP/2 upstreams', () => {
  it('protocol HTTP2 over TLS: ALPN h2, :scheme https, the HTTP/1.1 client is served', async () => {
    const r = await get('h2.example.com', '/x?y=1');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ backend: 'h2-tls', protocol: 'HTTP/2', path: '/x?y=1', scheme: 'https', authority: 'h2.example.com' });
  });

  it('h2UpgradePolicy UPGRADE sends HTTP/1.1 requests upstream as h2c, keeping one connection', async () => {
    const before = h2c.sessions;
    for (let i = 0; i < 3; i++) {
      const r = await get('upgrade.example.com', `/u${i}`);
      expect(JSON.parse(r.body)).toMatchObject({ backend: 'h2c', protocol: 'HTTP/2', path: `/u${i}`, scheme: 'http' });
    }
    expect(h2c.sessions - before).toBe(1);
  });

  it('useClientProtocol: HTTP/1.1 clients go upstream as HTTP/1.1, h2 clients as h2', async () => {
    // The h2c echo does not speak HTTP/1.1: an HTTP/1.1 client's request fails upstream.
    const h1 = await get('plain.example.com', '/h1');
    expect(h1.status).toBe(503);
    const session = h2connect(`http://127.0.0.1:${gw.port(80)}`);
    const body = await new Promise<string>((resolve, reject) => {
      const req = session.request({ ':path': '/h2', ':authority': 'plain.example.com' });
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks).toString()));
      req.on('error', reject);
      req.end();
    });
    session.close();
    expect(JSON.parse(body)).toMatchObject({ backend: 'h2c', protocol: 'HTTP/2', path: '/h2' });
  });

  it('maxConcurrentStreams 1 with maxConnections 1: requests queue, never two streams at once', async () => {
    const rs = await Promise.all([...Array(6).keys()].map((i) => get('limited.example.com', `/delay/${10 + i}`)));
    expect(rs.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(h2cLimited.peakStreams).toBe(1);
    expect(h2cLimited.sessions).toBe(1);
  });

  it('an upstream declared HTTP2 that only speaks HTTP/1.1: 503 with the reason, no hang', async () => {
    const r = await get('h1only.example.com', '/h1only');
    expect(r.status).toBe(503);
    await gw.waitFor(/"GET \/h1only HTTP\/1\.1" 503 (UC|UF|UR) /, 'stdout');
  });

  it('http2MaxRequests 1: a second concurrent request overflows (503 UO)', async () => {
    const first = get('overflow.example.com', '/hold');
    for (let i = 0; i < 200 && h2cOverflow.active === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(h2cOverflow.active).toBe(1);
    const second = await get('overflow.example.com', '/second');
    expect(second.status).toBe(503);
    expect(second.body).toContain('overflow');
    h2cOverflow.release();
    expect((await first).status).toBe(200);
    await gw.waitFor(/"GET \/second HTTP\/1\.1" 503 UO /, 'stdout');
  });
});
