// Trace and the data plane agree: for a seeded stream of varied requests, what the running
// gateway's /debug/trace predicts (backend, local reply status, upstream path) is what a real
// request through the same gateway gets from real echo backends.

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Trace } from '../../src/trace/types.js';
import { sendRequest, startCase, type CaseEnvironment } from '../conformance/runner.js';
import type { EchoReply } from '../support/echo-backend.js';

const CASE = join(import.meta.dirname, '../conformance/seed-advanced-routing');

/** mulberry32: a small seeded PRNG, so a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a |= 0; a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PATHS = ['/health', '/health?x=1', '/health/ready', '/api/v2/orders?id=3', '/api/v2', '/api/v1/x', '/users/12/profile', '/users/ab/profile', '/users/1/profile/x', '/', '/anything'];
const HOSTS = ['example.com', 'example.com:80', 'EXAMPLE.com', 'other.example.com'];
const CANARY = [undefined, 'true', 'True', 'false'];

describe('trace agrees with the data plane', () => {
  let env: CaseEnvironment;
  beforeAll(async () => { env = await startCase(CASE); });
  afterAll(async () => { await env?.close(); });

  async function trace(host: string, path: string, headers: Record<string, string>, draw: number): Promise<Trace> {
    const q = new URLSearchParams({ method: 'GET', url: `http://${host.split(':')[0]}${path}`, format: 'json', draw: String(draw) });
    q.append('header', `host:${host}`);
    for (const [k, v] of Object.entries(headers)) q.append('header', `${k}:${v}`);
    const res = await env.sluice.admin(`/debug/trace?${q}`);
    expect(res.status).toBe(200);
    return (await res.json()) as Trace;
  }

  function backendAt(endpoint: string | null): string | undefined {
    const port = Number(endpoint?.split(':').pop());
    return [...env.backends].find(([, b]) => b.port === port)?.[0];
  }

  it('on 60 seeded requests: same backend (or one of a split\'s), same status, same upstream path', async () => {
    const rnd = prng(6);
    for (let i = 0; i < 60; i++) {
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
      const host = pick(HOSTS);
      const path = pick(PATHS);
      const canary = pick(CANARY);
      const headers: Record<string, string> = canary === undefined ? {} : { 'x-canary': canary };
      const label = `#${i} GET ${host}${path} ${JSON.stringify(headers)}`;
      const t = await trace(host, path, headers, 0);
      const real = await sendRequest(env.sluice.port(80), { host, path, headers });
      if (t.outcome.kind !== 'upstream') {
        expect(real.status, label).toBe(t.outcome.status);
        continue;
      }
      expect(real.status, label).toBe(200);
      const echo = JSON.parse(real.body) as EchoReply;
      // A split: every destination the route can pick, each traced at a draw inside its share.
      const possible = new Set<string | undefined>();
      const dests = t.upstream!.destinations;
      const total = dests.reduce((a, d) => a + d.weight, 0);
      let start = 0;
      for (const d of dests) {
        if (d.weight > 0) possible.add(backendAt((await trace(host, path, headers, start / total)).upstream!.endpoint));
        start += d.weight;
      }
      expect([...possible], label).toContain(echo.backend);
      expect(echo.path, label).toBe(t.upstream!.path);
    }
  });
});
