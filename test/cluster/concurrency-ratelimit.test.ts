import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRequest } from '../conformance/runner.js';
import { startEchoBackend, type EchoBackend } from '../support/echo-backend.js';
import { startSluice, type SluiceProcess } from '../support/sluice-process.js';
import { configFile, docs, gatewayYaml, localRateLimitEnvoyFilterYaml, serviceEntryYaml, virtualServiceYaml } from '../support/yaml.js';

// With --concurrency 2 a local rate limit is still one bucket for the whole gateway (Envoy
// shares it across worker threads): 10 tokens a minute means 10 answers, whichever worker
// takes each connection.

const config = (port: number): string => docs(
  gatewayYaml(['*']),
  virtualServiceYaml('vs', ['*'], '  - route: [{destination: {host: echo, port: {number: 8080}}}]'),
  serviceEntryYaml('echo', port, 8080),
  localRateLimitEnvoyFilterYaml('ten-a-minute', 'max_tokens: 10, tokens_per_fill: 10, fill_interval: 60s'),
);

describe('--concurrency 2 shares local rate limit buckets', () => {
  let echo: EchoBackend;
  let sluice: SluiceProcess;
  beforeAll(async () => {
    echo = await startEchoBackend('echo');
    sluice = await startSluice({ config: [configFile(config(echo.port))], ports: [80], args: ['--concurrency', '2', '--drain-timeout', '1'] });
  });
  afterAll(async () => { await sluice?.stop(); await echo?.close(); });

  it('10 tokens a minute: 10 of 20 requests pass, over both workers', async () => {
    const statuses: number[] = [];
    // A new connection per request: the primary hands connections to the workers in turn.
    for (let i = 0; i < 20; i++) statuses.push((await sendRequest(sluice.port(80), { host: 'a.test', path: `/r${i}` })).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(10);
    expect(statuses.slice(0, 10).every((s) => s === 200)).toBe(true);
    const workers = ((await (await sluice.admin('/config_status')).json()) as { workers: unknown[] }).workers;
    expect(workers).toHaveLength(2);
    // Both workers served: each counted some of the 200s.
    const text = await (await sluice.admin('/stats/prometheus')).text();
    expect(text).toMatch(/istio_requests_total\{[^}]*response_code="200"[^}]*\} 10/);
    expect(text).toMatch(/istio_requests_total\{[^}]*response_code="429"[^}]*\} 10/);
  });
});
