// RequestAuthentication end to end: the real `sluice run`, a real JWKS server with rotating
// keys, tokens signed with every algorithm Istio supports, and an echo backend that shows
// what reached it.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRequest, type CaseRequest } from '../../../conformance/runner.js';
import { startEchoBackend, type EchoBackend, type EchoReply } from '../../../support/echo-backend.js';
import { ALGORITHMS, makeKey, signToken, startJwksServer, type JwksServer, type SigningKey } from '../../../support/jwks-server.js';
import { startSluice, type SluiceProcess } from '../../../support/sluice-process.js';
import { configFile, echoRouteYaml } from '../../../support/yaml.js';

const ISS = 'https://auth.example.com';
const OTHER = 'https://other.example.com';
const FLAKY = 'https://flaky.example.com';
const SLOW = 'https://slow.example.com';

function config(backend: number, jwks: JwksServer, slow: JwksServer): string {
  return `
${echoRouteYaml(backend)}---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt-auth, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  jwtRules:
  - issuer: "${ISS}"
    jwksUri: "${jwks.url('/jwks.json')}"
    audiences: ["api.example.com"]
  - issuer: "${FLAKY}"
    jwksUri: "${jwks.url('/flaky.json')}"
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: other, namespace: istio-system}
spec:
  jwtRules:
  - issuer: "${OTHER}"
    jwksUri: "${jwks.url('/other.json')}"
    fromHeaders: [{name: x-jwt, prefix: "Token "}]
    fromParams: [jwt]
    fromCookies: [session]
    forwardOriginalToken: true
    outputPayloadToHeader: x-jwt-payload
    outputClaimToHeaders: [{header: x-user-group, claim: group}, {header: x-tenant, claim: org.tenant}]
  - issuer: "${SLOW}"
    jwksUri: "${slow.url('/slow.json')}"
    timeout: 1s
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: require-jwt, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  action: ALLOW
  rules:
  - from: [{source: {requestPrincipals: ["*"]}}]
    to: [{operation: {paths: ["/secure/*"]}}]
  - to: [{operation: {notPaths: ["/secure/*"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-banned, namespace: istio-system}
spec:
  action: DENY
  rules: [{when: [{key: "request.auth.claims[group]", values: ["banned"]}]}]
`;
}

let echo: EchoBackend;
let jwks: JwksServer;
let slow: JwksServer;
let sluice: SluiceProcess;
let keys: Record<string, SigningKey>;
let otherKey: SigningKey;
let flakyKey: SigningKey;
let port: number;

async function send(r: CaseRequest) {
  return sendRequest(port, { host: 'api.example.com', ...r });
}

function bearer(t: string): Record<string, string> {
  return { authorization: `Bearer ${t}` };
}

beforeAll(async () => {
  echo = await startEchoBackend('echo');
  jwks = await startJwksServer();
  slow = await startJwksServer();
  slow.mode = 'hang';
  keys = {};
  for (const alg of ALGORITHMS) keys[alg] = await makeKey(alg, `k-${alg}`);
  otherKey = await makeKey('ES256', 'other-1');
  flakyKey = await makeKey('RS256', 'flaky-1');
  jwks.publish(Object.values(keys));
  jwks.publish([otherKey], '/other.json');
  jwks.publish([flakyKey], '/flaky.json');
  sluice = await startSluice({ config: [configFile(config(echo.port, jwks, slow))], ports: [80] });
  port = sluice.port(80);
  await sluice.waitFor(/jwks: .*jwks\.json: 10 keys/);
});

afterAll(async () => {
  await sluice?.stop();
  await echo?.close();
  await jwks?.close();
  await slow?.close();
});

describe('RequestAuthentication: valid tokens', () => {
  for (const alg of ALGORITHMS) {
    it(`accepts a ${alg} token and strips it before the backend`, async () => {
      const t = await signToken(keys[alg]!, { iss: ISS, sub: 'alice', aud: 'api.example.com' });
      const res = await send({ path: '/secure/x', headers: bearer(t) });
      expect(res.status, res.body).toBe(200);
      const e = JSON.parse(res.body) as EchoReply;
      expect(e.headers.authorization).toBeUndefined();
    });
  }

  it('accepts a token without kid (every key is tried)', async () => {
    const t = await signToken(keys.ES384!, { iss: ISS, sub: 'alice', aud: ['x', 'api.example.com'] }, { noKid: true });
    expect((await send({ path: '/secure/x', headers: bearer(t) })).status).toBe(200);
  });

  it('takes tokens from a custom header with prefix, a query parameter or a cookie; forwards them and outputs claims', async () => {
    const t = await signToken(otherKey, { iss: OTHER, sub: 'bob', group: 'dev', org: { tenant: 'acme' } });
    for (const req of [{ headers: { 'x-jwt': `Token ${t}` } }, { path: `/secure/q?jwt=${t}` }, { headers: { cookie: `a=1; session=${t}` } }] as CaseRequest[]) {
      const res = await send({ path: '/secure/q', ...req });
      expect(res.status, JSON.stringify(req)).toBe(200);
      const e = JSON.parse(res.body) as EchoReply;
      expect(e.headers['x-user-group']).toBe('dev');
      expect(e.headers['x-tenant']).toBe('acme');
      expect(JSON.parse(Buffer.from(e.headers['x-jwt-payload']!, 'base64url').toString())).toMatchObject({ iss: OTHER, sub: 'bob' });
      if (req.headers?.['x-jwt'] !== undefined) expect(e.headers['x-jwt']).toBe(`Token ${t}`); // forwardOriginalToken
    }
  });

  it('the header prefix must be present', async () => {
    const t = await signToken(otherKey, { iss: OTHER, sub: 'bob' });
    expect((await send({ path: '/secure/q', headers: { 'x-jwt': t } })).status).toBe(403);
  });

  it('claims reach authorization (DENY on request.auth.claims)', async () => {
    const t = await signToken(otherKey, { iss: OTHER, sub: 'mallory', group: 'banned' });
    const res = await send({ path: '/public', headers: { 'x-jwt': `Token ${t}` } });
    expect(res.status).toBe(403);
    expect(res.body).toBe('RBAC: access denied');
    await sluice.waitFor(/"GET \/public HTTP\/1.1" 403 - rbac_access_denied_matched_policy\[ns\[istio-system\]-policy\[no-banned\]-rule\[0\]\]/, 'stdout');
  });
});

describe('RequestAuthentication: missing and invalid tokens', () => {
  it('a missing token passes authentication; authorization then answers 403', async () => {
    expect((await send({ path: '/public' })).status).toBe(200);
    const res = await send({ path: '/secure/x' });
    expect(res.status).toBe(403);
    expect(res.body).toBe('RBAC: access denied');
    await sluice.waitFor(/"GET \/secure\/x HTTP\/1.1" 403 - rbac_access_denied_matched_policy\[none\]/, 'stdout');
  });

  const bad: [string, () => Promise<string>, number, string][] = [
    ['bad signature', async () => { const t = await signToken(keys.RS256!, { iss: ISS, sub: 'a', aud: 'api.example.com' }); return `${t.slice(0, -6)}AAAAAA`; }, 401, 'Jwt verification fails'],
    ['expired', () => signToken(keys.RS256!, { iss: ISS, sub: 'a', aud: 'api.example.com' }, { expiresIn: -3600 }), 401, 'Jwt is expired'],
    ['not yet valid', () => signToken(keys.RS256!, { iss: ISS, sub: 'a', aud: 'api.example.com' }, { notBefore: 3600 }), 401, 'Jwt not yet valid'],
    ['unknown issuer', () => signToken(keys.RS256!, { iss: 'https://evil.example.com', sub: 'a' }), 401, 'Jwt issuer is not configured'],
    ['wrong audience (403, as Envoy)', () => signToken(keys.RS256!, { iss: ISS, sub: 'a', aud: 'web' }), 403, 'Audiences in Jwt are not allowed'],
    ['not a JWT', () => Promise.resolve('abc.def'), 401, 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections'],
  ];
  for (const [name, token, status, body] of bad) {
    it(`${name} → ${status} "${body}" even on a path that needs no token`, async () => {
      const res = await send({ path: '/public/p', headers: bearer(await token()) });
      expect(res.status).toBe(status);
      expect(res.body).toBe(body);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="http://api.example.com/public/p", error="invalid_token"');
    });
  }

  it('logs jwt_authn_access_denied{...} in the access log', async () => {
    const t = await signToken(keys.ES256!, { iss: ISS, sub: 'a', aud: 'api.example.com' }, { expiresIn: -100 });
    await send({ path: '/logged-expired', headers: bearer(t) });
    await sluice.waitFor(/"GET \/logged-expired HTTP\/1.1" 401 - jwt_authn_access_denied\{Jwt_is_expired\}/, 'stdout');
  });
});

describe('JWKS: rotation, outage, slow server', () => {
  it('a new kid triggers one refetch (rotation); the retired key then fails', async () => {
    const before = jwks.fetches('/flaky.json');
    const rotated = await makeKey('ES256', 'flaky-2');
    const oldToken = await signToken(flakyKey, { iss: FLAKY, sub: 'a' });
    expect((await send({ path: '/secure/r', headers: bearer(oldToken) })).status).toBe(200);
    jwks.publish([rotated], '/flaky.json');
    const t = await signToken(rotated, { iss: FLAKY, sub: 'a' });
    const res = await send({ path: '/secure/r', headers: bearer(t) });
    expect(res.status, res.body).toBe(200);
    expect(jwks.fetches('/flaky.json')).toBe(before + 1);
    // A fresh token signed by the retired key (not cached) is refused, without another fetch (cooldown).
    const stale = await signToken(flakyKey, { iss: FLAKY, sub: 'b' });
    const r2 = await send({ path: '/secure/r', headers: bearer(stale) });
    expect(r2.status).toBe(401);
    expect(r2.body).toBe("Jwks doesn't have key to match kid or alg from Jwt");
    expect(jwks.fetches('/flaky.json')).toBe(before + 1);
    flakyKey = rotated;
  });

  it('keeps serving the last good keys while the JWKS server fails', async () => {
    jwks.mode = 'error';
    try {
      const t = await signToken(keys.PS256!, { iss: ISS, sub: 'carol', aud: 'api.example.com' });
      expect((await send({ path: '/secure/down', headers: bearer(t) })).status).toBe(200);
    } finally {
      jwks.mode = 'up';
    }
  });

  it('a JWKS server that never answers: bounded by the rule timeout, then 401', async () => {
    const k = await makeKey('RS256', 'slow-1');
    const t = await signToken(k, { iss: SLOW, sub: 'a' });
    const res = await send({ path: '/public/slow', headers: bearer(t) });
    expect(res.status).toBe(401);
    expect(res.body).toBe('Jwks remote fetch is failed');
    await sluice.waitFor(/jwks: http:\/\/127\.0\.0\.1:\d+\/slow\.json: .*timed out after 1000 ms/);
  });
});

describe('config_dump', () => {
  it('shows the compiled providers, key sets and authorization policies', async () => {
    const res = await sluice.admin('/config_dump');
    expect(res.status).toBe(200);
    const text = await res.text();
    const dump = JSON.parse(text) as { listeners: { filterChains: { policies: { jwt: { providers: { issuer: string; keys: { state: string; keys: number } }[] }; rbac: { allow: { id: string }[] } } }[] }[] };
    const p = dump.listeners[0]!.filterChains[0]!.policies;
    expect(p.jwt.providers.find((x) => x.issuer === ISS)!.keys).toMatchObject({ state: 'ready', keys: 10 });
    expect(p.rbac.allow.map((a) => a.id)).toEqual(['ns[istio-system]-policy[require-jwt]']);
  });
});
