import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestCa, serverCert, type TestCa } from '../support/certs.js';
import { startEchoBackend, type EchoBackend } from '../support/echo-backend.js';
import { freePort } from '../support/ports.js';
import { runSluice, startSluice, type SluiceProcess } from '../support/sluice-process.js';
import { curlViaProxy, tcpViaConnect } from './support/app-client.js';
import { startExternalHttp, startExternalTcp, type ExternalServer } from './support/external.js';

// The outbound explicit proxy under ALLOW_ANY (Istio's default): services are reached through
// their registry entries, VirtualServices bound to mesh shape the traffic, unknown hosts pass
// through (PassthroughCluster) over HTTP and CONNECT; a Sidecar can narrow it to REGISTRY_ONLY.

describe('sidecar outbound: ALLOW_ANY, services, mesh VirtualServices, Sidecar scope', () => {
  let dir: string;
  let reviews: EchoBackend;
  let reviewsV2: EchoBackend;
  let outside: ExternalServer;
  let outsideTls: ExternalServer;
  let tcp: ExternalServer;
  let ca: TestCa;
  let sidecar: SluiceProcess;
  let port: number;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-outbound-'));
    expect((await runSluice(['ca', 'init', '--dir', join(dir, 'ca'), '--trust-domain', 'corp.example'])).code).toBe(0);
    ca = createTestCa('Outside CA');
    [reviews, reviewsV2, outside, outsideTls, tcp] = await Promise.all([
      startEchoBackend('reviews-v1'), startEchoBackend('reviews-v2'), startExternalHttp('outside'),
      startExternalHttp('outside-tls', serverCert(ca, 'secure.unknown.example')), startExternalTcp('legacy'),
    ]);
    mkdirSync(join(dir, 'config'), { recursive: true });
    writeFileSync(join(dir, 'config', 'mesh.yaml'), `apiVersion: networking.istio.io/v1
kind: MeshConfig
metadata: {name: istio, namespace: istio-system}
spec:
  trustDomain: corp.example
`);
    writeFileSync(join(dir, 'config', 'services.yaml'), `apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-v1, namespace: default}
spec: {address: 127.0.0.1, labels: {app: reviews, version: v1}, ports: {http: ${reviews.port}}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-v2, namespace: default}
spec: {address: 127.0.0.1, labels: {app: reviews, version: v2}, ports: {http: ${reviewsV2.port}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - route: [{destination: {host: reviews, subset: v1}}]
`);
    port = await freePort();
    sidecar = await startSluice({
      config: [join(dir, 'config')],
      args: ['--mode', 'sidecar', '--labels', 'app=productpage', '--namespace', 'default', '--service-account', 'bookinfo-productpage', '--outbound-port', String(port), '--mesh-ca-dir', join(dir, 'ca'), '--drain-timeout', '1', '--resolve', 'plain.unknown.example=127.0.0.1,secure.unknown.example=127.0.0.1,legacy.unknown.example=127.0.0.1'],
    });
  });
  afterAll(async () => {
    await sidecar?.stop();
    await Promise.all([reviews?.close(), reviewsV2?.close(), outside?.close(), outsideTls?.close(), tcp?.close()]);
  });

  it('routes a mesh service by its VirtualService (short name, header match, subsets)', async () => {
    const v1 = await curlViaProxy(port, 'http://reviews:9080/reviews/1');
    expect(v1.status).toBe(200);
    expect(JSON.parse(v1.body).backend).toBe('reviews-v1');
    const v2 = await curlViaProxy(port, 'http://reviews.default.svc.cluster.local:9080/reviews/1', ['-H', 'end-user: jason']);
    expect(JSON.parse(v2.body).backend).toBe('reviews-v2');
    await sidecar.waitFor(/"reviews:9080" ".*" outbound\|9080\|v1\|reviews\.default\.svc\.cluster\.local/, 'stdout');
  });

  it('ALLOW_ANY passes an unknown host through, over HTTP (PassthroughCluster) and CONNECT', async () => {
    const h = await curlViaProxy(port, `http://plain.unknown.example:${outside.port}/anything`);
    expect(h.status).toBe(200);
    expect(JSON.parse(h.body)).toMatchObject({ server: 'outside', host: `plain.unknown.example:${outside.port}` });
    await sidecar.waitFor(/"plain\.unknown\.example:\d+" "127\.0\.0\.1:\d+" PassthroughCluster .* allow_any$/, 'stdout');
    const t = await curlViaProxy(port, `https://secure.unknown.example:${outsideTls.port}/x`, ['--cacert', ca.certFile]);
    expect(t.status).toBe(200);
    expect(JSON.parse(t.body)).toMatchObject({ server: 'outside-tls', sni: 'secure.unknown.example' });
    const tcpRes = await tcpViaConnect(port, `legacy.unknown.example:${tcp.port}`, ['ping']);
    expect(tcpRes.received).toEqual(['legacy: ping']);
    await sidecar.waitFor(new RegExp(`"legacy\\.unknown\\.example:${tcp.port}" "127\\.0\\.0\\.1:${tcp.port}" PassthroughCluster`), 'stdout');
  });

  it('issues its identity in the trust domain of the MeshConfig document', async () => {
    const certs = (await (await sidecar.admin('/certs')).json()) as { workload: { identity: string } };
    expect(certs.workload.identity).toBe('spiffe://corp.example/ns/default/sa/bookinfo-productpage');
  });

  it('a Sidecar resource switches the workload to REGISTRY_ONLY on reload', async () => {
    writeFileSync(join(dir, 'config', 'sidecar.yaml'), `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: default}
spec:
  egress: [{hosts: ["./*"]}]
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
`);
    await expect.poll(async () => (await curlViaProxy(port, `http://plain.unknown.example:${outside.port}/after-sidecar`)).status, { timeout: 10_000, interval: 100 }).toBe(502);
    expect((await curlViaProxy(port, 'http://reviews:9080/still-there')).status).toBe(200);
  });
});
