import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRequest } from '../conformance/runner.js';
import { startEchoBackend, type EchoBackend, type EchoReply } from '../support/echo-backend.js';
import { startSluice, type SluiceProcess } from '../support/sluice-process.js';
import { docs, destinationRuleYaml, gatewayYaml, serviceEntryYaml, virtualServiceYaml } from '../support/yaml.js';

// DestinationRule traffic policies seen from the outside: pool limits (503 UO), outlier
// ejection, consistent hashing and round robin, against real backends.

const who = (body: string): string => (JSON.parse(body) as EchoReply).backend;

describe('DestinationRule traffic policies', () => {
  const backends: EchoBackend[] = [];
  let sluice: SluiceProcess;
  let port: number;
  let b: Record<string, EchoBackend>;

  beforeAll(async () => {
    for (const n of ['slow', 'ok1', 'ok2', 'good', 'rr1', 'rr2', 'rr3', 'busy', 'failing']) backends.push(await startEchoBackend(n));
    b = Object.fromEntries(backends.map((x) => [x.name, x]));
    const dir = mkdtempSync(join(tmpdir(), 'sluice-dr-'));
    writeFileSync(join(dir, 'config.yaml'), docs(
      gatewayYaml(['dr.test']),
      virtualServiceYaml('routes', ['dr.test'], `  - match: [{uri: {prefix: /pool}}]
    retries: {attempts: 0}
    route: [{destination: {host: limited}}]
  - match: [{uri: {prefix: /outlier}}]
    retries: {attempts: 0}
    route: [{destination: {host: flaky}}]
  - match: [{uri: {prefix: /hash}}]
    route: [{destination: {host: hashed}}]
  - match: [{uri: {prefix: /requests}}]
    retries: {attempts: 0}
    route: [{destination: {host: busy}}]
  - match: [{uri: {prefix: /retried}}]
    retries: {attempts: 2, retryOn: 5xx}
    route: [{destination: {host: failing}}]
  - route: [{destination: {host: rr}}]`),
      serviceEntryYaml('limited', [b.slow!.port]),
      destinationRuleYaml('limited', `    connectionPool:
      tcp: {maxConnections: 1}
      http: {http1MaxPendingRequests: 1}`),
      serviceEntryYaml('flaky', [1, b.good!.port]), // port 1: a dead host, connections refused
      destinationRuleYaml('flaky', `    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection: {consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 100}`),
      serviceEntryYaml('hashed', [b.ok1!.port, b.ok2!.port]),
      destinationRuleYaml('hashed', `    loadBalancer: {consistentHash: {httpHeaderName: x-user}}`),
      serviceEntryYaml('busy', [b.busy!.port]),
      destinationRuleYaml('busy', `    connectionPool:
      http: {http2MaxRequests: 1}`),
      serviceEntryYaml('failing', [b.failing!.port]),
      destinationRuleYaml('failing', `    connectionPool:
      http: {maxRetries: 0}`),
      serviceEntryYaml('rr', [b.rr1!.port, b.rr2!.port, b.rr3!.port]),
      destinationRuleYaml('rr', `    loadBalancer: {simple: ROUND_ROBIN}`),
    ));
    // One worker: round robin and the pool's one connection are per worker, as in Envoy.
    sluice = await startSluice({ config: [dir], ports: [80], args: ['--concurrency', '1'] });
    port = sluice.port(80);
  });
  afterAll(async () => {
    await sluice?.stop();
    for (const x of backends) await x.close();
  });

  it('overflows the pool: one connection, one pending request, the rest get 503 UO', async () => {
    // Warm the pool so its one connection is idle and ready (a request waiting for a new
    // connection to open counts as pending, as in Envoy).
    expect((await sendRequest(port, { host: 'dr.test', path: '/pool' })).status).toBe(200);
    const results = await Promise.all(Array.from({ length: 5 }, () => sendRequest(port, { host: 'dr.test', path: '/pool/delay/400' })));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200).length).toBe(2);
    expect(statuses.filter((s) => s === 503).length).toBe(3);
    expect(results.find((r) => r.status === 503)!.body).toBe('upstream connect error or disconnect/reset before headers. reset reason: overflow');
    await sluice.waitFor(/503 UO upstream_reset_before_response_started\{overflow\}/, 'stdout');
    const stats = await (await sluice.admin('/stats')).text();
    expect(stats).toMatch(/cluster\.outbound\|80\|\|limited\.default\.svc\.cluster\.local\.upstream_rq_pending_overflow: 3/);
  });

  it('http2MaxRequests caps active HTTP/1.1 requests too (Istio: "applicable to both HTTP/1.1 and HTTP2")', async () => {
    const results = await Promise.all(Array.from({ length: 3 }, () => sendRequest(port, { host: 'dr.test', path: '/requests/delay/400' })));
    expect(results.map((r) => r.status).sort()).toEqual([200, 503, 503]);
    expect(results.find((r) => r.status === 503)!.body).toBe('upstream connect error or disconnect/reset before headers. reset reason: overflow');
    expect((await sendRequest(port, { host: 'dr.test', path: '/requests' })).status).toBe(200);
  });

  it('maxRetries: 0 lets no retry start: the upstream 503 goes out as it is, flagged UO', async () => {
    const seen = b.failing!.seen.length;
    const r = await sendRequest(port, { host: 'dr.test', path: '/retried/status/503' });
    expect(r.status).toBe(503);
    expect(b.failing!.seen.length - seen).toBe(1);
    await sluice.waitFor(/"GET \/retried\/status\/503 HTTP\/1\.1" 503 UO via_upstream/, 'stdout');
    const stats = await (await sluice.admin('/stats')).text();
    expect(stats).toMatch(/failing\.default\.svc\.cluster\.local\.upstream_rq_retry_overflow: 1\n/);
    expect(stats).toMatch(/failing\.default\.svc\.cluster\.local\.upstream_rq_retry: 0\n/);
  });

  it('ejects a dead host after consecutive failures; traffic then goes to the healthy host', async () => {
    // Round robin alternates the dead host (503 UF) and the good one until the dead one is ejected.
    const first: number[] = [];
    for (let i = 0; i < 6; i++) first.push((await sendRequest(port, { host: 'dr.test', path: '/outlier' })).status);
    expect(first.filter((s) => s === 503).length).toBe(2);
    const after: number[] = [];
    for (let i = 0; i < 10; i++) after.push((await sendRequest(port, { host: 'dr.test', path: '/outlier' })).status);
    expect(after).toEqual(Array(10).fill(200));
    const clusters = await (await sluice.admin('/clusters')).text();
    expect(clusters).toMatch(/outbound\|80\|\|flaky\.default\.svc\.cluster\.local::127\.0\.0\.1:1::health_flags::\/failed_outlier_check/);
    const stats = await (await sluice.admin('/stats')).text();
    expect(stats).toMatch(/flaky\.default\.svc\.cluster\.local\.outlier_detection_ejections_enforced_total: 1/);
  });

  it('consistent hashing on a header keeps a user on one backend', async () => {
    for (const user of ['alice', 'bob', 'carol']) {
      const got = new Set<string>();
      for (let i = 0; i < 8; i++) got.add(who((await sendRequest(port, { host: 'dr.test', path: '/hash', headers: { 'x-user': user } })).body));
      expect(got.size).toBe(1);
    }
  });

  it('round robin spreads requests evenly', async () => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < 30; i++) {
      const w = who((await sendRequest(port, { host: 'dr.test', path: '/rr' })).body);
      counts[w] = (counts[w] ?? 0) + 1;
    }
    expect(counts).toEqual({ rr1: 10, rr2: 10, rr3: 10 });
  });
});
