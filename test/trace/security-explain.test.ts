// Authentication, authorization and rate-limit decisions, explained by trace: the policy and
// rule that decided (with file:line), the local reply the gateway would send, and the fix —
// with no side effect: no counter, no token-cache entry, no token taken from a bucket, no call
// to the ext_authz service, and no JWKS fetch when tracing a running gateway.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { counterValue } from '../../src/proxy/filters/stats.js';
import { tokenBuckets } from '../../src/proxy/filters/local-ratelimit/token-bucket.js';
import type { LocalRateLimitInstance } from '../../src/proxy/filters/ratelimit/slots.js';
import { MemoryBackend, RateLimitService, compileDomainConfig, setRateLimitService } from '../../src/proxy/filters/ratelimit/service.js';
import { parseTraceRequest } from '../../src/trace/request.js';
import { traceRequest, traceRequestAsync } from '../../src/trace/trace.js';
import type { Trace } from '../../src/trace/types.js';
import { makeKey, signToken, startJwksServer, type JwksServer, type SigningKey } from '../support/jwks-server.js';
import { docs, gatewayYaml, localRateLimitEnvoyFilterYaml, serviceEntryYaml, virtualServiceYaml } from '../support/yaml.js';
import { asyncTracer, configFile, lineOf } from './helpers.js';

const ISS = 'https://auth.example.com';

function authnYaml(jwks: string, extra = ''): string {
  return `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt-auth, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  jwtRules:
  - issuer: "${ISS}"
    ${jwks}
    audiences: [api.example.com]
    outputClaimToHeaders: [{header: x-group, claim: group}]${extra}`;
}

const REQUIRE_JWT = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: require-jwt, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  action: ALLOW
  rules:
  - from: [{source: {requestPrincipals: ["*"]}}]
    to: [{operation: {methods: [GET, POST]}}]`;

const DENY_ADMIN = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin, namespace: istio-system}
spec:
  action: DENY
  rules:
  - to: [{operation: {paths: ["/admin*"]}}]
    when: [{key: "request.auth.claims[group]", notValues: [admins]}]`;

function filter(t: Trace, name: string): Trace['filters'][number] {
  const f = t.filters.find((x) => x.name === `envoy.filters.http.${name}`);
  expect(f, `filter ${name} in ${t.filters.map((x) => x.name).join(', ')}`).toBeDefined();
  return f!;
}

function route(): string {
  return virtualServiceYaml('api', ['api.example.com'], '  - route: [{destination: {host: api}}]');
}

describe('trace explains JWT authentication and authorization', () => {
  let key: SigningKey;
  let other: SigningKey;
  let yaml: string;
  let t: ReturnType<typeof asyncTracer>;

  beforeAll(async () => {
    key = await makeKey('RS256', 'k1');
    other = await makeKey('RS256', 'k1'); // same kid, another key: a forged signature
    yaml = docs(gatewayYaml(['api.example.com']), route(), serviceEntryYaml('api', 9000), authnYaml(`jwks: '${JSON.stringify({ keys: [key.publicJwk] })}'`), REQUIRE_JWT, DENY_ADMIN);
    t = asyncTracer([configFile(yaml)]);
  });

  it('no token: authentication passes, and the ALLOW policy that needs a principal denies — rule, line and fix', async () => {
    const tr = await t.trace('GET', 'http://api.example.com/x');
    expect(filter(tr, 'jwt_authn')).toMatchObject({ verdict: 'continue', summary: expect.stringContaining('no token') });
    const rbac = filter(tr, 'rbac');
    expect(rbac).toMatchObject({ verdict: 'reply', decidedBy: { resource: 'AuthorizationPolicy istio-system/require-jwt', path: 'spec.rules[0]', line: lineOf(yaml, '- from: [{source: {requestPrincipals') } });
    expect(rbac.summary).toContain('needs source.requestPrincipals in [*], request has (none: no valid JWT)');
    expect(tr.outcome).toMatchObject({ kind: 'local_reply', status: 403, body: 'RBAC: access denied', details: 'rbac_access_denied_matched_policy[none]' });
    expect(tr.outcome.fix).toContain('send a valid JWT');
    expect(tr.upstream).toBeNull();
  });

  it('a valid token: verified with jose against the inline jwks, principal set, claim copied to a header, token removed; the ALLOW rule decides', async () => {
    const token = await signToken(key, { iss: ISS, sub: 'alice', aud: 'api.example.com', group: 'dev' });
    const tr = await t.trace('GET', 'http://api.example.com/x', { jwt: token });
    const jwt = filter(tr, 'jwt_authn');
    expect(jwt).toMatchObject({ verdict: 'continue', decidedBy: { resource: 'RequestAuthentication istio-system/jwt-auth', path: 'spec.jwtRules[0]', line: lineOf(yaml, `- issuer: "${ISS}"`) } });
    expect(jwt.summary).toContain(`request.auth.principal = ${ISS}/alice`);
    expect(filter(tr, 'rbac')).toMatchObject({ verdict: 'continue', summary: expect.stringContaining('allowed by ALLOW AuthorizationPolicy istio-system/require-jwt rule 0'), decidedBy: { path: 'spec.rules[0]' } });
    expect(tr.outcome.kind).toBe('upstream');
    const headers = Object.fromEntries(tr.upstream!.headers);
    expect(headers['x-group']).toBe('dev');
    expect(headers.authorization).toBeUndefined();
  });

  it('each failing token gets the gateway\'s 401/403, the rule that refused it, and the fix', async () => {
    const cases: [string, Promise<string>, number, string, string][] = [
      ['expired', signToken(key, { iss: ISS, sub: 'a', aud: 'api.example.com' }, { expiresIn: -600 }), 401, 'Jwt is expired', 'send a current token'],
      ['another audience', signToken(key, { iss: ISS, sub: 'a', aud: 'web.example.com' }), 403, 'Audiences in Jwt are not allowed', 'request a token for api.example.com'],
      ['an unknown issuer', signToken(key, { iss: 'https://evil.example.com', sub: 'a', aud: 'api.example.com' }), 401, 'Jwt issuer is not configured', 'add a jwtRule with issuer "https://evil.example.com"'],
      ['a forged signature', signToken(other, { iss: ISS, sub: 'a', aud: 'api.example.com' }), 401, 'Jwt verification fails', 'signed by another key'],
      ['not a JWT', Promise.resolve('not-a-jwt'), 401, 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections', 'send a JWT'],
    ];
    for (const [label, token, status, body, fix] of cases) {
      const tr = await t.trace('GET', 'http://api.example.com/x', { jwt: await token });
      expect(tr.outcome, label).toMatchObject({ kind: 'local_reply', status, body, details: `jwt_authn_access_denied{${body.replace(/ /g, '_')}}` });
      expect(tr.outcome.headers.find(([n]) => n === 'www-authenticate')?.[1], label).toBe('Bearer realm="http://api.example.com/x", error="invalid_token"');
      expect(filter(tr, 'jwt_authn').decidedBy, label).toMatchObject({ resource: 'RequestAuthentication istio-system/jwt-auth' });
      expect(tr.outcome.fix, label).toContain(fix);
      expect(tr.filters.find((f) => f.name === 'envoy.filters.http.rbac'), `${label}: filters after the reply are not run`).toBeUndefined();
    }
  });

  it('a DENY rule decides before ALLOW, reading claims the JWT filter set', async () => {
    const dev = await signToken(key, { iss: ISS, sub: 'bob', aud: 'api.example.com', group: 'dev' });
    const tr = await t.trace('GET', 'http://api.example.com/admin/users', { jwt: dev });
    const rbac = filter(tr, 'rbac');
    expect(rbac).toMatchObject({ verdict: 'reply', decidedBy: { resource: 'AuthorizationPolicy istio-system/deny-admin', path: 'spec.rules[0]', line: lineOf(yaml, '- to: [{operation: {paths: ["/admin*"]}}]') } });
    expect(tr.outcome).toMatchObject({ status: 403, details: 'rbac_access_denied_matched_policy[ns[istio-system]-policy[deny-admin]-rule[0]]' });
    expect(tr.outcome.fix).toContain('DENY rule 0 of AuthorizationPolicy istio-system/deny-admin');
    const admin = await signToken(key, { iss: ISS, sub: 'carol', aud: 'api.example.com', group: 'admins' });
    const ok = await t.trace('GET', 'http://api.example.com/admin/users', { jwt: admin });
    expect(ok.outcome.kind).toBe('upstream');
    expect(filter(ok, 'rbac').summary).toContain('allowed by ALLOW AuthorizationPolicy istio-system/require-jwt rule 0');
    const del = await t.trace('DELETE', 'http://api.example.com/x', { jwt: admin });
    expect(filter(del, 'rbac').summary).toContain('needs operation.methods in [GET, POST], request has DELETE');
  });

  it('explaining changes nothing outside the traced stream: no counter, no token-cache entry', async () => {
    const token = await signToken(key, { iss: ISS, sub: 'alice', aud: 'api.example.com' });
    const before = [counterValue('http.jwt_authn.allowed'), counterValue('http.jwt_authn.denied')];
    for (let i = 0; i < 3; i++) await t.trace('GET', 'http://api.example.com/x', { jwt: token });
    await t.trace('GET', 'http://api.example.com/x', { jwt: 'not-a-jwt' });
    expect([counterValue('http.jwt_authn.allowed'), counterValue('http.jwt_authn.denied')]).toEqual(before);
    const jwt = t.built.snapshot.listeners[0]!.filterChains[0]!.policies.jwt!;
    expect(jwt.cache.size).toBe(0);
  });

  it('the synchronous trace stays synchronous: a signature check it cannot wait for is "unknown"', async () => {
    const token = await signToken(key, { iss: ISS, sub: 'alice', aud: 'api.example.com' });
    const tr = traceRequest({ snapshot: t.built.snapshot, store: t.built.store }, parseTraceRequest({ method: 'GET', url: 'http://api.example.com/x', jwt: token }));
    expect(filter(tr, 'jwt_authn')).toMatchObject({ verdict: 'unknown', summary: expect.stringContaining('asynchronous') });
    // Prechecks need no keys: they are decided synchronously too.
    const expired = await signToken(key, { iss: ISS, sub: 'a', aud: 'api.example.com' }, { expiresIn: -600 });
    const tr2 = traceRequest({ snapshot: t.built.snapshot, store: t.built.store }, parseTraceRequest({ method: 'GET', url: 'http://api.example.com/x', jwt: expired }));
    expect(tr2.outcome).toMatchObject({ status: 401, body: 'Jwt is expired' });
  });
});

describe('trace with a remote JWKS', () => {
  let jwks: JwksServer;
  let key: SigningKey;
  let file: string;

  beforeAll(async () => {
    jwks = await startJwksServer();
    key = await makeKey('ES256', 'es');
    jwks.publish([key]);
    file = configFile(docs(gatewayYaml(['api.example.com']), route(), serviceEntryYaml('api', 9000), authnYaml(`jwksUri: "${jwks.url()}"\n    timeout: 2s`)));
  });
  afterAll(async () => { await jwks.close(); });

  it('offline: the key set is fetched once per run (as the gateway would) and the token verified', async () => {
    const keyCache = new Map();
    const t = asyncTracer([file], { options: { offline: true, keyCache } });
    const token = await signToken(key, { iss: ISS, sub: 'alice', aud: 'api.example.com' });
    const before = jwks.fetches();
    for (let i = 0; i < 2; i++) {
      const tr = await t.trace('GET', 'http://api.example.com/x', { jwt: token });
      expect(filter(tr, 'jwt_authn')).toMatchObject({ verdict: 'continue', summary: expect.stringContaining(`${ISS}/alice`) });
      expect(tr.steps.find((s) => s.text.includes('jwt_authn'))?.detail?.join('\n')).toContain(`keys fetched now from ${jwks.url()}`);
    }
    expect(jwks.fetches() - before).toBe(1);
  });

  it('offline, with the JWKS server down: the trace says the keys were not available, and what the gateway would do', async () => {
    jwks.mode = 'error';
    try {
      const t = asyncTracer([file]);
      const tr = await t.trace('GET', 'http://api.example.com/x', { jwt: await signToken(key, { iss: ISS, sub: 'alice', aud: 'api.example.com' }) });
      const jwt = filter(tr, 'jwt_authn');
      expect(jwt.verdict).toBe('unknown');
      expect(jwt.summary).toContain('keys for issuer https://auth.example.com are not available to this trace');
      expect(jwt.summary).toContain('HTTP 500');
      expect(jwt.summary).toContain('Jwks remote fetch is failed');
    } finally {
      jwks.mode = 'up';
    }
  });

  it('a running gateway\'s trace never fetches: without cached keys it says so', async () => {
    const t = asyncTracer([file], { options: { offline: false } });
    const before = jwks.fetches();
    const tr = await t.trace('GET', 'http://api.example.com/x', { jwt: await signToken(key, { iss: ISS, sub: 'alice', aud: 'api.example.com' }) });
    expect(filter(tr, 'jwt_authn')).toMatchObject({ verdict: 'unknown', summary: expect.stringContaining('no keys for issuer https://auth.example.com are cached by this gateway') });
    expect(jwks.fetches()).toBe(before);
  });

  it('--no-jwks-fetch (offline without fetching): unknown, and why', async () => {
    const t = asyncTracer([file], { options: { offline: true, fetchJwks: false } });
    const before = jwks.fetches();
    const tr = await t.trace('GET', 'http://api.example.com/x', { jwt: await signToken(key, { iss: ISS, sub: 'alice', aud: 'api.example.com' }) });
    expect(filter(tr, 'jwt_authn')).toMatchObject({ verdict: 'unknown', summary: expect.stringContaining('not to fetch') });
    expect(jwks.fetches()).toBe(before);
  });
});

describe('trace explains ext_authz (CUSTOM) without calling the provider', () => {
  let authz: Server;
  let calls = 0;
  let authzPort = 0;

  beforeAll(async () => {
    authz = createServer((_req, res) => { calls++; res.writeHead(403); res.end('no'); });
    await new Promise<void>((r) => authz.listen(0, '127.0.0.1', r));
    authzPort = (authz.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => authz.close(() => r())));

  function files(withEndpoint: boolean): { files: string[]; mesh: string } {
    const custom = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ext, namespace: istio-system}
spec:
  action: CUSTOM
  provider: {name: my-authz}
  rules: [{to: [{operation: {paths: ["/secure/*"]}}]}]`;
    const svc = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: authz, namespace: istio-system}
spec:
  hosts: [authz.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 8000, name: http, protocol: HTTP}]
  endpoints: [{address: 127.0.0.1, ports: {http: ${authzPort}}}]`;
    const mesh = configFile(`extensionProviders:\n- name: my-authz\n  envoyExtAuthzHttp: {service: ${withEndpoint ? 'authz.local' : 'nowhere.local'}, port: 8000, includeRequestHeadersInCheck: [x-user]}\n`, 'mesh.yaml');
    return { files: [configFile(docs(gatewayYaml(['api.example.com']), route(), serviceEntryYaml('api', 9000), custom, svc))], mesh };
  }

  it('a CUSTOM rule that matches: "would ask provider X", with the check request; the service gets nothing', async () => {
    const f = files(true);
    const t = asyncTracer(f.files, { mesh: f.mesh });
    const tr = await t.trace('GET', 'http://api.example.com/secure/x', { headers: ['x-user: alice'] });
    const e = filter(tr, 'ext_authz');
    expect(e).toMatchObject({ verdict: 'unknown', decidedBy: { resource: 'AuthorizationPolicy istio-system/ext', path: 'spec.rules[0]' } });
    expect(e.summary).toContain('would ask provider my-authz');
    const detail = tr.steps.find((s) => s.text.includes('ext_authz'))!.detail!.join('\n');
    expect(detail).toContain('check request: GET /secure/x to authz.local');
    expect(detail).toContain('x-user');
    const miss = await t.trace('GET', 'http://api.example.com/public');
    expect(filter(miss, 'ext_authz')).toMatchObject({ verdict: 'continue', summary: 'no CUSTOM rule matches: provider my-authz is not asked' });
    expect(calls).toBe(0);
  });

  it('a provider whose service has no endpoint: the gateway would answer statusOnError with UAEX, and the fix names it', async () => {
    const f = files(false);
    const t = asyncTracer(f.files, { mesh: f.mesh });
    const tr = await t.trace('GET', 'http://api.example.com/secure/x');
    expect(tr.outcome).toMatchObject({ kind: 'local_reply', status: 403, responseFlags: 'UAEX', details: 'ext_authz_error' });
    expect(tr.outcome.fix).toContain('nowhere.local');
  });
});

describe('trace explains rate limits: bucket state, never consumed', () => {
  const ef = localRateLimitEnvoyFilterYaml('rate-limit', 'max_tokens: 2, tokens_per_fill: 2, fill_interval: 3600s',
    ['response_headers_to_add: [{append_action: OVERWRITE_IF_EXISTS_OR_ADD, header: {key: x-rate-limited, value: "yes"}}]']);
  const yaml = docs(gatewayYaml(['api.example.com']), route(), serviceEntryYaml('api', 9000), ef);

  it('tokens left, then an empty bucket: 429 RL with the headers the gateway adds, the EnvoyFilter patch at its line, and no token taken by the trace', async () => {
    const t = asyncTracer([configFile(yaml)], { options: { offline: false } });
    const inst = t.built.snapshot.listeners[0]!.filterChains[0]!.policies.rateLimits!.slots.flat().find((i) => i !== undefined && i !== null) as unknown as LocalRateLimitInstance;
    const cfg = inst.config!;
    const bucket = tokenBuckets().bucket(cfg.bucketKey, cfg.bucket!);
    for (let i = 0; i < 5; i++) {
      const tr = await t.trace('GET', 'http://api.example.com/x');
      const rl = tr.filters.find((f) => f.name.startsWith('envoy.filters.http.local_ratelimit@') && f.verdict !== 'skip')!;
      expect(rl).toMatchObject({ verdict: 'continue', summary: expect.stringContaining('2/2 tokens'), decidedBy: { resource: 'EnvoyFilter istio-system/rate-limit', path: 'spec.configPatches[0]', line: lineOf(yaml, '- applyTo: HTTP_FILTER') } });
    }
    expect(bucket.remaining(performance.now())).toBe(2);
    expect(counterValue('http_local_rate_limiter.http_local_rate_limit.enabled')).toBe(0);
    // The data plane takes both tokens; the trace now predicts the 429.
    bucket.tryTake(performance.now());
    bucket.tryTake(performance.now());
    const tr = await t.trace('GET', 'http://api.example.com/x');
    expect(tr.outcome).toMatchObject({ kind: 'local_reply', status: 429, body: 'local_rate_limited', responseFlags: 'RL', details: 'local_rate_limited' });
    expect(tr.outcome.headers).toEqual(expect.arrayContaining([['x-envoy-ratelimited', 'true'], ['x-rate-limited', 'yes']]));
    expect(tr.outcome.fix).toContain('raise token_bucket in EnvoyFilter istio-system/rate-limit configPatches[0]');
    expect(counterValue('http_local_rate_limiter.http_local_rate_limit.rate_limited')).toBe(0);
  });

  it('offline, the bucket is shown as a gateway starts it (this process is not the gateway)', async () => {
    const t = asyncTracer([configFile(yaml)]);
    const tr = await t.trace('GET', 'http://api.example.com/x');
    expect(tr.outcome.kind).toBe('upstream');
    expect(tr.steps.find((s) => s.text.includes('local_ratelimit@'))!.detail!.join('\n')).toContain('offline, the live bucket is not known');
  });

  it('global rate limit: descriptors, the limit and the in-memory count — read, not counted', async () => {
    const global = `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: global-rl, namespace: istio-system}
spec:
  workloadSelector: {labels: {istio: ingressgateway}}
  configPatches:
  - applyTo: HTTP_FILTER
    match: {context: GATEWAY, listener: {filterChain: {filter: {name: envoy.filters.network.http_connection_manager, subFilter: {name: envoy.filters.http.router}}}}}
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.ratelimit
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit
          domain: gw
          rate_limit_service: {grpc_service: {envoy_grpc: {cluster_name: rls}}, transport_api_version: V3}
  - applyTo: VIRTUAL_HOST
    match: {context: GATEWAY}
    patch:
      operation: MERGE
      value:
        rate_limits: [{actions: [{request_headers: {header_name: x-user, descriptor_key: user}}]}]`;
    const svc = new RateLimitService([compileDomainConfig({ domain: 'gw', descriptors: [{ key: 'user', rate_limit: { unit: 'hour', requests_per_unit: 2 } }] }, 'test')], new MemoryBackend());
    setRateLimitService(svc);
    try {
      const t = asyncTracer([configFile(docs(gatewayYaml(['api.example.com']), route(), serviceEntryYaml('api', 9000), global))], { options: { offline: false } });
      const first = await t.trace('GET', 'http://api.example.com/x', { headers: ['x-user: ann'] });
      const rl = first.filters.find((f) => f.name.startsWith('envoy.filters.http.local_ratelimit@') && f.verdict !== 'skip')!;
      expect(rl).toMatchObject({ verdict: 'continue', decidedBy: { resource: 'EnvoyFilter istio-system/global-rl', path: 'spec.configPatches[0]' } });
      expect(first.steps.find((s) => s.text.includes('ratelimit domain gw'))!.detail!.join('\n')).toContain('[user=ann]: 0 of 2 per hour used');
      await t.trace('GET', 'http://api.example.com/x', { headers: ['x-user: ann'] });
      expect((await svc.shouldRateLimit('gw', [[{ key: 'user', value: 'ann' }]])).statuses[0]!.remaining).toBe(1);
      await svc.shouldRateLimit('gw', [[{ key: 'user', value: 'ann' }]]);
      const over = await t.trace('GET', 'http://api.example.com/x', { headers: ['x-user: ann'] });
      expect(over.outcome).toMatchObject({ status: 429, responseFlags: 'RL', details: 'request_rate_limited' });
      const none = await t.trace('GET', 'http://api.example.com/x');
      expect(none.filters.find((f) => f.name.startsWith('envoy.filters.http.local_ratelimit@') && f.verdict !== 'skip')!.summary).toContain('produce no descriptor');
      const offline = await traceRequestAsync({ snapshot: t.built.snapshot, store: t.built.store }, parseTraceRequest({ method: 'GET', url: 'http://api.example.com/x', headers: ['x-user: ann'] }), { offline: true });
      expect(offline.filters.find((f) => f.name.startsWith('envoy.filters.http.local_ratelimit@') && f.verdict !== 'skip')!.summary).toContain('an offline trace does not know its limits');
    } finally {
      setRateLimitService(null);
    }
  });
});

describe('trace explains network RBAC on a TCP port', () => {
  const yaml = docs(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 9000, name: tcp, protocol: TCP}
    hosts: ["*"]`, `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [gw]
  tcp: [{route: [{destination: {host: db.default.svc.cluster.local, port: {number: 5432}}}]}]`, `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: db, namespace: default}
spec:
  hosts: [db.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 5432, name: tcp, protocol: TCP}]
  endpoints: [{address: 127.0.0.1}]`, `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: office-only, namespace: istio-system}
spec:
  action: DENY
  rules:
  - from: [{source: {notIpBlocks: ["10.0.0.0/8"]}}]`);

  it('a DENY rule closes the connection before a route is chosen; another source passes', async () => {
    const t = asyncTracer([configFile(yaml)]);
    const denied = await t.trace('GET', 'tcp://db.example.com:9000', { sourceIp: '192.0.2.7' });
    expect(denied.outcome).toMatchObject({ kind: 'closed', details: 'rbac_access_denied_matched_policy[ns[istio-system]-policy[office-only]-rule[0]]' });
    expect(denied.filters.find((f) => f.name === 'envoy.filters.network.rbac')).toMatchObject({ verdict: 'reply', decidedBy: { resource: 'AuthorizationPolicy istio-system/office-only', path: 'spec.rules[0]', line: lineOf(yaml, '- from: [{source: {notIpBlocks') } });
    expect(denied.outcome.fix).toContain('DENY rule 0 of AuthorizationPolicy istio-system/office-only');
    expect(denied.upstream).toBeNull();
    const ok = await t.trace('GET', 'tcp://db.example.com:9000', { sourceIp: '10.1.2.3' });
    expect(ok.outcome.kind).toBe('upstream');
    expect(ok.filters.find((f) => f.name === 'envoy.filters.network.rbac')?.verdict).toBe('continue');
  });
});
