import { createHash, X509Certificate } from 'node:crypto';
import { connect as h2connect } from 'node:http2';
import { connect as netConnect, createServer as createNetServer, type AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestCa, issueCert, serverCert, tlsSecretYaml } from '../../support/certs.js';
import { startEchoBackend, type EchoBackend, type EchoReply } from '../../support/echo-backend.js';
import type { SluiceProcess } from '../../support/sluice-process.js';
import { exchange, httpsGet, serviceEntry, startGateway, startTcpEcho, startTlsEcho, tlsHandshake } from './helpers.js';

// Server-side TLS at the gateway with real handshakes: several servers on one port chosen by
// SNI, mixed termination and passthrough on one port, SIMPLE / MUTUAL / OPTIONAL_MUTUAL,
// client-certificate checks, protocol versions and ciphers, x-forwarded-client-cert, ALPN h2,
// TCP and TLS-terminated TCP servers, and the bad inputs that must close a connection cleanly.

const ca = createTestCa('Sluice Listener CA');
const rogueCa = createTestCa('Rogue CA');
const certA = serverCert(ca, 'a.example.com');
const certB = serverCert(ca, 'b.example.com');
const certM = serverCert(ca, 'mtls.example.com');
const certO = serverCert(ca, 'opt.example.com');
const certV13 = serverCert(ca, 'v13.example.com');
const certV12 = serverCert(ca, 'v12.example.com');
const certFiles = serverCert(ca, 'files.example.com');
const certTcp = serverCert(ca, 'tcp.example.com');
const dualRsa = serverCert(ca, 'dual.example.com', { rsa: true });
const dualEc = serverCert(ca, 'dual.example.com');
const passWild = issueCert(ca, 'wild.pass.example.com', ['*.pass.example.com']);
const passSpecial = serverCert(ca, 'special.pass.example.com');
const clientOk = issueCert(ca, 'client', ['spiffe://cluster.local/ns/default/sa/client', 'client.example.com'], { client: true });
const clientOtherSan = issueCert(ca, 'other', ['spiffe://cluster.local/ns/default/sa/other'], { client: true });
const clientRogue = issueCert(rogueCa, 'client', ['spiffe://cluster.local/ns/default/sa/client'], { client: true });
const clientOkHash = createHash('sha256').update(new X509Certificate(clientOk.cert).raw).digest('hex');
const clientOkSpki = createHash('sha256').update(new X509Certificate(clientOk.cert).publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
const b64 = (s: string): string => Buffer.from(s).toString('base64');

let echo: EchoBackend;
let gw: SluiceProcess;
const closers: (() => Promise<void>)[] = [];

function https(port: number, host: string, vs: string): string {
  return `  - port: {number: ${port}, name: ${vs}, protocol: HTTPS}\n    hosts: [${host}]\n`;
}

beforeAll(async () => {
  echo = await startEchoBackend('echo');
  const wild = await startTlsEcho('wild', passWild.cert, passWild.key);
  const special = await startTlsEcho('special', passSpecial.cert, passSpecial.key);
  const tcp1 = await startTcpEcho('tcp1');
  const tcp2 = await startTcpEcho('tcp2');
  closers.push(wild.close, special.close, tcp1.close, tcp2.close, echo.close);
  gw = await startGateway(`
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
${https(443, 'a.example.com', 'https-a')}    tls: {mode: SIMPLE, credentialName: cert-a}
${https(443, 'b.example.com', 'https-b')}    tls: {mode: SIMPLE, credentialName: cert-b}
  - port: {number: 443, name: tls-pass, protocol: TLS}
    hosts: ["*.pass.example.com"]
    tls: {mode: PASSTHROUGH}
${https(8443, 'mtls.example.com', 'https-m')}    tls: {mode: MUTUAL, credentialName: cert-m, subjectAltNames: [spiffe://cluster.local/ns/default/sa/client]}
${https(8444, 'opt.example.com', 'https-o')}    tls: {mode: OPTIONAL_MUTUAL, credentialName: cert-o}
${https(8445, 'v13.example.com', 'https-v13')}    tls: {mode: SIMPLE, credentialName: cert-v13, minProtocolVersion: TLSV1_3}
${https(8446, 'v12.example.com', 'https-v12')}    tls: {mode: SIMPLE, credentialName: cert-v12, maxProtocolVersion: TLSV1_2, cipherSuites: [ECDHE-ECDSA-AES256-GCM-SHA384, NOT-A-CIPHER]}
${https(8447, 'files.example.com', 'https-f')}    tls: {mode: MUTUAL, serverCertificate: ${certFiles.certFile}, privateKey: ${certFiles.keyFile}, caCertificates: ${ca.certFile}, verifyCertificateHash: ["${clientOkHash.toUpperCase().match(/../g)!.join(':')}"]}
${https(8448, 'opt.example.com', 'https-spki')}    tls: {mode: MUTUAL, credentialName: cert-o, verifyCertificateSpki: ["${clientOkSpki}"]}
${https(443, 'dual.example.com', 'https-dual')}    tls: {mode: SIMPLE, credentialNames: [dual-rsa, dual-ec]}
  - port: {number: 9000, name: tcp, protocol: TCP}
    hosts: ["*"]
  - port: {number: 9443, name: tls-term, protocol: TLS}
    hosts: [tcp.example.com]
    tls: {mode: SIMPLE, credentialName: cert-tcp}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [a.example.com, b.example.com, mtls.example.com, opt.example.com, v13.example.com, v12.example.com, files.example.com]
  gateways: [istio-system/gw]
  http:
  - route: [{destination: {host: echo.default.svc.cluster.local, port: {number: 80}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: pass, namespace: default}
spec:
  hosts: ["*.pass.example.com"]
  gateways: [istio-system/gw]
  tls:
  - match: [{sniHosts: ["*.pass.example.com"], port: 443}]
    route: [{destination: {host: wild.default.svc.cluster.local, port: {number: 443}}}]
  - match: [{sniHosts: [special.pass.example.com]}]
    route: [{destination: {host: special.default.svc.cluster.local, port: {number: 443}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: tcp, namespace: default}
spec:
  hosts: ["*"]
  gateways: [istio-system/gw]
  tcp:
  - match: [{port: 9000}]
    route:
    - {destination: {host: tcp1.default.svc.cluster.local, port: {number: 7000}}, weight: 50}
    - {destination: {host: tcp2.default.svc.cluster.local, port: {number: 7000}}, weight: 50}
  - match: [{port: 9443}]
    route: [{destination: {host: tcp1.default.svc.cluster.local, port: {number: 7000}}}]
${serviceEntry('echo', 'echo.default.svc.cluster.local', 80, 'HTTP', echo.port)}
${serviceEntry('wild', 'wild.default.svc.cluster.local', 443, 'TLS', wild.port)}
${serviceEntry('special', 'special.default.svc.cluster.local', 443, 'TLS', special.port)}
${serviceEntry('tcp1', 'tcp1.default.svc.cluster.local', 7000, 'TCP', tcp1.port)}
${serviceEntry('tcp2', 'tcp2.default.svc.cluster.local', 7000, 'TCP', tcp2.port)}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: tcp1, namespace: default}
spec:
  host: tcp1.default.svc.cluster.local
  trafficPolicy: {connectionPool: {tcp: {idleTimeout: 400ms}}}
---
${tlsSecretYaml('cert-a', 'istio-system', certA)}
---
apiVersion: v1
kind: Secret
metadata: {name: cert-b, namespace: istio-system}
type: Opaque
data: {cert: ${b64(certB.cert)}, key: ${b64(certB.key)}}
---
${tlsSecretYaml('cert-m', 'istio-system', certM)}
---
apiVersion: v1
kind: Secret
metadata: {name: cert-m-cacert, namespace: istio-system}
data: {cacert: ${b64(ca.certPem)}}
---
${tlsSecretYaml('cert-o', 'istio-system', { ...certO, ca: ca.certPem })}
---
${tlsSecretYaml('cert-v13', 'istio-system', certV13)}
---
${tlsSecretYaml('cert-v12', 'istio-system', certV12)}
---
${tlsSecretYaml('cert-tcp', 'istio-system', certTcp)}
---
${tlsSecretYaml('dual-rsa', 'istio-system', dualRsa)}
---
${tlsSecretYaml('dual-ec', 'istio-system', dualEc)}
`, [443, 8443, 8444, 8445, 8446, 8447, 8448, 9000, 9443], ['--listener-filters-timeout', '300ms']);
});

afterAll(async () => {
  await gw?.stop();
  for (const c of closers) await c();
});

const trust = { ca: ca.certPem };
const echoOf = (body: string): EchoReply => JSON.parse(body) as EchoReply;

describe('several servers on one port, chosen by SNI', () => {
  it('each HTTPS server presents its own certificate and routes by Host', async () => {
    for (const host of ['a.example.com', 'b.example.com']) {
      const h = await tlsHandshake(gw.port(443), { servername: host, ...trust });
      expect(h.ok, h.error).toBe(true);
      expect(h.serverCn).toBe(host);
      h.socket!.destroy();
      const r = await httpsGet(gw.port(443), host, '/x', trust);
      expect(r.status).toBe(200);
      expect(echoOf(r.body)).toMatchObject({ backend: 'echo', path: '/x', host });
    }
  });

  it('a generic Secret (cert/key) serves like a kubernetes.io/tls one', async () => {
    const h = await tlsHandshake(gw.port(443), { servername: 'b.example.com', ...trust });
    expect(h.serverCn).toBe('b.example.com');
    h.socket!.destroy();
  });

  it('credentialNames: an RSA and an ECDSA certificate on one server, chosen by what the client supports', async () => {
    const rsa = await tlsHandshake(gw.port(443), { servername: 'dual.example.com', ...trust, sigalgs: 'rsa_pss_rsae_sha256:rsa_pkcs1_sha256' });
    expect(rsa.ok, rsa.error).toBe(true);
    expect(rsa.socket!.getPeerX509Certificate()!.publicKey.asymmetricKeyType).toBe('rsa');
    rsa.socket!.destroy();
    const ec = await tlsHandshake(gw.port(443), { servername: 'dual.example.com', ...trust, sigalgs: 'ecdsa_secp256r1_sha256' });
    expect(ec.ok, ec.error).toBe(true);
    expect(ec.socket!.getPeerX509Certificate()!.publicKey.asymmetricKeyType).toBe('ec');
    ec.socket!.destroy();
  });

  it('passthrough on the same port: the most specific sniHosts wins, the backend terminates TLS', async () => {
    for (const [sni, who] of [['x.pass.example.com', 'wild'], ['deep.x.pass.example.com', 'wild'], ['special.pass.example.com', 'special']] as const) {
      // (node's hostname check allows one label under `*.`; the route covers any depth)
      const h = await tlsHandshake(gw.port(443), { servername: sni, ...trust, checkServerIdentity: () => undefined });
      expect(h.ok, h.error).toBe(true);
      expect(h.serverCn).toBe(who === 'wild' ? 'wild.pass.example.com' : 'special.pass.example.com');
      expect(await exchange(h.socket!, 'ping', `${who}:${sni}:ping`.length)).toBe(`${who}:${sni}:ping`);
    }
    await gw.waitFor(/"- - -" 0 - - - "-" 4\d\d? \d+ \d+ - "-" "-" "-" "-" "127\.0\.0\.1:\d+" outbound\|443\|\|special\.default\.svc\.cluster\.local .* special\.pass\.example\.com -$/, 'stdout');
  });

  it('an unknown SNI with no fallback server is closed and logged (NR)', async () => {
    const h = await tlsHandshake(gw.port(443), { servername: 'c.example.com', ...trust });
    expect(h.ok).toBe(false);
    await gw.waitFor(/closed: no filter chain for SNI "c\.example\.com"/);
    await gw.waitFor(/"- - -" 0 NR filter_chain_not_found .* c\.example\.com -$/, 'stdout');
  });

  it('a ClientHello without SNI matches no server here and is closed', async () => {
    const h = await tlsHandshake(gw.port(443), { ...trust, servername: '' });
    expect(h.ok).toBe(false);
    await gw.waitFor(/closed: no filter chain for the client sent no SNI/);
  });

  it('ALPN h2: HTTP/2 requests are routed by the same rules (HTTP/1.1 upstream)', async () => {
    const session = h2connect(`https://127.0.0.1:${gw.port(443)}`, { servername: 'a.example.com', ca: ca.certPem });
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = session.request({ ':path': '/h2/path', ':authority': 'a.example.com' });
      let status = 0;
      const chunks: Buffer[] = [];
      req.on('response', (h) => { status = Number(h[':status']); });
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve({ status, body: Buffer.concat(chunks).toString() }));
      req.on('error', reject);
      req.end();
    });
    session.close();
    expect(res.status).toBe(200);
    expect(echoOf(res.body)).toMatchObject({ backend: 'echo', path: '/h2/path', host: 'a.example.com' });
    await gw.waitFor(/"GET \/h2\/path HTTP\/2" 200 - via_upstream/, 'stdout');
  });
});

describe('MUTUAL, OPTIONAL_MUTUAL and client certificate checks', () => {
  it('MUTUAL without a client certificate fails the handshake and says why', async () => {
    const r = await httpsGet(gw.port(8443), 'mtls.example.com', '/', trust).catch((e: Error) => e);
    expect(r).toBeInstanceOf(Error);
    await gw.waitFor(/mtls\.example\.com\) closed: .*(peer did not return a certificate|certificate required)/);
  });

  it('MUTUAL with a certificate from another CA is refused', async () => {
    const r = await httpsGet(gw.port(8443), 'mtls.example.com', '/', { ...trust, cert: clientRogue.cert, key: clientRogue.key }).catch((e: Error) => e);
    expect(r).toBeInstanceOf(Error);
    await gw.waitFor(/mtls\.example\.com\) closed: client certificate rejected: UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
  });

  it('MUTUAL with a valid certificate whose SAN is not in subjectAltNames is refused', async () => {
    const r = await httpsGet(gw.port(8443), 'mtls.example.com', '/', { ...trust, cert: clientOtherSan.cert, key: clientOtherSan.key }).catch((e: Error) => e);
    expect(r).toBeInstanceOf(Error);
    await gw.waitFor(/closed: client certificate SANs \[spiffe:\/\/cluster\.local\/ns\/default\/sa\/other\] match none of subjectAltNames/);
  });

  it('MUTUAL with the right certificate: the backend sees x-forwarded-client-cert as Envoy sets it (SANITIZE_SET)', async () => {
    const r = await httpsGet(gw.port(8443), 'mtls.example.com', '/who', { ...trust, cert: clientOk.cert, key: clientOk.key, headers: { 'x-forwarded-client-cert': 'By=spoofed;Hash=0' } });
    expect(r.status).toBe(200);
    const xfcc = echoOf(r.body).headers['x-forwarded-client-cert']!;
    expect(xfcc).toBe(`Hash=${clientOkHash};Cert="${encodeURIComponent(new X509Certificate(clientOk.cert).toString())}";Subject="CN=client";URI=spiffe://cluster.local/ns/default/sa/client;DNS=client.example.com`);
  });

  it('SIMPLE: a client-supplied x-forwarded-client-cert is removed', async () => {
    const r = await httpsGet(gw.port(443), 'a.example.com', '/', { ...trust, headers: { 'x-forwarded-client-cert': 'Hash=forged' } });
    expect(echoOf(r.body).headers['x-forwarded-client-cert']).toBeUndefined();
  });

  it('OPTIONAL_MUTUAL accepts clients with and without a certificate (CA from ca.crt in the Secret)', async () => {
    const without = await httpsGet(gw.port(8444), 'opt.example.com', '/', trust);
    expect(without.status).toBe(200);
    expect(echoOf(without.body).headers['x-forwarded-client-cert']).toBeUndefined();
    const withCert = await httpsGet(gw.port(8444), 'opt.example.com', '/', { ...trust, cert: clientOk.cert, key: clientOk.key });
    expect(echoOf(withCert.body).headers['x-forwarded-client-cert']).toContain(`Hash=${clientOkHash}`);
    const rogue = await httpsGet(gw.port(8444), 'opt.example.com', '/', { ...trust, cert: clientRogue.cert, key: clientRogue.key }).catch((e: Error) => e);
    expect(rogue).toBeInstanceOf(Error);
  });

  it('file paths: serverCertificate/privateKey/caCertificates, and verifyCertificateHash pins one client certificate', async () => {
    const ok = await httpsGet(gw.port(8447), 'files.example.com', '/', { ...trust, cert: clientOk.cert, key: clientOk.key });
    expect(ok.status).toBe(200);
    const other = await httpsGet(gw.port(8447), 'files.example.com', '/', { ...trust, cert: clientOtherSan.cert, key: clientOtherSan.key }).catch((e: Error) => e);
    expect(other).toBeInstanceOf(Error);
    await gw.waitFor(/closed: client certificate \(sha256 [0-9a-f]+, spki \S+\) matches neither verifyCertificateSpki nor verifyCertificateHash/);
  });
});

describe('verifyCertificateSpki', () => {
  it('pins the client public key: the pinned certificate passes, another one from the same CA does not', async () => {
    const ok = await httpsGet(gw.port(8448), 'opt.example.com', '/', { ...trust, cert: clientOk.cert, key: clientOk.key });
    expect(ok.status).toBe(200);
    const other = await httpsGet(gw.port(8448), 'opt.example.com', '/', { ...trust, cert: clientOtherSan.cert, key: clientOtherSan.key }).catch((e: Error) => e);
    expect(other).toBeInstanceOf(Error);
    await gw.waitFor(/opt\.example\.com\) closed: client certificate \(sha256 [0-9a-f]+, spki \S+\) matches neither verifyCertificateSpki nor verifyCertificateHash/);
  });
});

describe('protocol versions and cipher suites', () => {
  it('minProtocolVersion TLSV1_3 refuses a TLS 1.2 client', async () => {
    const ok = await tlsHandshake(gw.port(8445), { servername: 'v13.example.com', ...trust });
    expect(ok.protocol, ok.error).toBe('TLSv1.3');
    ok.socket!.destroy();
    const old = await tlsHandshake(gw.port(8445), { servername: 'v13.example.com', ...trust, maxVersion: 'TLSv1.2' });
    expect(old.ok, old.protocol).toBe(false);
    await gw.waitFor(/v13\.example\.com\) closed: TLS handshake failed: .*(unsupported protocol|version)/i);
  });

  it('maxProtocolVersion TLSV1_2 with cipherSuites: TLS 1.2 with the configured cipher; unknown cipher names are dropped', async () => {
    const h = await tlsHandshake(gw.port(8446), { servername: 'v12.example.com', ...trust });
    expect(h.ok, h.error).toBe(true);
    expect(h.protocol).toBe('TLSv1.2');
    expect(h.socket!.getCipher().name).toBe('ECDHE-ECDSA-AES256-GCM-SHA384');
    h.socket!.destroy();
    const other = await tlsHandshake(gw.port(8446), { servername: 'v12.example.com', ...trust, ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256', maxVersion: 'TLSv1.2' });
    expect(other.ok).toBe(false);
    const dump = await (await gw.admin('/config_status')).text();
    expect(dump).toContain('ignoring invalid cipher suite \\"NOT-A-CIPHER\\"');
  });
});

describe('TCP servers', () => {
  it('TCP routes split connections by weight between destinations', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 40 && seen.size < 2; i++) {
      const reply = await exchange(netConnect(gw.port(9000), '127.0.0.1'), 'hi', 'tcpX:hi'.length);
      seen.add(reply.split(':')[0]!);
    }
    expect([...seen].sort()).toEqual(['tcp1', 'tcp2']);
  });

  it('a TCP connection idle for the DestinationRule idleTimeout is closed', async () => {
    const h = await tlsHandshake(gw.port(9443), { servername: 'tcp.example.com', ...trust });
    const sock = h.socket!;
    let got = '';
    sock.on('data', (d: Buffer) => { got += d.toString(); });
    const closed = new Promise<void>((r) => sock.on('close', () => r()));
    sock.write('once');
    await closed;
    expect(got).toBe('tcp1:once');
  });

  it('TLS terminated at the gateway, then opaque TCP upstream', async () => {
    const h = await tlsHandshake(gw.port(9443), { servername: 'tcp.example.com', ...trust });
    expect(h.ok, h.error).toBe(true);
    expect(h.alpn).toBe('');
    expect(await exchange(h.socket!, 'db-query', 'tcp1:db-query'.length)).toBe('tcp1:db-query');
  });
});

describe('bad input closes the connection, logs why, and the gateway lives on', () => {
  it('plaintext HTTP on a TLS port', async () => {
    const reply = await exchange(netConnect(gw.port(443), '127.0.0.1'), 'GET / HTTP/1.1\r\nhost: a.example.com\r\n\r\n', 1);
    expect(reply).toBe('');
    await gw.waitFor(/closed: not a TLS ClientHello \(plaintext on a TLS port\?\)/);
  });

  it('a half-sent ClientHello is closed after the listener filters timeout', async () => {
    const sock = netConnect(gw.port(443), '127.0.0.1');
    // A TLS handshake record header announcing 512 bytes, and only 10 of them.
    const closed = new Promise<void>((r) => sock.on('close', () => r()));
    sock.on('error', () => {});
    sock.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03]));
    await closed;
    await gw.waitFor(/closed: incomplete TLS ClientHello \(10 bytes\) within 300 ms/);
  });

  it('a client that sends a whole ClientHello and then stalls is closed after the timeout', async () => {
    // Capture a real ClientHello for a.example.com, then replay it and never answer.
    const capture = createNetServer();
    await new Promise<void>((r) => capture.listen(0, '127.0.0.1', r));
    const hello = new Promise<Buffer>((resolve) => capture.once('connection', (s) => s.once('data', (d: Buffer) => { resolve(d); s.destroy(); })));
    const probe = tlsConnect({ host: '127.0.0.1', port: (capture.address() as AddressInfo).port, servername: 'a.example.com' });
    probe.on('error', () => {});
    const bytes = await hello;
    capture.close();
    const sock = netConnect(gw.port(443), '127.0.0.1');
    sock.on('error', () => {});
    sock.on('data', () => {});
    const closed = new Promise<void>((r) => sock.on('close', () => r()));
    sock.write(bytes);
    await closed;
    await gw.waitFor(/SNI a\.example\.com\) closed: TLS handshake not completed within 300 ms/);
  });

  it('a client that connects and sends nothing is closed too', async () => {
    const sock = netConnect(gw.port(443), '127.0.0.1');
    sock.on('error', () => {});
    await new Promise<void>((r) => sock.on('close', () => r()));
    await gw.waitFor(/closed: no data within 300 ms/);
  });

  it('after all of the above, the gateway still serves', async () => {
    const r = await httpsGet(gw.port(443), 'a.example.com', '/still-here', trust);
    expect(r.status).toBe(200);
    expect(gw.child.exitCode).toBeNull();
  });
});
