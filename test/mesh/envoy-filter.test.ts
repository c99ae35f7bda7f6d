import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEchoBackend, type EchoBackend } from '../support/echo-backend.js';
import { freePort } from '../support/ports.js';
import { runSluice, startSluice, type SluiceProcess } from '../support/sluice-process.js';
import { docs, serviceEntryYaml } from '../support/yaml.js';
import { curlViaProxy } from './support/app-client.js';

// EnvoyFilter local rate limits on a real `sluice run --mode sidecar` (httpbin's sidecar):
// context SIDECAR_INBOUND limits requests arriving at its inbound port for the application,
// SIDECAR_OUTBOUND with listener.portNumber limits what the application calls on that
// destination port through the explicit proxy, and a GATEWAY-context filter selecting the same
// workload leaves the sidecar alone. Each bucket refills once a minute: the test never waits
// for a refill, so it does not depend on timing.

const FORMAT = 'efaudit local=%DOWNSTREAM_LOCAL_ADDRESS% method=%REQ(:METHOD)% authority=%REQ(:AUTHORITY)% path=%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% code=%RESPONSE_CODE% flags=%RESPONSE_FLAGS% details=%RESPONSE_CODE_DETAILS%';

function localRateLimit(name: string, context: string, tokens: number, header: string, listener = ''): string {
  return `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: ${name}, namespace: default}
spec:
  workloadSelector:
    labels: {app: httpbin}
  configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: ${context}
      listener:
${listener}        filterChain:
          filter:
            name: envoy.filters.network.http_connection_manager
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.local_ratelimit
        typed_config:
          "@type": type.googleapis.com/udpa.type.v1.TypedStruct
          type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
          value:
            stat_prefix: http_local_rate_limiter
            token_bucket: {max_tokens: ${tokens}, tokens_per_fill: ${tokens}, fill_interval: 60s}
            filter_enabled:
              runtime_key: local_rate_limit_enabled
              default_value: {numerator: 100, denominator: HUNDRED}
            filter_enforced:
              runtime_key: local_rate_limit_enforced
              default_value: {numerator: 100, denominator: HUNDRED}
            response_headers_to_add:
            - append_action: OVERWRITE_IF_EXISTS_OR_ADD
              header: {key: x-local-rate-limit, value: '${header}'}
`;
}

describe('EnvoyFilter on a sidecar: SIDECAR_INBOUND, SIDECAR_OUTBOUND, GATEWAY', () => {
  let dir: string;
  let app: EchoBackend;
  let reviews: EchoBackend;
  let ratings: EchoBackend;
  let sidecar: SluiceProcess;
  let inboundPort: number;
  let outboundPort: number;

  const inbound = (path: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> => new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: inboundPort, path, headers: { host: 'httpbin.default.svc.cluster.local:8000' }, agent: false }, (r) => {
      let body = '';
      r.on('data', (d: Buffer) => { body += d.toString(); });
      r.on('end', () => resolve({ status: r.statusCode ?? 0, headers: r.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-sidecar-ef-'));
    [app, reviews, ratings] = await Promise.all([startEchoBackend('httpbin'), startEchoBackend('reviews'), startEchoBackend('ratings')]);
    inboundPort = await freePort();
    outboundPort = await freePort();
    mkdirSync(join(dir, 'config'));
    writeFileSync(join(dir, 'config', 'services.yaml'), docs(serviceEntryYaml('reviews', reviews.port, 9080), serviceEntryYaml('ratings', ratings.port, 9081)));
    // The application port is the port Istio's SIDECAR_INBOUND listener.portNumber matches.
    writeFileSync(join(dir, 'config', 'inbound-limit.yaml'), localRateLimit('inbound-limit', 'SIDECAR_INBOUND', 3, 'inbound', `        portNumber: ${app.port}\n`));
    writeFileSync(join(dir, 'config', 'outbound-limit.yaml'), localRateLimit('outbound-limit', 'SIDECAR_OUTBOUND', 2, 'outbound', '        portNumber: 9080\n'));
    // Would answer 429 from the second request on either side if it reached the sidecar.
    writeFileSync(join(dir, 'config', 'gateway-limit.yaml'), localRateLimit('gateway-limit', 'GATEWAY', 1, 'gateway'));
    writeFileSync(join(dir, 'mesh.yaml'), `accessLogFormat: "${FORMAT}\\n"\n`);
    sidecar = await startSluice({ config: [join(dir, 'config')], args: ['--mode', 'sidecar', '--labels', 'app=httpbin', '--namespace', 'default', '--service-account', 'httpbin', '--outbound-port', String(outboundPort), '--inbound-port', String(inboundPort), '--app-port', String(app.port), '--mesh', join(dir, 'mesh.yaml'), '--drain-timeout', '1'] });
  });
  afterAll(async () => {
    await sidecar?.stop();
    await Promise.all([app?.close(), reviews?.close(), ratings?.close()]);
  });

  it('SIDECAR_INBOUND: three requests reach the application, the fourth gets 429 with the configured header and flag RL', async () => {
    for (let i = 1; i <= 3; i++) {
      const r = await inbound(`/get?inbound=${i}`);
      expect(r.status, `inbound request ${i}`).toBe(200);
      expect(JSON.parse(r.body)).toMatchObject({ backend: 'httpbin', path: `/get?inbound=${i}` });
      expect(r.headers['x-local-rate-limit']).toBeUndefined();
    }
    const limited = await inbound('/get?inbound=4');
    expect(limited.status).toBe(429);
    expect(limited.body).toBe('local_rate_limited');
    expect(limited.headers['x-local-rate-limit']).toBe('inbound');
    expect(app.seen.filter((s) => s.path === '/get?inbound=4')).toHaveLength(0);
    const line = await sidecar.waitFor(/^efaudit .*path=\/get\?inbound=4 /, 'stdout');
    expect(line).toContain(`local=127.0.0.1:${inboundPort} `);
    expect(line).toMatch(/code=429 flags=RL details=local_rate_limited$/);
    expect(sidecar.stdout.find((l) => l.includes('path=/get?inbound=3 '))).toMatch(/code=200 flags=-/);
  });

  it('SIDECAR_OUTBOUND portNumber 9080: the third call to reviews:9080 through the explicit proxy gets 429; ratings:9081 stays unlimited', async () => {
    for (let i = 1; i <= 2; i++) {
      const r = await curlViaProxy(outboundPort, `http://reviews.default.svc.cluster.local:9080/reviews?n=${i}`);
      expect(r.status, `outbound call ${i}`).toBe(200);
      expect(JSON.parse(r.body)).toMatchObject({ backend: 'reviews' });
    }
    const limited = await curlViaProxy(outboundPort, 'http://reviews.default.svc.cluster.local:9080/reviews?n=3', ['-D', '-']);
    expect(limited.status).toBe(429);
    expect(limited.body).toMatch(/^x-local-rate-limit: outbound\r?$/m);
    expect(reviews.seen.filter((s) => s.path === '/reviews?n=3')).toHaveLength(0);
    const line = await sidecar.waitFor(/^efaudit .*path=\/reviews\?n=3 /, 'stdout');
    expect(line).toContain(`local=127.0.0.1:${outboundPort} `);
    expect(line).toMatch(/code=429 flags=RL details=local_rate_limited$/);
    // Another destination port has its own listener in Istio: the portNumber 9080 patch is not on it.
    for (let i = 1; i <= 5; i++) {
      const r = await curlViaProxy(outboundPort, `http://ratings.default.svc.cluster.local:9081/ratings?n=${i}`, ['-D', '-']);
      expect(r.status, `ratings call ${i}`).toBe(200);
      expect(r.body).not.toMatch(/x-local-rate-limit/);
    }
  });

  it('the GATEWAY-context filter selecting this workload does nothing here: more inbound-unrelated outbound calls pass', async () => {
    // The gateway filter (1 token) would have limited the second call; the sidecar serves them all.
    for (let i = 1; i <= 3; i++) {
      const r = await curlViaProxy(outboundPort, `http://ratings.default.svc.cluster.local:9081/after-gateway-filter?n=${i}`);
      expect(r.status).toBe(200);
    }
    // And analyze says which patches apply: none is reported as "not applied" (SLU0310).
    const a = await runSluice(['analyze', '-c', join(dir, 'config'), '-o', 'json']);
    const findings = (JSON.parse(a.stdout) as { findings?: { code: string }[] } | { code: string }[]);
    const list = Array.isArray(findings) ? findings : (findings.findings ?? []);
    expect(list.filter((f) => f.code === 'SLU0310')).toEqual([]);
  });

  it('sluice trace --sidecar shows the outbound local rate limit on port 9080 (not on 9081) and the inbound one', async () => {
    const args = ['trace', '-c', join(dir, 'config'), '--sidecar', 'default/httpbin', '--labels', 'app=httpbin'];
    const on9080 = await runSluice([...args, 'GET', 'http://reviews.default.svc.cluster.local:9080/reviews']);
    expect(on9080.stdout).toMatch(/envoy\.filters\.http\.local_ratelimit@\d: http_local_rate_limiter: 2\/2 tokens/);
    expect(on9080.stdout).toContain('EnvoyFilter default/outbound-limit spec.configPatches[0]');
    const on9081 = await runSluice([...args, 'GET', 'http://ratings.default.svc.cluster.local:9081/ratings']);
    expect(on9081.code).toBe(0);
    expect(on9081.stdout).not.toMatch(/outbound-limit|gateway-limit/);
    // The inbound side: a URL on the inbound port, with the application port as `sluice run --app-port`.
    const inb = await runSluice([...args, '--app-port', String(app.port), '--inbound-port', String(inboundPort), 'GET', `http://httpbin.default:${inboundPort}/get`]);
    expect(inb.stdout).toMatch(/virtualInbound: the sidecar's inbound port/);
    expect(inb.stdout).toContain('EnvoyFilter default/inbound-limit spec.configPatches[0]');
    expect(inb.stdout).not.toContain('gateway-limit');
  });

  it('sluice trace --admin on the running sidecar: the inbound bucket is empty, so the trace answers 429 RL', async () => {
    const live = await runSluice(['trace', '--admin', `127.0.0.1:${sidecar.adminPort}`, 'GET', `http://httpbin.default:${inboundPort}/get`]);
    expect(live.code).toBe(1);
    expect(live.stdout).toMatch(/local_ratelimit@\d: http_local_rate_limiter: the default token_bucket is empty/);
    expect(live.stdout).toContain('at EnvoyFilter default/inbound-limit spec.configPatches[0]');
    expect(live.stdout).toMatch(/result: 429 RL local_rate_limited/);
    expect(live.stdout).toMatch(/x-local-rate-limit: inbound/);
  });
});
