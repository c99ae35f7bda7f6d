// `sluice trace` on inline configs: each decision the data plane takes is reported with its
// source line, and every failure names the resource to add or change.

import { describe, expect, it } from 'vitest';
import { docs, gatewayYaml, serviceEntryYaml, virtualServiceYaml } from '../support/yaml.js';
import { configFile, lineOf, tracer } from './helpers.js';

const ROUTES = `  - match: [{uri: {exact: /health}}]
    route: [{destination: {host: health}}]
  - match: [{uri: {prefix: /api/v2/}}]
    rewrite: {uri: /api/v1/}
    headers: {request: {set: {x-routed-by: api-v2}, remove: [x-debug]}, response: {add: {x-served: "yes"}}}
    route: [{destination: {host: api}}]
  - match: [{headers: {x-canary: {exact: "true"}}, uri: {prefix: /}}]
    route: [{destination: {host: canary}}]
  - route:
    - {destination: {host: stable}, weight: 90}
    - {destination: {host: canary}, weight: 10}`;

const CONFIG = docs(
  gatewayYaml(['example.com', 'shop.example.com']),
  virtualServiceYaml('web', ['example.com'], ROUTES),
  serviceEntryYaml('health', 9001), serviceEntryYaml('api', 9002), serviceEntryYaml('canary', 9003), serviceEntryYaml('stable', 9004),
);

describe('trace: HTTP routing', () => {
  const file = configFile(CONFIG);
  const trace = tracer([file]);

  it('names listener, chain, route configuration, virtual host, route and cluster as istioctl does', () => {
    const t = trace('GET', 'http://example.com/health');
    expect(t.listener).toBe('0.0.0.0_80');
    expect(t.filterChain).toBe('http.80');
    expect(t.routeConfig).toBe('http.80');
    expect(t.virtualHost).toBe('example.com:80');
    expect(t.route?.source).toMatchObject({ resource: 'VirtualService default/web', path: 'spec.http[0].match[0]', file, line: lineOf(CONFIG, 'exact: /health') });
    expect(t.upstream?.cluster).toBe('outbound|80||health.default.svc.cluster.local');
    expect(t.upstream?.endpoint).toBe('127.0.0.1:9001');
    expect(t.outcome.kind).toBe('upstream');
  });

  it('lists each route tried, the condition that failed and what the request had', () => {
    const t = trace('GET', 'http://example.com/x', { headers: ['x-canary: false'] });
    const routes = t.steps.filter((s) => s.stage === 'route');
    expect(routes.map((s) => s.result)).toEqual(['no_match', 'no_match', 'no_match', 'match']);
    expect(routes[0]!.text).toContain('path exact "/health" — request has path "/x"');
    expect(routes[2]!.text).toContain('header x-canary exact "true" — request has header x-canary "false"');
    expect(routes[2]!.source?.line).toBe(lineOf(CONFIG, 'x-canary'));
  });

  it('shows the upstream request as it is sent: rewrite, header changes, x-envoy-original-path', () => {
    const t = trace('GET', 'http://example.com/api/v2/orders?id=7', { headers: ['x-debug: 1', 'x-envoy-retry-on: 5xx'] });
    const u = t.upstream!;
    expect(u.path).toBe('/api/v1/orders?id=7');
    const h = Object.fromEntries(u.headers);
    expect(h['x-routed-by']).toBe('api-v2');
    expect(h['x-envoy-original-path']).toBe('/api/v2/orders?id=7');
    expect(h['x-debug']).toBeUndefined();
    expect(h['x-envoy-retry-on']).toBeUndefined();
    expect(h['x-forwarded-proto']).toBe('http');
    expect(u.head).toMatch(/^GET \/api\/v1\/orders\?id=7 HTTP\/1\.1\r\nhost: example\.com\r\n[\s\S]*x-envoy-attempt-count: 1\r\n\r\n$/);
    expect(t.steps.find((s) => s.stage === 'upstream_request')?.detail?.join('\n')).toContain('add x-served: yes');
  });

  it('follows a weighted split by the draw and lists every share', () => {
    const low = trace('GET', 'http://example.com/', { draw: 0 });
    const high = trace('GET', 'http://example.com/', { draw: 0.95 });
    expect(low.upstream?.host).toBe('stable.default.svc.cluster.local');
    expect(high.upstream?.host).toBe('canary.default.svc.cluster.local');
    expect(low.upstream?.destinations.map((d) => [d.host.split('.')[0], d.percent])).toEqual([['stable', 90], ['canary', 10]]);
  });

  it('a host the gateway serves but no VirtualService binds: 404 NR, and the fix names the Gateway', () => {
    const t = trace('GET', 'http://shop.example.com/');
    expect(t.outcome).toMatchObject({ kind: 'local_reply', status: 404, responseFlags: 'NR', details: 'route_not_found' });
    expect(t.outcome.fix).toContain('Gateway istio-system/gw serves shop.example.com');
    expect(t.outcome.fix).toContain('add a VirtualService with hosts [shop.example.com] and gateways [istio-system/gw]');
    expect(t.outcome.accessLog).toMatch(/"GET \/ HTTP\/1\.1" 404 NR route_not_found/);
  });

  it('a host no server lists: the fix says which Gateway hosts to extend', () => {
    const t = trace('GET', 'http://elsewhere.example.com/');
    expect(t.outcome.status).toBe(404);
    expect(t.outcome.fix).toMatch(/Gateway istio-system\/gw servers\[0\] \(.*istio\.yaml:\d+\) lists hosts \[example\.com, shop\.example\.com\], not elsewhere\.example\.com/);
  });

  it('no listener on the port: the connection is refused, and the fix says what to add', () => {
    const t = trace('GET', 'http://example.com:8080/');
    expect(t.outcome.kind).toBe('closed');
    expect(t.outcome.fix).toContain('port 8080');
  });

  it('a TLS client on a plain HTTP port is told to use http://', () => {
    const t = trace('GET', 'https://example.com:80/');
    expect(t.outcome.kind).toBe('closed');
    expect(t.outcome.fix).toContain('plain HTTP server');
  });
});

describe('trace: failures name the resource to fix', () => {
  it('404 with no matching route points at the closest route and the VirtualService to extend', () => {
    const yaml = docs(gatewayYaml(['a.example.com']), virtualServiceYaml('a', ['a.example.com'], `  - match: [{uri: {prefix: /v1}, method: {exact: POST}}]
    route: [{destination: {host: svc}}]`), serviceEntryYaml('svc', 9000));
    const t = tracer([configFile(yaml)])('GET', 'http://a.example.com/v1/x');
    expect(t.outcome.status).toBe(404);
    expect(t.outcome.fix).toContain('the closest is route #0 of VirtualService default/a');
    expect(t.outcome.fix).toContain('needs method exact "POST"');
  });

  it('a VirtualService whose gateways miss this Gateway', () => {
    const yaml = docs(gatewayYaml(['a.example.com']), `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: a, namespace: default}
spec:
  hosts: [a.example.com]
  http: [{route: [{destination: {host: svc}}]}]`, serviceEntryYaml('svc', 9000));
    const t = tracer([configFile(yaml)])('GET', 'http://a.example.com/');
    expect(t.outcome.status).toBe(404);
    expect(t.outcome.fix).toContain('VirtualService default/a');
    expect(t.outcome.fix).toContain('add "istio-system/gw" to its gateways');
  });

  it('503 NC: an unknown destination host, with compile\'s diagnostic and its line', () => {
    const yaml = docs(gatewayYaml(['a.example.com']), virtualServiceYaml('a', ['a.example.com'], '  - route: [{destination: {host: nowhere}}]'));
    const t = tracer([configFile(yaml)])('GET', 'http://a.example.com/');
    expect(t.outcome).toMatchObject({ status: 503, responseFlags: 'NC', details: 'cluster_not_found' });
    expect(t.outcome.fix).toContain('nowhere.default.svc.cluster.local is not in the service registry');
    expect(t.outcome.fix).toContain('add a ServiceEntry');
  });

  it('503 UH: a subset whose labels select no endpoint', () => {
    const yaml = docs(gatewayYaml(['a.example.com']), virtualServiceYaml('a', ['a.example.com'], '  - route: [{destination: {host: svc, subset: v2}}]'), serviceEntryYaml('svc', 9000), `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: svc, namespace: default}
spec:
  host: svc
  subsets: [{name: v2, labels: {version: v2}}]`);
    const t = tracer([configFile(yaml)])('GET', 'http://a.example.com/');
    expect(t.outcome).toMatchObject({ status: 503, responseFlags: 'UH', details: 'no_healthy_upstream', body: 'no healthy upstream' });
    expect(t.outcome.fix).toContain('subset v2 selects no endpoint');
    expect(t.outcome.fix).toContain('DestinationRule default/svc');
  });

  it('redirects and direct responses come from the data plane\'s own reply code', () => {
    const yaml = docs(gatewayYaml(['a.example.com']), virtualServiceYaml('a', ['a.example.com'], `  - match: [{uri: {prefix: /old}}]
    redirect: {uri: /new, redirectCode: 308}
  - directResponse: {status: 418, body: {string: teapot}}`));
    const t = tracer([configFile(yaml)]);
    const r = t('GET', 'http://a.example.com/old/x?q=1');
    expect(r.outcome).toMatchObject({ kind: 'local_reply', status: 308 });
    expect(r.outcome.headers).toContainEqual(['location', 'http://a.example.com/new?q=1']);
    const d = t('GET', 'http://a.example.com/');
    expect(d.outcome).toMatchObject({ status: 418, body: 'teapot' });
  });
});

describe('trace: the VirtualService filters (fault, CORS) explain themselves', () => {
  const yaml = docs(gatewayYaml(['a.example.com']), virtualServiceYaml('a', ['a.example.com'], `  - match: [{uri: {prefix: /broken}}]
    fault: {abort: {httpStatus: 503, percentage: {value: 100}}}
    route: [{destination: {host: svc}}]
  - corsPolicy: {allowOrigins: [{exact: "https://app.example.com"}], allowMethods: [GET, POST], maxAge: 1h}
    route: [{destination: {host: svc}}]`), serviceEntryYaml('svc', 9000));
  const trace = tracer([configFile(yaml)]);

  it('a 100% abort answers 503 FI with the fault filter\'s body', () => {
    const t = trace('GET', 'http://a.example.com/broken');
    expect(t.outcome).toMatchObject({ kind: 'local_reply', status: 503, responseFlags: 'FI', details: 'fault_filter_abort', body: 'fault filter abort' });
  });

  it('a CORS preflight from an allowed origin is answered by the gateway with the allow headers', () => {
    const t = trace('OPTIONS', 'http://a.example.com/x', { headers: ['origin: https://app.example.com', 'access-control-request-method: POST'] });
    expect(t.outcome).toMatchObject({ kind: 'local_reply', status: 200, details: 'cors_response' });
    expect(t.outcome.headers).toContainEqual(['access-control-allow-methods', 'GET,POST']);
    expect(t.outcome.headers).toContainEqual(['access-control-max-age', '3600']);
    const other = trace('GET', 'http://a.example.com/x', { headers: ['origin: https://evil.example.com'] });
    expect(other.outcome.kind).toBe('upstream');
    expect(other.filters.find((f) => f.name === 'envoy.filters.http.cors')?.summary).toContain('not allowed');
  });
});
