import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRequest } from '../conformance/runner.js';
import { startEchoBackend, type EchoBackend } from '../support/echo-backend.js';
import { startSluice, type SluiceProcess } from '../support/sluice-process.js';
import { configFile, docs, destinationRuleYaml, gatewayYaml, serviceEntryYaml, virtualServiceYaml } from '../support/yaml.js';

// `--concurrency 2`: circuit breakers and outlier detection hold for the gateway, not per
// worker, as Envoy's hold for all its worker threads. Each request below opens its own
// connection, and the primary hands connections to the two workers in turn.

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('--concurrency 2: circuit breakers and outlier detection for the whole gateway', () => {
  let slow: EchoBackend;
  let good: EchoBackend;
  let sluice: SluiceProcess;
  let port: number;

  beforeAll(async () => {
    slow = await startEchoBackend('slow');
    good = await startEchoBackend('good');
    sluice = await startSluice({
      config: [configFile(docs(
        gatewayYaml(['cb.test']),
        virtualServiceYaml('routes', ['cb.test'], `  - match: [{uri: {prefix: /limited}}]
    retries: {attempts: 0}
    route: [{destination: {host: limited}}]
  - match: [{uri: {prefix: /flaky}}]
    retries: {attempts: 0}
    route: [{destination: {host: flaky}}]
  - match: [{uri: {prefix: /retried}}]
    retries: {attempts: 2, retryOn: connect-failure}
    route: [{destination: {host: retried}}]`),
        serviceEntryYaml('limited', [slow.port]),
        destinationRuleYaml('limited', `    connectionPool:
      http: {http2MaxRequests: 2}`),
        serviceEntryYaml('flaky', [1, good.port]), // port 1: a dead host, connections refused
        destinationRuleYaml('flaky', `    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection: {consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 100}`),
        serviceEntryYaml('retried', [1, good.port]),
        destinationRuleYaml('retried', `    loadBalancer: {simple: ROUND_ROBIN}
    connectionPool:
      http: {maxRetries: 4}`),
      ))],
      ports: [80],
      args: ['--concurrency', '2', '--drain-timeout', '1'],
    });
    port = sluice.port(80);
  });
  afterAll(async () => {
    await sluice?.stop();
    await slow?.close();
    await good?.close();
  });

  it('http2MaxRequests: 2 admits two requests in all, not two per worker', async () => {
    const results = await Promise.all(Array.from({ length: 6 }, () => sendRequest(port, { host: 'cb.test', path: '/limited/delay/600' })));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(2);
    expect(statuses.filter((s) => s === 503)).toHaveLength(4);
    expect(results.find((r) => r.status === 503)!.body).toBe('upstream connect error or disconnect/reset before headers. reset reason: overflow');
    const stats = await (await sluice.admin('/stats')).text();
    expect(stats).toMatch(/limited\.default\.svc\.cluster\.local\.upstream_rq_pending_overflow: 4\n/);
    // Once they finished, the slots are free again for either worker.
    const again = await Promise.all(Array.from({ length: 2 }, () => sendRequest(port, { host: 'cb.test', path: '/limited' })));
    expect(again.map((r) => r.status)).toEqual([200, 200]);
  });

  it('ejects a dead host after two consecutive failures counted over both workers', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 16; i++) {
      statuses.push((await sendRequest(port, { host: 'cb.test', path: '/flaky' })).status);
      await sleep(20);
    }
    // Counted per worker, each worker would need two failures of its own (four in all).
    expect(statuses.filter((s) => s === 503)).toHaveLength(2);
    expect(statuses.slice(-8)).toEqual(Array(8).fill(200));
    const clusters = await (await sluice.admin('/clusters')).text();
    expect(clusters).toMatch(/outbound\|80\|\|flaky\.default\.svc\.cluster\.local::127\.0\.0\.1:1::health_flags::\/failed_outlier_check/);
    const stats = await (await sluice.admin('/stats')).text();
    expect(stats).toMatch(/flaky\.default\.svc\.cluster\.local\.outlier_detection_ejections_enforced_total: 1\n/);
  });

  it('maxRetries: 4 leaves every worker a retry at hand: a connect failure is retried on the good host', async () => {
    for (let i = 0; i < 8; i++) expect((await sendRequest(port, { host: 'cb.test', path: '/retried' })).status).toBe(200);
    const stats = await (await sluice.admin('/stats')).text();
    expect(stats).toMatch(/retried\.default\.svc\.cluster\.local\.upstream_rq_retry_overflow: 0\n/);
  });
});
