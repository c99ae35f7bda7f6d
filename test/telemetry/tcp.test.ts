import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRaw, sendRequest } from '../conformance/runner.js';
import { startEchoBackend, type EchoBackend } from '../support/echo-backend.js';
import { startSluice, type SluiceProcess } from '../support/sluice-process.js';
import { startTcpEcho } from '../support/tls-backends.js';
import { configFile } from '../support/yaml.js';

// TCP connections through the Telemetry API: access-log filters over connection attributes
// (a TCP connection has no response.code: such a filter is false, as in Envoy) and TCP metric
// overrides.

describe('Telemetry on TCP routes', () => {
  let tcp: Awaited<ReturnType<typeof startTcpEcho>>;
  let http: EchoBackend;
  let sluice: SluiceProcess;

  beforeAll(async () => {
    tcp = await startTcpEcho('db');
    http = await startEchoBackend('web');
    const config = configFile(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 5432, name: tcp, protocol: TCP}
    hosts: ["*"]
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: db, namespace: istio-system}
spec:
  hosts: [db.internal]
  ports: [{number: 5432, name: tcp, protocol: TCP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {tcp: ${tcp.port}}}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: web, namespace: istio-system}
spec:
  hosts: [web.internal]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {http: ${http.port}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: routes, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [gw]
  tcp:
  - match: [{port: 5432}]
    route: [{destination: {host: db.internal, port: {number: 5432}}}]
  http:
  - route: [{destination: {host: web.internal, port: {number: 80}}}]
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  accessLogging:
  - providers: [{name: envoy}]
    filter: {expression: "response.code >= 400 || xds.cluster_name.endsWith('db.internal')"}
  metrics:
  - overrides:
    - match: {metric: TCP_SENT_BYTES}
      tagOverrides:
        upstream: {value: upstream.address}
    - match: {metric: TCP_OPENED_CONNECTIONS}
      disabled: true
`);
    sluice = await startSluice({ config: [config], ports: [5432, 80] });
  });
  afterAll(async () => {
    await sluice?.stop();
    await tcp?.close();
    await http?.close();
  });

  it('logs the TCP connection its filter selects (code 0), not the HTTP 200', async () => {
    expect((await sendRequest(sluice.port(80), { host: 'web.example.com', path: '/quiet' })).status).toBe(200);
    const r = await sendRaw(sluice.port(5432), { protocol: 'tcp', send: 'ping' }, null, 'db:ping'.length);
    expect(r.body).toBe('db:ping');
    await sluice.waitFor(/"- - -" 0 .*outbound\|5432\|\|db\.internal/, 'stdout');
    expect(sluice.stdout.filter((l) => l.includes('/quiet'))).toEqual([]);
  });

  it('TCP metric overrides: a disabled metric, an upserted label', async () => {
    const text = await (await sluice.admin('/stats/prometheus')).text();
    const lines = (name: string) => text.split('\n').filter((l) => l.startsWith(`${name}{`));
    expect(lines('istio_tcp_connections_opened_total')).toEqual([]);
    const sent = lines('istio_tcp_sent_bytes_total');
    expect(sent).toHaveLength(1);
    expect(sent[0]).toContain(`upstream="127.0.0.1:${tcp.port}"`);
    expect(sent[0]).toMatch(/ 7$/);
    expect(lines('istio_tcp_connections_closed_total')[0]).toMatch(/destination_service="db\.internal".* 1$/);
  });
});
