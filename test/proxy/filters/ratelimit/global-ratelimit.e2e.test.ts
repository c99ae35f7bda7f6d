// Global rate limiting (Envoy's ratelimit filter + the ratelimit service model) end to end:
// two `sluice run` replicas share counters in a real redis-server; when Redis goes away the
// fail-open replica lets requests through and the fail-closed one answers 500 (RLSE).

import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRequest } from '../../../conformance/runner.js';
import { startEchoBackend, type EchoBackend } from '../../../support/echo-backend.js';
import { startRedis, type RedisServer } from '../../../support/redis.js';
import { runSluice, startSluice, type SluiceProcess } from '../../../support/sluice-process.js';
import { configFile, echoRouteYaml, globalRateLimitYaml } from '../../../support/yaml.js';

// A domain per run: counters of earlier runs in the same Redis never interfere.
const DOMAIN = `sluice-test-${randomBytes(4).toString('hex')}`;

function config(backend: number, failureModeDeny: boolean): string {
  return `
${echoRouteYaml(backend)}---
${globalRateLimitYaml(DOMAIN, failureModeDeny, [
    '[{request_headers: {header_name: ":path", descriptor_key: "PATH"}}]',
    '[{header_value_match: {descriptor_value: vip, headers: [{name: x-tier, string_match: {exact: gold}}]}}]',
  ])}`;
}

const RL_CONFIG = `
apiVersion: v1
kind: ConfigMap
metadata: {name: ratelimit-config}
data:
  config.yaml: |
    domain: ${DOMAIN}
    descriptors:
      - key: PATH
        value: "/limited"
        rate_limit: {unit: year, requests_per_unit: 3}
      - key: PATH
        value: "/free*"
        rate_limit: {unlimited: true}
      - key: PATH
        rate_limit: {unit: year, requests_per_unit: 1000}
      - key: header_match
        value: vip
        rate_limit: {unit: year, requests_per_unit: 1}
`;

let echo: EchoBackend;
let redis: RedisServer;
let open: SluiceProcess;
let closed: SluiceProcess;
let dir: string;

beforeAll(async () => {
  echo = await startEchoBackend('echo');
  redis = await startRedis();
  dir = mkdtempSync(join(tmpdir(), 'sluice-grl-'));
  writeFileSync(join(dir, 'open.yaml'), config(echo.port, false));
  writeFileSync(join(dir, 'closed.yaml'), config(echo.port, true));
  writeFileSync(join(dir, 'ratelimit.yaml'), RL_CONFIG);
  const args = ['--ratelimit-config', join(dir, 'ratelimit.yaml'), '--ratelimit-redis', redis.url];
  open = await startSluice({ config: [join(dir, 'open.yaml')], ports: [80], args });
  closed = await startSluice({ config: [join(dir, 'closed.yaml')], ports: [80], args });
  await open.waitFor(/ratelimit: redis .*connected/);
  await closed.waitFor(/ratelimit: redis .*connected/);
});

afterAll(async () => {
  await open?.stop();
  await closed?.stop();
  await redis?.stop();
  await echo?.close();
});

const get = (s: SluiceProcess, path: string, headers: Record<string, string> = {}) => sendRequest(s.port(80), { host: 'api.example.com', path, headers });

describe('global rate limit backed by Redis', () => {
  it('two replicas share one counter: 3 requests per unit for /limited across both', async () => {
    expect((await get(open, '/limited')).status).toBe(200);
    expect((await get(closed, '/limited')).status).toBe(200);
    const third = await get(open, '/limited');
    expect(third.status).toBe(200);
    expect(third.headers['x-ratelimit-limit']).toBe('3');
    expect(third.headers['x-ratelimit-remaining']).toBe('0');
    const fourth = await get(closed, '/limited');
    expect(fourth.status).toBe(429);
    expect(fourth.headers['x-envoy-ratelimited']).toBe('true');
    await closed.waitFor(/"GET \/limited HTTP\/1.1" 429 RL request_rate_limited/, 'stdout');
    expect((await get(open, '/limited')).status).toBe(429);
  });

  it('a running gateway\'s trace reads the shared counter from Redis (nothing counted) and predicts the 429', async () => {
    const trace = async (path: string): Promise<{ outcome: { status: number | null; responseFlags: string }; filters: { name: string; verdict: string; summary: string }[]; steps: { text: string; detail?: string[] }[] }> => {
      const r = await closed.admin(`/debug/trace?format=json&url=${encodeURIComponent(`http://api.example.com${path}`)}`);
      expect(r.status).toBe(200);
      return r.json() as never;
    };
    // /limited is over its limit (the case above): the trace says so from Redis's count.
    const limited = await trace('/limited');
    expect(limited.outcome).toMatchObject({ status: 429, responseFlags: 'RL' });
    const detail = limited.steps.flatMap((st) => st.detail ?? []).join('\n');
    expect(detail).toMatch(/PATH=\/limited.*: [45] of 3 per YEAR used \(read from redis/i);
    // /other was never requested: 0 used, allowed; and tracing did not count it.
    const other = await trace('/other-path');
    expect(other.steps.flatMap((st) => st.detail ?? []).join('\n')).toMatch(/0 of 1000 per YEAR used \(read from redis/i);
    const again = await trace('/other-path');
    expect(again.steps.flatMap((st) => st.detail ?? []).join('\n')).toMatch(/0 of 1000 per YEAR used/i);
  });

  it('other paths use their own descriptor; unlimited ones are never counted', async () => {
    expect((await get(open, '/other')).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await get(closed, '/free/x')).status).toBe(200);
  });

  it('header_value_match descriptors: gold-tier requests have their own limit', async () => {
    expect((await get(open, '/vip', { 'x-tier': 'gold' })).status).toBe(200);
    expect((await get(closed, '/vip', { 'x-tier': 'gold' })).status).toBe(429);
    expect((await get(closed, '/vip', { 'x-tier': 'silver' })).status).toBe(200);
  });

  it('Redis down: failure_mode_deny false lets requests through, true answers 500 RLSE', async () => {
    await redis.stop();
    const a = await get(open, '/during-outage');
    expect(a.status).toBe(200);
    await open.waitFor(/ratelimit: domain sluice-test-\w+: .*request allowed \(failure_mode_deny is false\)/);
    const b = await get(closed, '/during-outage');
    expect(b.status).toBe(500);
    await closed.waitFor(/"GET \/during-outage HTTP\/1.1" 500 RLSE rate_limiter_error/, 'stdout');
  });

  it('Redis back: checks succeed again (the client reconnects)', async () => {
    await redis.start();
    const deadline = Date.now() + 15_000;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await get(closed, '/after-outage')).status;
      if (status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(200);
  });
});

describe('rate limit service configuration', () => {
  it('an invalid --ratelimit-config stops start-up with the file and field', async () => {
    writeFileSync(join(dir, 'bad.yaml'), 'domain: x\ndescriptors:\n  - key: PATH\n    rate_limit: {unit: fortnight, requests_per_unit: 1}\n');
    const r = await runSluice(['run', '-c', join(dir, 'open.yaml'), '--ratelimit-config', join(dir, 'bad.yaml'), '--admin-port', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('bad.yaml: descriptors[0].rate_limit.unit: "fortnight" is not second, minute, hour, day, week, month or year');
  });
});
