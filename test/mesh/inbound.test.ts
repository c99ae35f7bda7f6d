import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEchoBackend, type EchoBackend } from '../support/echo-backend.js';
import { freePort } from '../support/ports.js';
import { runSluice, startSluice, type SluiceProcess } from '../support/sluice-process.js';
import { curlViaProxy } from './support/app-client.js';
import { AUDIT_FORMAT } from './support/egress-env.js';

// The sidecar's inbound side: --inbound-port terminates mesh mTLS per PeerAuthentication and
// forwards to --app-port, with the caller's SPIFFE identity on the connection (authorization
// and the access log read it). Two sidecars: sleep (client) calls httpbin (server).

const PA_STRICT = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: default}
spec:
  mtls: {mode: STRICT}
`;
const PA_PORT_DISABLE = (appPort: number): string => `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: default}
spec:
  mtls: {mode: STRICT}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: httpbin, namespace: default}
spec:
  selector: {matchLabels: {app: httpbin}}
  portLevelMtls:
    "${appPort}": {mode: DISABLE}
`;

describe('sidecar inbound: mesh mTLS per PeerAuthentication in front of the application', () => {
  let dir: string;
  let app: EchoBackend;
  let server: SluiceProcess;
  let client: SluiceProcess;
  let inboundPort: number;
  let clientOutbound: number;
  let version = 0;

  const setPolicy = async (yaml: string, file = 'peer-authentication.yaml'): Promise<void> => {
    writeFileSync(join(dir, 'server', file), yaml);
    const before = version;
    await expect.poll(async () => {
      const s = (await (await server.admin('/config_status')).json()) as { version: number };
      return s.version;
    }, { timeout: 10_000, interval: 50 }).toBeGreaterThan(before);
    version = ((await (await server.admin('/config_status')).json()) as { version: number }).version;
  };

  const plaintext = (path: string): Promise<{ status: number; error: string }> => new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port: inboundPort, path, headers: { host: 'httpbin.default.svc.cluster.local' }, agent: false }, (r) => {
      r.resume();
      r.on('end', () => resolve({ status: r.statusCode ?? 0, error: '' }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ status: 0, error: e.code ?? e.message }));
    req.end();
  });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-inbound-'));
    const ca = join(dir, 'ca');
    expect((await runSluice(['ca', 'init', '--dir', ca])).code).toBe(0);
    app = await startEchoBackend('httpbin');
    inboundPort = await freePort();
    clientOutbound = await freePort();
    mkdirSync(join(dir, 'server'));
    writeFileSync(join(dir, 'server', 'peer-authentication.yaml'), '');
    writeFileSync(join(dir, 'audit.yaml'), `accessLogFormat: "${AUDIT_FORMAT}\\n"\n`);
    // The client's view of httpbin: a mesh workload (its sidecar's inbound port) running as sa/httpbin.
    writeFileSync(join(dir, 'client.yaml'), `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: httpbin, namespace: default}
spec:
  hosts: [httpbin.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 8000, name: http, protocol: HTTP}]
  endpoints:
  - address: 127.0.0.1
    ports: {http: ${inboundPort}}
    serviceAccount: httpbin
    labels: {security.istio.io/tlsMode: istio}
`);
    server = await startSluice({ config: [join(dir, 'server')], args: ['--mode', 'sidecar', '--labels', 'app=httpbin', '--namespace', 'default', '--service-account', 'httpbin', '--outbound-port', String(await freePort()), '--inbound-port', String(inboundPort), '--app-port', String(app.port), '--mesh-ca-dir', ca, '--mesh', join(dir, 'audit.yaml'), '--drain-timeout', '1'] });
    client = await startSluice({ config: [join(dir, 'client.yaml')], args: ['--mode', 'sidecar', '--labels', 'app=sleep', '--namespace', 'default', '--service-account', 'sleep', '--outbound-port', String(clientOutbound), '--mesh-ca-dir', ca, '--drain-timeout', '1'] });
    version = ((await (await server.admin('/config_status')).json()) as { version: number }).version;
  });
  afterAll(async () => {
    await Promise.all([client?.stop(), server?.stop()]);
    await app?.close();
  });

  it('PERMISSIVE (no policy): mTLS from a mesh client carries its identity; plaintext is accepted too', async () => {
    const r = await curlViaProxy(clientOutbound, 'http://httpbin.default.svc.cluster.local:8000/headers?case=permissive-mtls');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ backend: 'httpbin', path: '/headers?case=permissive-mtls' });
    const line = await server.waitFor(/^audit source=spiffe:\/\/cluster\.local\/ns\/default\/sa\/sleep .*authority=httpbin\.default\.svc\.cluster\.local:8000/, 'stdout');
    expect(line).toMatch(/cluster=inbound\|\d+\|\| code=200 flags=-/);
    expect((await plaintext('/headers?case=permissive-plain')).status).toBe(200);
  });

  it('bytes that are not HTTP are proxied to the application as TCP, plaintext and under mTLS', async () => {
    const raw = (socket: Socket): Promise<string> => new Promise((resolve) => {
      let got = '';
      socket.on('data', (d: Buffer) => { got += d.toString(); if (got.includes('\r\n')) socket.destroy(); });
      socket.on('close', () => resolve(got));
      socket.on('error', () => {});
    });
    // The application is an HTTP server: a non-HTTP line reaching it answers 400.
    const plain = connect(inboundPort, '127.0.0.1', () => plain.write('HELLO not-http\r\n\r\n'));
    expect(await raw(plain)).toMatch(/^HTTP\/1\.1 400 Bad Request/);
    const out = join(dir, 'tcp-client');
    expect((await runSluice(['ca', 'issue', '--dir', join(dir, 'ca'), '--namespace', 'default', '--service-account', 'legacy', '--out', out])).code).toBe(0);
    const mtls = tlsConnect({ host: '127.0.0.1', port: inboundPort, cert: readFileSync(join(out, 'cert-chain.pem')), key: readFileSync(join(out, 'key.pem')), ca: readFileSync(join(out, 'root-cert.pem')), checkServerIdentity: () => undefined }, () => mtls.write('HELLO not-http\r\n\r\n'));
    expect(await raw(mtls)).toMatch(/^HTTP\/1\.1 400 Bad Request/);
    const line = await server.waitFor(/^audit source=spiffe:\/\/cluster\.local\/ns\/default\/sa\/legacy .*cluster=inbound\|\d+\|\| code=0/, 'stdout');
    expect(line).toMatch(/rx=18 tx=\d+/);
  });

  it('STRICT: plaintext is refused with the reason logged; mesh mTLS still works', async () => {
    await setPolicy(PA_STRICT);
    const p = await plaintext('/headers?case=strict-plain');
    expect(p.status).toBe(0);
    expect(['ECONNRESET', 'socket hang up']).toContain(p.error);
    await server.waitFor(/virtualInbound: connection from .* closed: plaintext refused: mTLS mode STRICT on port \d+ \(PeerAuthentication default\/default\)/);
    expect(app.seen.some((s) => s.path.includes('strict-plain'))).toBe(false);
    const r = await curlViaProxy(clientOutbound, 'http://httpbin.default.svc.cluster.local:8000/headers?case=strict-mtls');
    expect(r.status).toBe(200);
  });

  it("AuthorizationPolicy on the inbound side sees the caller's SPIFFE identity (principals)", async () => {
    await setPolicy(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: httpbin-callers, namespace: default}
spec:
  selector: {matchLabels: {app: httpbin}}
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/default/sa/sleep"]}}]
`, 'authorization.yaml');
    const allowed = await curlViaProxy(clientOutbound, 'http://httpbin.default.svc.cluster.local:8000/headers?case=authz-sleep');
    expect(allowed.status).toBe(200);
    const legacy = join(dir, 'tcp-client');
    const denied = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port: inboundPort, path: '/headers?case=authz-legacy', headers: { host: 'httpbin.default.svc.cluster.local' }, cert: readFileSync(join(legacy, 'cert-chain.pem')), key: readFileSync(join(legacy, 'key.pem')), ca: readFileSync(join(legacy, 'root-cert.pem')), checkServerIdentity: () => undefined, agent: false }, (r) => {
        let body = '';
        r.on('data', (d: Buffer) => { body += d.toString(); });
        r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(denied).toEqual({ status: 403, body: 'RBAC: access denied' });
    expect(app.seen.some((s) => s.path.includes('authz-legacy'))).toBe(false);
    await setPolicy('', 'authorization.yaml');
  });

  it('portLevelMtls DISABLE on the application port (workload policy) wins over the namespace STRICT', async () => {
    await setPolicy(PA_PORT_DISABLE(app.port));
    expect((await plaintext('/headers?case=port-disable')).status).toBe(200);
    expect(app.seen.some((s) => s.path.includes('port-disable'))).toBe(true);
  });
});
