import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRequest, startCase, type CaseEnvironment } from '../conformance/runner.js';

const dir = fileURLToPath(new URL('../conformance/seed-advanced-routing', import.meta.url));

describe('admin API', () => {
  let env: CaseEnvironment;
  beforeAll(async () => {
    env = await startCase(dir);
    const port = env.sluice.port(80);
    for (let i = 0; i < 3; i++) await sendRequest(port, { host: 'example.com', path: '/health' });
    await sendRequest(port, { host: 'nowhere.test', path: '/' });
  });
  afterAll(async () => { await env?.close(); });

  it('exports istio_requests_total with the standard Istio labels', async () => {
    const text = await (await env.sluice.admin('/stats/prometheus')).text();
    const health = text.split('\n').find((l) => l.startsWith('istio_requests_total{') && l.includes('destination_service="health-service.default.svc.cluster.local"'));
    expect(health).toBeDefined();
    expect(health).toMatch(/reporter="source"/);
    expect(health).toMatch(/source_workload="istio-ingressgateway"/);
    expect(health).toMatch(/source_workload_namespace="istio-system"/);
    expect(health).toMatch(/destination_service_name="health-service"/);
    expect(health).toMatch(/destination_service_namespace="default"/);
    expect(health).toMatch(/response_code="200"/);
    expect(health).toMatch(/response_flags="-"/);
    expect(health).toMatch(/request_protocol="http"/);
    expect(health).toMatch(/ 3$/);
    const nr = text.split('\n').find((l) => l.startsWith('istio_requests_total{') && l.includes('response_flags="NR"'));
    expect(nr).toMatch(/response_code="404"/);
    const bucket = text.split('\n').find((l) => l.startsWith('istio_request_duration_milliseconds_bucket{') && l.includes('le="+Inf"') && l.includes('health-service.default'));
    expect(bucket).toMatch(/ 3$/);
    expect(text).toMatch(/envoy_cluster_upstream_rq_total\{cluster_name="outbound\|8080\|\|health-service\.default\.svc\.cluster\.local"\} 3/);
  });

  it('dumps the compiled snapshot with Istio names', async () => {
    const dump = (await (await env.sluice.admin('/config_dump')).json()) as {
      listeners: { name: string; filterChains: { routeConfigName: string }[] }[];
      routeConfigs: Record<string, { virtualHosts: { name: string; routes: { match: { conditions: string[] }; source: { resource: string; line: number } }[] }[] }>;
      clusters: Record<string, { endpoints: { address: string }[] }>;
    };
    expect(dump.listeners[0]!.filterChains[0]!.routeConfigName).toBe('http.80');
    const vh = dump.routeConfigs['http.80']!.virtualHosts[0]!;
    expect(vh.name).toBe('example.com:80');
    expect(vh.routes[0]!.match.conditions).toEqual(['path exact "/health"']);
    expect(vh.routes[0]!.source.resource).toBe('VirtualService default/advanced-routing');
    expect(Object.keys(dump.clusters)).toContain('outbound|8080||health-service.default.svc.cluster.local');
  });

  it('reports readiness, serving version, clusters and listeners', async () => {
    expect((await env.sluice.admin('/ready')).status).toBe(200);
    const status = (await (await env.sluice.admin('/config_status')).json()) as { version: number; heldBack: string[] };
    expect(status.version).toBe(1);
    expect(status.heldBack).toEqual([]);
    const clusters = await (await env.sluice.admin('/clusters')).text();
    expect(clusters).toMatch(/outbound\|8080\|\|health-service\.default\.svc\.cluster\.local::127\.0\.0\.1:\d+::health_flags::healthy/);
    const listeners = (await (await env.sluice.admin('/listeners')).json()) as { port: number; bindPort: number }[];
    expect(listeners[0]!.port).toBe(80);
    expect(listeners[0]!.bindPort).toBe(env.sluice.port(80));
  });
});
