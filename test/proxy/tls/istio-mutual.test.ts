import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigPipeline } from '../../../src/config/pipeline.js';
import { ProxyRuntime } from '../../../src/proxy/runtime.js';
import { DnsResolver } from '../../../src/proxy/upstream/dns.js';
import { createTestCa, issueCert } from '../../support/certs.js';
import { configFile } from '../../support/yaml.js';
import { httpsGet, startHttpsEcho } from './helpers.js';

// ISTIO_MUTUAL with a mesh CA handed in through CompileInput.meshCa (what `--mesh-ca-dir`
// supplies once the mesh CA exists): the gateway serves its SPIFFE workload certificate,
// requires mesh client certificates, and auto-mTLS originates ISTIO_MUTUAL to mesh endpoints.
// The data plane runs in-process here, on real sockets.

const root = createTestCa('Mesh Root');
const gatewayId = issueCert(root, 'istio-ingressgateway', ['spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway']);
const sleep = issueCert(root, 'sleep', ['spiffe://cluster.local/ns/default/sa/sleep'], { client: true });
const outsider = issueCert(createTestCa('Not the mesh'), 'sleep', ['spiffe://cluster.local/ns/default/sa/sleep'], { client: true });
const appId = issueCert(root, 'app', ['spiffe://cluster.local/ns/default/sa/app']);

let runtime: ProxyRuntime;
let port = 0;
let app: Awaited<ReturnType<typeof startHttpsEcho>>;

beforeAll(async () => {
  app = await startHttpsEcho('app', appId.cert, appId.key, { ca: root.certPem, requestCert: true });
  const file = configFile(`
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: ISTIO_MUTUAL}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: app, namespace: default}
spec:
  hosts: [app.example.com]
  gateways: [istio-system/gw]
  http: [{route: [{destination: {host: app.default.svc.cluster.local, port: {number: 8443}}}]}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: app, namespace: default}
spec:
  hosts: [app.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 8443, name: http, protocol: HTTP}]
  endpoints: [{address: 127.0.0.1, ports: {http: ${app.port}}, labels: {security.istio.io/tlsMode: istio}}]
`);
  const pipeline = new ConfigPipeline({
    configPaths: [file],
    workload: { labels: { istio: 'ingressgateway' }, portMap: new Map([[443, 0]]), listenHost: '127.0.0.1' },
    meshCa: () => ({ cert: gatewayId.cert, key: gatewayId.key, root: root.certPem }),
  });
  const { snapshot } = pipeline.build();
  runtime = new ProxyRuntime({ initial: snapshot, dns: new DnsResolver(), accessLog: { kind: 'off' }, workloadName: 'istio-ingressgateway' });
  expect(await runtime.apply(snapshot)).toEqual([]);
  port = [...runtime.listeners.boundPorts().values()][0]!;
});

afterAll(async () => {
  runtime?.listeners.closeAll();
  runtime?.clusters.close();
  await app?.close();
});

describe('ISTIO_MUTUAL with a mesh CA', () => {
  it('a mesh workload reaches the app: mTLS in with its SPIFFE identity, ISTIO_MUTUAL out with the gateway identity', async () => {
    const r = await httpsGet(port, 'app.example.com', '/hello', { ca: root.certPem, cert: sleep.cert, key: sleep.key, checkServerIdentity: () => undefined });
    expect(r.status).toBe(200);
    const seen = JSON.parse(r.body) as { clientCn: string; headers: Record<string, string> };
    expect(seen.clientCn).toBe('istio-ingressgateway');
    expect(seen.headers['x-forwarded-client-cert']).toMatch(/^By=spiffe:\/\/cluster\.local\/ns\/istio-system\/sa\/istio-ingressgateway;Hash=[0-9a-f]{64};.*;URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/sleep$/);
  });

  it('a client without a mesh certificate is refused', async () => {
    const noCert = await httpsGet(port, 'app.example.com', '/', { ca: root.certPem, checkServerIdentity: () => undefined }).catch((e: Error) => e);
    expect(noCert).toBeInstanceOf(Error);
    const foreign = await httpsGet(port, 'app.example.com', '/', { ca: root.certPem, cert: outsider.cert, key: outsider.key, checkServerIdentity: () => undefined }).catch((e: Error) => e);
    expect(foreign).toBeInstanceOf(Error);
  });
});
