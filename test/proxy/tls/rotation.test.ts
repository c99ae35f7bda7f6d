import { renameSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestCa, serverCert, tlsSecretYaml, writeCredential, type IssuedCert } from '../../support/certs.js';
import { startEchoBackend, type EchoBackend } from '../../support/echo-backend.js';
import type { SluiceProcess } from '../../support/sluice-process.js';
import { eventually, serviceEntry, startGateway, tlsHandshake } from './helpers.js';

// Certificate rotation without a restart: a changed Secret in the config, a changed
// --credentials folder and a changed serverCertificate file are each picked up by the next
// handshake, while a connection opened before keeps working on the certificate it got.

const ca = createTestCa('Rotation CA');
const fp = (pem: string): string => new X509Certificate(pem).fingerprint256;

let echo: EchoBackend;
let gw: SluiceProcess & { configFile: string };
const creds = mkdtempSync(join(tmpdir(), 'sluice-rot-creds-'));
const files = mkdtempSync(join(tmpdir(), 'sluice-rot-files-'));
const secretV1 = serverCert(ca, 'secret.example.com');
const secretV2 = serverCert(ca, 'secret.example.com');
const dirV1 = serverCert(ca, 'dir.example.com');
const dirV2 = serverCert(ca, 'dir.example.com');
const fileV1 = serverCert(ca, 'file.example.com');
const fileV2 = serverCert(ca, 'file.example.com');
const late = serverCert(ca, 'late.example.com');

/** Replaces a file in one step, as a Kubernetes secret volume or cert-manager would. */
function replaceFile(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

function config(secret: IssuedCert, withLate: boolean): string {
  return `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https-secret, protocol: HTTPS}
    hosts: [secret.example.com]
    tls: {mode: SIMPLE, credentialName: from-secret}
  - port: {number: 443, name: https-dir, protocol: HTTPS}
    hosts: [dir.example.com]
    tls: {mode: SIMPLE, credentialName: from-dir}
  - port: {number: 443, name: https-file, protocol: HTTPS}
    hosts: [file.example.com]
    tls: {mode: SIMPLE, serverCertificate: ${join(files, 'tls.crt')}, privateKey: ${join(files, 'tls.key')}}
  - port: {number: 443, name: https-late, protocol: HTTPS}
    hosts: [late.example.com]
    tls: {mode: SIMPLE, credentialName: late}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [secret.example.com, dir.example.com, file.example.com, late.example.com]
  gateways: [istio-system/gw]
  http: [{route: [{destination: {host: echo.default.svc.cluster.local, port: {number: 80}}}]}]
${serviceEntry('echo', 'echo.default.svc.cluster.local', 80, 'HTTP', echo.port)}
---
${tlsSecretYaml('from-secret', 'istio-system', secret)}
${withLate ? `---\n${tlsSecretYaml('late', 'istio-system', late)}` : ''}
`;
}

beforeAll(async () => {
  echo = await startEchoBackend('echo');
  writeCredential(creds, 'from-dir', { cert: dirV1.cert, key: dirV1.key });
  writeFileSync(join(files, 'tls.crt'), fileV1.cert);
  writeFileSync(join(files, 'tls.key'), fileV1.key);
  gw = await startGateway(config(secretV1, false), [443], ['--credentials', creds]);
});

afterAll(async () => {
  await gw?.stop();
  await echo?.close();
});

async function servedFingerprint(host: string): Promise<string> {
  const h = await tlsHandshake(gw.port(443), { servername: host, ca: ca.certPem });
  if (!h.ok) return `failed: ${h.error}`;
  const f = h.socket!.getPeerX509Certificate()!.fingerprint256;
  h.socket!.destroy();
  return f;
}

/** One HTTP/1.1 request on an open TLS connection (keep-alive), returning the status line. */
function requestOn(sock: TLSSocket, host: string, path: string): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const onData = (d: Buffer): void => {
      got += d.toString();
      const end = got.indexOf('\r\n\r\n');
      const len = /content-length: (\d+)/i.exec(got);
      const complete = end >= 0 && (len !== null ? got.length >= end + 4 + Number(len[1]) : got.endsWith('0\r\n\r\n'));
      if (complete) { sock.removeListener('data', onData); resolve(got.split('\r\n')[0]!); }
    };
    sock.on('data', onData);
    sock.write(`GET ${path} HTTP/1.1\r\nhost: ${host}\r\n\r\n`);
  });
}

describe('certificate rotation', () => {
  it('starts with the first certificates; a server whose Secret is missing is not served', async () => {
    expect(await servedFingerprint('secret.example.com')).toBe(fp(secretV1.cert));
    expect(await servedFingerprint('dir.example.com')).toBe(fp(dirV1.cert));
    expect(await servedFingerprint('file.example.com')).toBe(fp(fileV1.cert));
    expect(await servedFingerprint('late.example.com')).toMatch(/^failed/);
  });

  it('a changed Secret: new handshakes get the new certificate, an open connection keeps serving', async () => {
    const old = await tlsHandshake(gw.port(443), { servername: 'secret.example.com', ca: ca.certPem });
    expect(await requestOn(old.socket!, 'secret.example.com', '/before')).toBe('HTTP/1.1 200 OK');
    replaceFile(gw.configFile, config(secretV2, false));
    await eventually(async () => (await servedFingerprint('secret.example.com')) === fp(secretV2.cert));
    expect(await requestOn(old.socket!, 'secret.example.com', '/after')).toBe('HTTP/1.1 200 OK');
    expect(old.socket!.getPeerX509Certificate()!.fingerprint256).toBe(fp(secretV1.cert));
    old.socket!.destroy();
  });

  it('a changed --credentials folder', async () => {
    replaceFile(join(creds, 'from-dir', 'tls.key'), dirV2.key);
    replaceFile(join(creds, 'from-dir', 'tls.crt'), dirV2.cert);
    await eventually(async () => (await servedFingerprint('dir.example.com')) === fp(dirV2.cert));
  });

  it('a changed serverCertificate/privateKey file', async () => {
    replaceFile(join(files, 'tls.key'), fileV2.key);
    replaceFile(join(files, 'tls.crt'), fileV2.cert);
    await eventually(async () => (await servedFingerprint('file.example.com')) === fp(fileV2.cert));
  });

  it('a Secret that appears later brings its server up', async () => {
    replaceFile(gw.configFile, config(secretV2, true));
    await eventually(async () => (await servedFingerprint('late.example.com')) === fp(late.cert));
    // The other servers are untouched.
    expect(await servedFingerprint('file.example.com')).toBe(fp(fileV2.cert));
  });
});
