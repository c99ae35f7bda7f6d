// End to end: the real `sluice run --source kubernetes --kubeconfig FILE` against a fake
// kube-apiserver (no real one can run on this machine; see fake-apiserver.ts) that holds the
// seed's Part 1 objects, Services + Endpoints pointing at echo backends on 127.0.0.1, and the
// TLS Secret. Changes go through the fake's watch streams; requests go through real sockets.

import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { sendRequest, type CaseRequest, type HttpResult } from '../conformance/runner.js';
import { createTestCa, issueCert, tlsSecretYaml, type TestCa } from '../support/certs.js';
import { startEchoBackend, type EchoBackend } from '../support/echo-backend.js';
import { runSluice, startSluice, type SluiceProcess } from '../support/sluice-process.js';
import { FakeApiServer } from './fake-apiserver.js';
import { tempDir, until } from './helpers.js';

const SEED = fileURLToPath(new URL('../../examples/seed-ingress/istio.yaml', import.meta.url));

interface Status {
  version: number;
  heldBack: string[];
  diagnostics: { level: string; code: string; file?: string; path?: string; message: string }[];
  source: { type: string; healthy: boolean; server: string; resources: { kind: string; apiVersion: string | null; state?: string }[] };
}

function service(name: string, port: number, backend: EchoBackend): string {
  return `
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: default}
spec:
  selector: {app: ${name}}
  ports: [{name: http, port: ${port}, targetPort: ${port}}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: ${name}, namespace: default}
subsets:
- addresses: [{ip: 127.0.0.1}]
  ports: [{name: http, port: ${backend.port}}]
`;
}

describe('sluice run --source kubernetes (fake API server, real gateway process)', () => {
  let fake: FakeApiServer;
  let sluice: SluiceProcess;
  let ca: TestCa;
  let kubeconfig: string;
  const backends: Record<string, EchoBackend> = {};
  // The seed's api-routes as the cluster holds it (the object the test modifies).
  let apiRoutes: Record<string, unknown> & { metadata: { name: string }; spec: { http: { match?: { uri: Record<string, string> }[]; route: { destination: { host: string; port: { number: number } } }[] }[] } };

  const https = (path: string, host = 'api.example.com'): Promise<HttpResult> => sendRequest(sluice.port(443), { scheme: 'https', host, path } satisfies CaseRequest, ca.certPem);
  const backendOf = (r: HttpResult): string => (JSON.parse(r.body) as { backend: string }).backend;
  const status = async (): Promise<Status> => (await (await sluice.admin('/config_status')).json()) as Status;
  const nextVersion = async (after: number): Promise<Status> => until(async () => { const s = await status(); return s.version > after ? s : undefined; }, `config version > ${after}`);

  beforeAll(async () => {
    for (const name of ['api-service', 'docs-service', 'web-service']) backends[name] = await startEchoBackend(name);
    ca = createTestCa();
    const cert = issueCert(ca, 'api.example.com', ['api.example.com', 'app.example.com']);
    // RBAC as deploy/ grants it: Secrets in the gateway's namespace only.
    fake = await FakeApiServer.start({ secretsNamespaces: ['istio-system'] });
    for (const doc of parseAllDocuments(readFileSync(SEED, 'utf8'))) {
      const o = doc.toJS() as { apiVersion: string; kind: string; metadata: { name: string } };
      // The API server serves EnvoyFilter only as v1alpha3 (`kubectl apply` of the seed's v1beta1 fails; SLU0011 says so).
      if (o.kind === 'EnvoyFilter') o.apiVersion = 'networking.istio.io/v1alpha3';
      fake.apply(o as Parameters<FakeApiServer['apply']>[0]);
    }
    apiRoutes = fake.get('VirtualService', 'default', 'api-routes') as typeof apiRoutes;
    fake.applyYaml(service('api-service', 8080, backends['api-service']!) + '---' + service('docs-service', 80, backends['docs-service']!) + '---' + service('web-service', 80, backends['web-service']!));
    fake.applyYaml(tlsSecretYaml('example-tls-secret', 'istio-system', { cert: cert.cert, key: cert.key }));
    // An object the cluster let in but Istio's validation refuses: reported, and the rest serves.
    fake.applyYaml(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: broken, namespace: default}
spec:
  hosts: [app.example.com]
  gateways: [istio-system/main-gateway]
  http:
  - match: [{uri: {regex: "^/users/[0-9+$"}}]
    route: [{destination: {host: web-service}}]
`);
    kubeconfig = fake.writeKubeconfig(tempDir());
    sluice = await startSluice({ config: [], ports: [80, 443], args: ['--source', 'kubernetes', '--kubeconfig', kubeconfig] });
  });

  afterAll(async () => {
    await sluice?.stop();
    await fake?.close();
    for (const b of Object.values(backends)) await b.close();
  });

  it('serves the seed ingress from the cluster objects: redirect, TLS from the Secret, routes to Endpoints', async () => {
    const redirect = await sendRequest(sluice.port(80), { host: 'api.example.com', path: '/api/v1/users' });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.location).toBe('https://api.example.com/api/v1/users');
    expect(backendOf(await https('/api/v1/users'))).toBe('api-service');
    expect(backendOf(await https('/docs/intro'))).toBe('docs-service');
    expect(backendOf(await https('/'))).toBe('web-service');
    const s = await status();
    expect(s.source).toMatchObject({ type: 'kubernetes', healthy: true, server: fake.url });
    expect(s.source.resources.find((r) => r.kind === 'EnvoyFilter')).toMatchObject({ apiVersion: 'networking.istio.io/v1alpha3', state: 'watching' });
    // The invalid object is reported where it lives; it did not stop the gateway.
    expect(s.diagnostics.find((d) => d.level === 'error')).toMatchObject({ code: 'IST0122', file: 'kubernetes://VirtualService/default/broken', path: 'spec.http[0].match[0].uri.regex' });
    await sluice.waitFor(/kubernetes:\/\/VirtualService\/default\/broken: error IST0122/);
  });

  it('a MODIFIED VirtualService changes routing; an invalid edit keeps the last good version; DELETE removes it', async () => {
    let v = (await status()).version;
    const toDocs = structuredClone(apiRoutes);
    toDocs.spec.http[0]!.route[0]!.destination = { host: 'docs-service', port: { number: 80 } };
    fake.apply(toDocs);
    v = (await nextVersion(v)).version;
    expect(backendOf(await https('/api/v1/users'))).toBe('docs-service');

    const invalid = structuredClone(apiRoutes);
    invalid.spec.http[0]!.match = [{ uri: { regex: '(unclosed' } }];
    fake.apply(invalid);
    const held = await nextVersion(v);
    v = held.version;
    expect(held.heldBack).toContain('VirtualService default/api-routes');
    expect(held.diagnostics.find((d) => d.file === 'kubernetes://VirtualService/default/api-routes' && d.level === 'error')).toMatchObject({ code: 'IST0122', path: 'spec.http[0].match[0].uri.regex' });
    expect(backendOf(await https('/api/v1/users'))).toBe('docs-service');

    fake.delete('VirtualService', 'default', 'api-routes');
    v = (await nextVersion(v)).version;
    expect((await https('/api/v1/users')).status).toBe(404);

    fake.apply(apiRoutes);
    await nextVersion(v);
    expect(backendOf(await https('/api/v1/users'))).toBe('api-service');
  });

  it('the API server going away and coming back (410 Gone → relist) drops no traffic', async () => {
    const results: string[] = [];
    const send = async (): Promise<void> => {
      const r = await https('/api/v1/users');
      results.push(r.status === 200 ? backendOf(r) : `status ${r.status}`);
    };
    await send();
    await fake.down();
    await until(async () => !(await status()).source.healthy, 'the watch to be reported unhealthy');
    // The gateway keeps serving the last config while the API server is away.
    for (let i = 0; i < 5; i++) await send();
    fake.compact();
    await fake.listen();
    await until(async () => (await status()).source.healthy, 'the watch to be healthy again');
    await send();
    expect(results).toEqual(Array(7).fill('api-service'));
    await sluice.waitFor(/every watch is connected again/);

    // And changes flow again after the relist.
    const v = (await status()).version;
    const toWeb = structuredClone(apiRoutes);
    toWeb.spec.http[0]!.route[0]!.destination = { host: 'web-service', port: { number: 80 } };
    fake.apply(toWeb);
    await nextVersion(v);
    expect(backendOf(await https('/api/v1/users'))).toBe('web-service');
  });

  it('a rotated TLS Secret is served on new handshakes without a restart (as SDS)', async () => {
    const peerSerial = (): Promise<string> => new Promise((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: sluice.port(443), servername: 'api.example.com', ca: ca.certPem }, () => {
        resolve(socket.getPeerCertificate().serialNumber);
        socket.destroy();
      });
      socket.on('error', reject);
    });
    const before = await peerSerial();
    const v = (await status()).version;
    const rotated = issueCert(ca, 'api.example.com', ['api.example.com', 'app.example.com']);
    fake.applyYaml(tlsSecretYaml('example-tls-secret', 'istio-system', { cert: rotated.cert, key: rotated.key }));
    await nextVersion(v);
    const after = await peerSerial();
    expect(after).not.toBe(before);
    expect(after).toBe(new X509Certificate(rotated.cert).serialNumber);
    expect(backendOf(await https('/api/v1/users'))).toBe('web-service');
  });

  it('refuses flag combinations that cannot work, naming the fix', async () => {
    const both = await runSluice(['run', '--source', 'kubernetes', '-c', SEED]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('-c/--config and --source kubernetes cannot be combined');
    const missing = await runSluice(['run', '--source', 'kubernetes', '--kubeconfig', '/nonexistent/kubeconfig', '--admin-port', '0']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--kubeconfig /nonexistent/kubeconfig: no such file');
    const noSource = await runSluice(['run', '--kubeconfig', kubeconfig, '-c', SEED]);
    expect(noSource.code).toBe(2);
    expect(noSource.stderr).toContain('--kubeconfig is for --source kubernetes');
    const workers = await runSluice(['run', '--source', 'kubernetes', '--kubeconfig', kubeconfig, '--concurrency', '2']);
    expect(workers.code).toBe(2);
    expect(workers.stderr).toContain('scale out with more replicas');
    const bad = await runSluice(['run', '--source', 'etcd']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--source etcd: expected files or kubernetes');
  });
});
