// local_ratelimit features end to end through the real `sluice run`: per-route configs,
// shadow mode (enabled, not enforced), custom status and response headers, x-ratelimit-*
// headers, descriptors from route rate_limits, per-connection buckets, and the stats.

import { Agent } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRequest, type CaseRequest } from '../../../conformance/runner.js';
import { startEchoBackend, type EchoBackend, type EchoReply } from '../../../support/echo-backend.js';
import { startSluice, type SluiceProcess } from '../../../support/sluice-process.js';
import { configFile, gatewayYaml, serviceEntryYaml } from '../../../support/yaml.js';

const TS = 'type.googleapis.com/udpa.type.v1.TypedStruct';
const LRL = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';
const ON = 'filter_enabled: {runtime_key: e, default_value: {numerator: 100, denominator: HUNDRED}}';
const ENFORCED = 'filter_enforced: {runtime_key: f, default_value: {numerator: 100, denominator: HUNDRED}}';

function route(name: string, value: string): string {
  return `  - applyTo: HTTP_ROUTE
    match: {context: GATEWAY, routeConfiguration: {vhost: {name: "api.example.com:80", route: {name: ${name}}}}}
    patch:
      operation: MERGE
      value:
        typed_per_filter_config:
          envoy.filters.http.local_ratelimit: {"@type": ${TS}, type_url: ${LRL}, value: {${value}}}
`;
}

function config(backend: number): string {
  const names = ['shadow', 'custom', 'conn', 'desc'];
  return `
${gatewayYaml(['api.example.com'])}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: istio-system}
spec:
  hosts: ["api.example.com"]
  gateways: [gw]
  http:
${names.map((n) => `  - {name: ${n}, match: [{uri: {prefix: /${n}}}], route: [{destination: {host: echo.default.svc.cluster.local, port: {number: 80}}}]}`).join('\n')}
  - {name: open, route: [{destination: {host: echo.default.svc.cluster.local, port: {number: 80}}}]}
---
${serviceEntryYaml('echo', backend)}
---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: local-rl, namespace: istio-system}
spec:
  workloadSelector: {labels: {istio: ingressgateway}}
  configPatches:
  - applyTo: HTTP_FILTER
    match: {context: GATEWAY, listener: {filterChain: {filter: {name: envoy.filters.network.http_connection_manager, subFilter: {name: envoy.filters.http.router}}}}}
    patch:
      operation: INSERT_BEFORE
      value: {name: envoy.filters.http.local_ratelimit, typed_config: {"@type": ${TS}, type_url: ${LRL}, value: {stat_prefix: http_local_rate_limiter}}}
${route('shadow', `stat_prefix: shadow, token_bucket: {max_tokens: 1, fill_interval: 3600s}, ${ON}, request_headers_to_add_when_not_enforced: [{header: {key: x-rl-shadow, value: "true"}}]`)}${route('custom', `stat_prefix: custom, token_bucket: {max_tokens: 1, fill_interval: 3600s}, ${ON}, ${ENFORCED}, status: {code: ServiceUnavailable}, enable_x_ratelimit_headers: DRAFT_VERSION_03, response_headers_to_add: [{header: {key: x-limited-by, value: sluice}, append_action: OVERWRITE_IF_EXISTS_OR_ADD}]`)}${route('conn', `stat_prefix: conn, token_bucket: {max_tokens: 1, fill_interval: 3600s}, ${ON}, ${ENFORCED}, local_rate_limit_per_downstream_connection: true`)}${route('desc', `stat_prefix: desc, token_bucket: {max_tokens: 100, fill_interval: 3600s}, ${ON}, ${ENFORCED}, descriptors: [{entries: [{key: user, value: alice}], token_bucket: {max_tokens: 1, fill_interval: 3600s}}]`)}  - applyTo: HTTP_ROUTE
    match: {context: GATEWAY, routeConfiguration: {vhost: {name: "api.example.com:80", route: {name: desc}}}}
    patch: {operation: MERGE, value: {route: {rate_limits: [{actions: [{request_headers: {header_name: x-user, descriptor_key: user}}]}]}}}
`;
}

let echo: EchoBackend;
let sluice: SluiceProcess;
let port: number;

const send = (r: CaseRequest) => sendRequest(port, { host: 'api.example.com', ...r });

beforeAll(async () => {
  echo = await startEchoBackend('echo');
  sluice = await startSluice({ config: [configFile(config(echo.port))], ports: [80] });
  port = sluice.port(80);
});

afterAll(async () => {
  await sluice?.stop();
  await echo?.close();
});

async function stat(name: string): Promise<number> {
  const text = await (await sluice.admin('/stats')).text();
  const m = new RegExp(`^${name.replace(/\./g, '\\.')}: (\\d+)$`, 'm').exec(text);
  return m === null ? -1 : Number(m[1]);
}

describe('local_ratelimit end to end', () => {
  it('routes without a per-route config are not limited (the filter-level config has no bucket)', async () => {
    for (let i = 0; i < 5; i++) expect((await send({ path: '/open' })).status).toBe(200);
  });

  it('enabled but not enforced: counts, marks the request, never 429', async () => {
    expect((await send({ path: '/shadow' })).status).toBe(200);
    const res = await send({ path: '/shadow' });
    expect(res.status).toBe(200);
    expect((JSON.parse(res.body) as EchoReply).headers['x-rl-shadow']).toBe('true');
    expect(await stat('shadow.http_local_rate_limit.rate_limited')).toBe(1);
    expect(await stat('shadow.http_local_rate_limit.enforced')).toBe(0);
  });

  it('custom status, response_headers_to_add and x-ratelimit-* headers', async () => {
    const ok = await send({ path: '/custom' });
    expect(ok.status).toBe(200);
    expect(ok.headers['x-ratelimit-limit']).toBe('1');
    expect(ok.headers['x-ratelimit-remaining']).toBe('0');
    const limited = await send({ path: '/custom' });
    expect(limited.status).toBe(503);
    expect(limited.body).toBe('local_rate_limited');
    expect(limited.headers['x-limited-by']).toBe('sluice');
    expect(limited.headers['x-envoy-ratelimited']).toBe('true');
    expect(Number(limited.headers['x-ratelimit-reset'])).toBeGreaterThan(0);
    await sluice.waitFor(/"GET \/custom HTTP\/1.1" 503 RL local_rate_limited/, 'stdout');
    expect(await stat('custom.http_local_rate_limit.enforced')).toBe(1);
    expect(await stat('custom.http_local_rate_limit.ok')).toBe(1);
  });

  it('local_rate_limit_per_downstream_connection: each connection has its own bucket', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const viaAgent = (path: string) => new Promise<number>((resolve, reject) => {
      import('node:http').then(({ request }) => {
        const req = request({ host: '127.0.0.1', port, path, headers: { host: 'api.example.com' }, agent }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); });
        req.on('error', reject);
        req.end();
      }, reject);
    });
    expect(await viaAgent('/conn')).toBe(200);
    expect(await viaAgent('/conn')).toBe(429);
    agent.destroy();
    expect((await send({ path: '/conn' })).status).toBe(200); // a new connection
  });

  it('descriptors: alice has her own 1-token bucket, others share the default one', async () => {
    expect((await send({ path: '/desc', headers: { 'x-user': 'alice' } })).status).toBe(200);
    expect((await send({ path: '/desc', headers: { 'x-user': 'alice' } })).status).toBe(429);
    for (let i = 0; i < 3; i++) expect((await send({ path: '/desc', headers: { 'x-user': 'bob' } })).status).toBe(200);
    expect((await send({ path: '/desc' })).status).toBe(200);
  });
});

describe('config_dump', () => {
  it('lists the rate-limit slots and per-route configs by route name', async () => {
    const res = await sluice.admin('/config_dump');
    expect(res.status).toBe(200);
    const dump = JSON.parse(await res.text()) as { listeners: { filterChains: { policies: { rateLimits: { slots: ({ name: string; perRoute: Record<string, { statPrefix: string }> }[] | null)[] } } }[] }[] };
    const slot = dump.listeners[0]!.filterChains[0]!.policies.rateLimits.slots[5]!;
    expect(slot[0]!.name).toBe('envoy.filters.http.local_ratelimit');
    expect(Object.keys(slot[0]!.perRoute).sort()).toEqual(['conn', 'custom', 'desc', 'shadow']);
  });
});
