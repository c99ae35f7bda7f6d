import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRequest } from '../conformance/runner.js';
import { startEchoBackend, type EchoBackend } from '../support/echo-backend.js';
import { startSluice, type SluiceProcess } from '../support/sluice-process.js';
import { docs, echoVirtualServiceYaml, gatewayYaml, serviceEntryYaml } from '../support/yaml.js';

// Metric overrides end to end: what /stats/prometheus of the real `sluice run` exposes when a
// Telemetry disables metrics and reshapes their labels with CEL values.

const VS = echoVirtualServiceYaml('edge');

const METRICS = `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  metrics:
  - providers: [{name: prometheus}]
    overrides:
    - match: {metric: REQUEST_DURATION}
      disabled: true
    - match: {metric: REQUEST_SIZE}
      tagOverrides:
        request_host: {value: request.host}
        user: {value: "request.headers['x-user']"}
        destination_port: {value: string(destination.port)}
        destination_principal: {operation: REMOVE}`;

interface Sample { labels: Record<string, string>; value: number }

/** The samples of one metric name in Prometheus text. */
function samples(text: string, name: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const close = line.lastIndexOf('}');
    const labels: Record<string, string> = {};
    for (const m of line.slice(name.length + 1, close).matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]!] = m[2]!;
    out.push({ labels, value: Number(line.slice(close + 1).trim()) });
  }
  return out;
}

describe('metric overrides', () => {
  let echo: EchoBackend;
  let sluice: SluiceProcess;
  let dir: string;
  const scrape = async () => (await sluice.admin('/stats/prometheus')).text();

  beforeAll(async () => {
    echo = await startEchoBackend('echo');
    dir = mkdtempSync(join(tmpdir(), 'sluice-metrics-'));
    writeFileSync(join(dir, 'config.yaml'), docs(gatewayYaml(['*']), serviceEntryYaml('echo', echo.port), VS, METRICS));
    sluice = await startSluice({ config: [join(dir, 'config.yaml')], ports: [80] });
    const port = sluice.port(80);
    await sendRequest(port, { host: 'api.example.com', path: '/a', headers: { 'x-user': 'bob' } });
    await sendRequest(port, { host: 'api.example.com', path: '/b', headers: { 'x-user': 'bob' } });
    await sendRequest(port, { host: 'www.example.com', path: '/c' });
  });
  afterAll(async () => {
    await sluice?.stop();
    await echo?.close();
  });

  it('a disabled metric has no series', async () => {
    const text = await scrape();
    expect(text).toContain('# TYPE istio_request_duration_milliseconds histogram');
    expect(samples(text, 'istio_request_duration_milliseconds_count')).toEqual([]);
  });

  it('UPSERT adds dimensions from CEL values (a header that is absent is "unknown"); REMOVE drops a label', async () => {
    const counts = samples(await scrape(), 'istio_request_bytes_count');
    const byUser = Object.fromEntries(counts.map((s) => [`${s.labels.request_host} ${s.labels.user}`, s.value]));
    expect(byUser).toEqual({ 'api.example.com bob': 2, 'www.example.com unknown': 1 });
    for (const s of counts) {
      expect(s.labels.destination_principal).toBeUndefined();
      expect(s.labels.destination_port).toBe(String(sluice.port(80)));
      expect(s.labels).toMatchObject({ reporter: 'source', destination_service: 'echo.default.svc.cluster.local', response_code: '200' });
    }
    const buckets = samples(await scrape(), 'istio_request_bytes_bucket').filter((s) => s.labels.user === 'bob');
    expect(buckets.find((s) => s.labels.le === '+Inf')!.value).toBe(2);
  });

  it('metrics without an override keep Istio\'s labels', async () => {
    const text = await scrape();
    const total = samples(text, 'istio_requests_total');
    expect(total.map((s) => s.value)).toEqual([3]);
    expect(total[0]!.labels).toMatchObject({ destination_principal: 'unknown', response_code: '200' });
    expect(total[0]!.labels.user).toBeUndefined();
    expect(samples(text, 'istio_response_bytes_count').map((s) => s.value)).toEqual([3]);
  });

  it('a reload that disables ALL_METRICS stops counting; the series already exported stay', async () => {
    // Last in the list: a later override would switch the metrics back on (as in Istio).
    writeFileSync(join(dir, 'config.yaml'), docs(gatewayYaml(['*']), serviceEntryYaml('echo', echo.port), VS, `${METRICS}\n    - disabled: true`));
    const deadline = Date.now() + 10_000;
    for (;;) {
      const dump = (await (await sluice.admin('/config_dump')).json()) as { telemetry?: { client: { metrics: { disabled: boolean } | null } } };
      if (dump.telemetry?.client.metrics?.disabled === true) break;
      if (Date.now() > deadline) throw new Error('reload not applied');
      await new Promise((r) => setTimeout(r, 100));
    }
    await sendRequest(sluice.port(80), { host: 'api.example.com', path: '/after', headers: { 'x-user': 'bob' } });
    const text = await scrape();
    expect(samples(text, 'istio_requests_total').map((s) => s.value)).toEqual([3]);
    expect(samples(text, 'istio_request_bytes_count').find((s) => s.labels.user === 'bob')!.value).toBe(2);
  });
});
