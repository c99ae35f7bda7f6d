import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRequest } from '../conformance/runner.js';
import { startEchoBackend, type EchoBackend, type EchoReply } from '../support/echo-backend.js';
import { startSluice, type SluiceProcess } from '../support/sluice-process.js';
import { startOtlpCollector, startZipkinCollector, type TraceCollector } from '../support/trace-collectors.js';
import { docs, gatewayYaml, serviceEntryYaml } from '../support/yaml.js';

// Tracing end to end: the real `sluice run` behind a real echo backend, reporting to real
// Zipkin and OTLP/HTTP collectors on loopback. What the backend saw (propagation headers) and
// what the collector received (spans, parents, sampling) are compared.

const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;

function routes(): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: edge, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [gw]
  http:
  - match: [{uri: {prefix: /api}}]
    route: [{destination: {host: echo.default.svc.cluster.local, port: {number: 80}}}]
  - match: [{uri: {prefix: /down}}]
    route: [{destination: {host: dead.default.svc.cluster.local, port: {number: 80}}}]`;
}

function tracingTelemetry(provider: string, extra = ''): string {
  return `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: tracing, namespace: istio-system}
spec:
  tracing:
  - providers: [{name: ${provider}}]
    randomSamplingPercentage: 100
    customTags:
      team: {literal: {value: edge}}
      user: {header: {name: x-user, defaultValue: anonymous}}
      region: {environment: {name: SLUICE_TEST_REGION, defaultValue: nowhere}}${extra}`;
}

interface Env {
  sluice: SluiceProcess;
  echo: EchoBackend;
  collector: TraceCollector;
  dir: string;
  port: number;
  get(path: string, headers?: Record<string, string>): Promise<{ status: number; echo: EchoReply | null }>;
}

async function startEnv(kind: 'zipkin' | 'otel'): Promise<Env> {
  const echo = await startEchoBackend('echo');
  const collector = kind === 'zipkin' ? await startZipkinCollector() : await startOtlpCollector();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-tracing-'));
  writeFileSync(join(dir, 'mesh.yaml'), `extensionProviders:
- name: zipkin
  zipkin: {service: 127.0.0.1, port: ${collector.port}}
- name: otel
  opentelemetry:
    service: 127.0.0.1
    port: ${collector.port}
    http: {path: /v1/traces, headers: [{name: x-tenant, value: acme}]}
`);
  // The dead service's endpoint is a port nothing listens on: 503 UF.
  writeFileSync(join(dir, 'config.yaml'), docs(gatewayYaml(['*']), serviceEntryYaml('echo', echo.port), serviceEntryYaml('dead', 1), routes(), tracingTelemetry(kind)));
  const sluice = await startSluice({ config: [join(dir, 'config.yaml')], ports: [80], args: ['--mesh', join(dir, 'mesh.yaml')], env: { SLUICE_TEST_REGION: 'eu-west' } });
  const port = sluice.port(80);
  return {
    sluice, echo, collector, dir, port,
    async get(path, headers = {}) {
      const r = await sendRequest(port, { host: 'api.example.com', path, headers });
      return { status: r.status, echo: r.status === 200 ? (JSON.parse(r.body) as EchoReply) : null };
    },
  };
}

async function stopEnv(e: Env | undefined): Promise<void> {
  if (e === undefined) return;
  await e.sluice.stop();
  await e.echo.close();
  await e.collector.close();
}

describe('tracing: Zipkin provider (B3 propagation, Zipkin v2 JSON)', () => {
  let env: Env;
  beforeAll(async () => { env = await startEnv('zipkin'); });
  afterAll(async () => { await stopEnv(env); });

  it('starts a trace: the upstream gets B3 headers naming the gateway span, the collector gets that span', async () => {
    const { status, echo } = await env.get('/api/new', { 'x-user': 'alice' });
    expect(status).toBe(200);
    const h = echo!.headers;
    expect(h['x-b3-traceid']).toMatch(HEX32);
    expect(h['x-b3-spanid']).toMatch(HEX16);
    expect(h['x-b3-sampled']).toBe('1');
    expect(h['x-b3-parentspanid']).toBeUndefined();
    const [span] = await env.collector.waitFor(1, (s) => s.traceId === h['x-b3-traceid']);
    expect(span).toMatchObject({ spanId: h['x-b3-spanid'], parentId: '', kind: 'CLIENT', name: 'echo.default.svc.cluster.local:80/api*', serviceName: 'istio-ingressgateway.istio-system', error: false });
    expect(span!.tags).toMatchObject({
      'http.method': 'GET',
      'http.url': 'http://api.example.com/api/new',
      'http.status_code': '200',
      'http.protocol': 'HTTP/1.1',
      response_flags: '-',
      upstream_cluster: 'outbound|80||echo.default.svc.cluster.local',
      'guid:x-request-id': h['x-request-id'],
      'istio.mesh_id': 'cluster.local',
      'istio.canonical_service': 'istio-ingressgateway',
      'istio.namespace': 'istio-system',
      component: 'proxy',
      team: 'edge',
      user: 'alice',
      region: 'eu-west',
    });
    expect(span!.tags.upstream_address).toBe(`127.0.0.1:${env.echo.port}`);
    expect(span!.durationMs).toBeGreaterThan(0);
  });

  it('continues an incoming trace: same trace id, the caller\'s span as parent', async () => {
    const traceId = '463ac35c9f6413ad48485a3953bb6124';
    const parent = 'a2fb4a1d1a96d312';
    const { echo } = await env.get('/api/child', { 'x-b3-traceid': traceId, 'x-b3-spanid': parent, 'x-b3-sampled': '1' });
    const h = echo!.headers;
    expect(h['x-b3-traceid']).toBe(traceId);
    expect(h['x-b3-parentspanid']).toBe(parent);
    expect(h['x-b3-spanid']).toMatch(HEX16);
    expect(h['x-b3-spanid']).not.toBe(parent);
    const [span] = await env.collector.waitFor(1, (s) => s.traceId === traceId);
    expect(span).toMatchObject({ spanId: h['x-b3-spanid'], parentId: parent });
  });

  it('honours an incoming "not sampled": propagated as such, no span reported', async () => {
    const unsampled = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
    const { echo } = await env.get('/api/unsampled', { 'x-b3-traceid': unsampled, 'x-b3-spanid': 'cccccccccccccccc', 'x-b3-sampled': '0' });
    expect(echo!.headers['x-b3-sampled']).toBe('0');
    expect(echo!.headers['x-b3-traceid']).toBe(unsampled);
    // A sampled request sent after it: once its span is in, an unsampled span would be too.
    const marker = 'dddddddddddddddddddddddddddddddd';
    await env.get('/api/marker', { 'x-b3-traceid': marker, 'x-b3-spanid': 'eeeeeeeeeeeeeeee', 'x-b3-sampled': '1' });
    await env.collector.waitFor(1, (s) => s.traceId === marker);
    expect(env.collector.spans.filter((s) => s.traceId === unsampled)).toEqual([]);
  });

  it('traces local replies and upstream failures: 404 NR, 503 UF with error=true', async () => {
    const nr = await sendRequest(env.port, { host: 'api.example.com', path: '/nowhere', headers: { 'x-b3-traceid': '11111111111111111111111111111111', 'x-b3-spanid': '2222222222222222', 'x-b3-sampled': '1' } });
    expect(nr.status).toBe(404);
    const uf = await sendRequest(env.port, { host: 'api.example.com', path: '/down', headers: { 'x-b3-traceid': '33333333333333333333333333333333', 'x-b3-spanid': '4444444444444444', 'x-b3-sampled': '1' } });
    expect(uf.status).toBe(503);
    const [a] = await env.collector.waitFor(1, (s) => s.traceId === '11111111111111111111111111111111');
    expect(a!.tags).toMatchObject({ 'http.status_code': '404', response_flags: 'NR' });
    expect(a!.name).toBe('api.example.com:80/*');
    const [b] = await env.collector.waitFor(1, (s) => s.traceId === '33333333333333333333333333333333');
    expect(b!.tags).toMatchObject({ 'http.status_code': '503', error: 'true', upstream_cluster: 'outbound|80||dead.default.svc.cluster.local' });
    expect(b!.tags.response_flags).toMatch(/UF/);
    expect(b!.name).toBe('dead.default.svc.cluster.local:80/down*');
  });
});

describe('tracing: OpenTelemetry provider (W3C trace context, OTLP/HTTP)', () => {
  let env: Env;
  beforeAll(async () => { env = await startEnv('otel'); });
  afterAll(async () => { await stopEnv(env); });

  it('continues a W3C trace: traceparent names the gateway span upstream; the collector gets it with its parent', async () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const parent = 'b7ad6b7169203331';
    const { echo } = await env.get('/api/w3c', { traceparent: `00-${traceId}-${parent}-01`, tracestate: 'vendor=opaque' });
    const h = echo!.headers;
    const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(h.traceparent ?? '');
    expect(m, h.traceparent).not.toBeNull();
    expect(m![1]).toBe(traceId);
    expect(m![2]).not.toBe(parent);
    expect(h.tracestate).toBe('vendor=opaque');
    // B3 is the Zipkin tracer's format: this provider leaves it alone.
    expect(h['x-b3-traceid']).toBeUndefined();
    const [span] = await env.collector.waitFor(1, (s) => s.traceId === traceId);
    expect(span).toMatchObject({ spanId: m![2], parentId: parent, kind: 'CLIENT', name: 'echo.default.svc.cluster.local:80/api*', serviceName: 'istio-ingressgateway.istio-system', error: false });
    expect(span!.tags).toMatchObject({ 'http.method': 'GET', 'http.status_code': '200', team: 'edge', user: 'anonymous' });
    expect(env.collector.requests.at(-1)).toMatchObject({ path: '/v1/traces', contentType: 'application/json' });
    expect(env.collector.requests.at(-1)!.headers['x-tenant']).toBe('acme');
  });

  it('starts a new trace without context, honours flags 00, marks 5xx spans as errors', async () => {
    const fresh = await env.get('/api/fresh');
    const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(fresh.echo!.headers.traceparent ?? '');
    expect(m).not.toBeNull();
    const unsampledTrace = 'ffffffffffffffffffffffffffffffff'.replace(/^f/, 'e');
    const un = await env.get('/api/flags00', { traceparent: `00-${unsampledTrace}-1111111111111111-00` });
    expect(un.echo!.headers.traceparent).toMatch(new RegExp(`^00-${unsampledTrace}-[0-9a-f]{16}-00$`));
    const down = await sendRequest(env.port, { host: 'api.example.com', path: '/down', headers: { traceparent: '00-abababababababababababababababab-1212121212121212-01' } });
    expect(down.status).toBe(503);
    const [root] = await env.collector.waitFor(1, (s) => s.traceId === m![1]);
    expect(root).toMatchObject({ spanId: m![2], parentId: '' });
    const [err] = await env.collector.waitFor(1, (s) => s.traceId === 'abababababababababababababababab');
    expect(err!.error).toBe(true);
    expect(env.collector.spans.filter((s) => s.traceId === unsampledTrace)).toEqual([]);
  });

  it('a reload to 0 % sampling and disableSpanReporting keeps propagating but reports nothing', async () => {
    writeFileSync(join(env.dir, 'config.yaml'), docs(gatewayYaml(['*']), serviceEntryYaml('echo', env.echo.port), serviceEntryYaml('dead', 1), routes(),
      tracingTelemetry('otel').replace('randomSamplingPercentage: 100', 'randomSamplingPercentage: 0')));
    // Wait until the new config serves (a fresh request is no longer sampled).
    const deadline = Date.now() + 10_000;
    for (;;) {
      const r = await env.get('/api/reload');
      if (/-00$/.test(r.echo!.headers.traceparent ?? '')) break;
      if (Date.now() > deadline) throw new Error('reload did not apply');
      await new Promise((res) => setTimeout(res, 100));
    }
    // An incoming sampled decision still wins over 0 %.
    const forced = await env.get('/api/forced', { traceparent: '00-cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd-3434343434343434-01' });
    expect(forced.echo!.headers.traceparent).toMatch(/-01$/);
    await env.collector.waitFor(1, (s) => s.traceId === 'cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd');

    writeFileSync(join(env.dir, 'config.yaml'), docs(gatewayYaml(['*']), serviceEntryYaml('echo', env.echo.port), serviceEntryYaml('dead', 1), routes(),
      tracingTelemetry('otel', '\n    disableSpanReporting: true')));
    const deadline2 = Date.now() + 10_000;
    let last = '';
    for (;;) {
      const r = await env.get('/api/quiet');
      last = r.echo!.headers.traceparent ?? '';
      if (/-01$/.test(last)) break;
      if (Date.now() > deadline2) throw new Error('reload did not apply');
      await new Promise((res) => setTimeout(res, 100));
    }
    // Sampled and propagated, but not reported: send a marker through a fresh collector check.
    const quietTrace = /^00-([0-9a-f]{32})-/.exec(last)![1]!;
    writeFileSync(join(env.dir, 'config.yaml'), docs(gatewayYaml(['*']), serviceEntryYaml('echo', env.echo.port), serviceEntryYaml('dead', 1), routes(), tracingTelemetry('otel')));
    const deadline3 = Date.now() + 10_000;
    for (;;) {
      await env.get('/api/marker', { traceparent: '00-12121212121212121212121212121212-5656565656565656-01' });
      const hit = env.collector.spans.some((s) => s.traceId === '12121212121212121212121212121212');
      if (hit) break;
      if (Date.now() > deadline3) throw new Error('spans not reported after re-enabling');
      await new Promise((res) => setTimeout(res, 200));
    }
    expect(env.collector.spans.filter((s) => s.traceId === quietTrace)).toEqual([]);
  });
});

describe('tracing: shutdown', () => {
  it('spans still queued when SIGTERM arrives are sent during the drain', async () => {
    const env = await startEnv('zipkin');
    try {
      const { echo } = await env.get('/api/last');
      const traceId = echo!.headers['x-b3-traceid'];
      await env.sluice.stop();
      // The process has exited: the span reached the collector before it did.
      expect(env.collector.spans.map((s) => s.traceId)).toContain(traceId);
    } finally {
      await env.echo.close();
      await env.collector.close();
    }
  });
});
