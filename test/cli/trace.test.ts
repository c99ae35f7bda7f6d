// `sluice trace` as a user runs it: text and JSON output, exit codes, usage errors.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Trace } from '../../src/trace/types.js';
import { makeKey, signToken, startJwksServer } from '../support/jwks-server.js';
import { runSluice } from '../support/sluice-process.js';
import { docs, gatewayYaml, serviceEntryYaml, virtualServiceYaml } from '../support/yaml.js';
import { configFile } from '../trace/helpers.js';

const EX = join(import.meta.dirname, '../../examples/seed-advanced-routing');

describe('sluice trace', () => {
  it('prints each decision with its file:line and the upstream request; exit 0', async () => {
    const r = await runSluice(['trace', '-c', EX, 'GET', 'http://example.com/api/v2/orders', '-H', 'x-canary:true']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('trace GET http://example.com/api/v2/orders -H x-canary:true');
    expect(r.stdout).toMatch(/route\s+✗ #0 VirtualService default\/advanced-routing spec\.http\[0\]\.match\[0\]: path exact "\/health" — request has path "\/api\/v2\/orders"/);
    expect(r.stdout).toMatch(/route\s+✓ #1 VirtualService default\/advanced-routing spec\.http\[1\]\.match\[0\]: matched: path prefix "\/api\/v2\/"/);
    expect(r.stdout).toMatch(/at VirtualService default\/advanced-routing spec\.http\[1\]\.match\[0\]  examples\/seed-advanced-routing\/istio\.yaml:\d+:\d+/);
    expect(r.stdout).toContain('result: forwarded to outbound|8080||api-v2-service.default.svc.cluster.local (endpoint 127.0.0.1:9085)');
    expect(r.stdout).toContain('  GET /api/v1/orders HTTP/1.1');
  });

  it('-o json is the trace; a 404 exits 1 and carries the fix', async () => {
    const r = await runSluice(['trace', '-c', EX, '-o', 'json', 'http://elsewhere.example.com/']);
    expect(r.code).toBe(1);
    const t = JSON.parse(r.stdout) as Trace;
    expect(t.outcome).toMatchObject({ kind: 'local_reply', status: 404, responseFlags: 'NR' });
    expect(t.outcome.fix).toContain('not elsewhere.example.com');
  });

  it('--draw follows the other side of a split', async () => {
    const r = await runSluice(['trace', '-c', EX, '-o', 'json', '--draw', '0.95', 'GET', 'http://example.com/']);
    expect((JSON.parse(r.stdout) as Trace).upstream?.host).toBe('api-canary.default.svc.cluster.local');
  });

  it('--placeholder-credentials traces an HTTPS server whose Secret is not in the repository (the seed-ingress README command)', async () => {
    const ingress = join(import.meta.dirname, '../../examples/seed-ingress');
    const without = await runSluice(['trace', '-c', ingress, 'GET', 'https://api.example.com/docs/intro']);
    expect(without.code).toBe(1);
    expect(without.stdout).toContain('--placeholder-credentials');
    const r = await runSluice(['trace', '-c', ingress, '--placeholder-credentials', 'GET', 'https://api.example.com/docs/intro']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('result: forwarded to outbound|80||docs-service.default.svc.cluster.local');
  });

  it('usage errors exit 2 with the reason', async () => {
    const bad = await runSluice(['trace', '-c', EX, 'GET', 'ftp://example.com/']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('scheme ftp is not traced');
    const hdr = await runSluice(['trace', '-c', EX, 'GET', 'http://example.com/', '-H', 'nocolon']);
    expect(hdr.code).toBe(2);
    expect(hdr.stderr).toContain('-H nocolon: expected name:value');
    const wl = await runSluice(['trace', '-c', EX, '--sidecar', 'bad', 'GET', 'http://example.com/']);
    expect(wl.code).toBe(2);
  });

  it('--jwt: the token is verified as the gateway would (JWKS fetched with the rule\'s timeout), and authorization decides on it', async () => {
    const jwks = await startJwksServer();
    try {
      const key = await makeKey('RS256', 'k1');
      jwks.publish([key]);
      const file = configFile(docs(gatewayYaml(['api.example.com']), virtualServiceYaml('api', ['api.example.com'], '  - route: [{destination: {host: api}}]'), serviceEntryYaml('api', 9000), `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt-auth, namespace: istio-system}
spec:
  jwtRules: [{issuer: "https://auth.example.com", jwksUri: "${jwks.url()}", audiences: [api.example.com]}]`, `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: require-jwt, namespace: istio-system}
spec:
  rules: [{from: [{source: {requestPrincipals: ["*"]}}]}]`));
      const good = await signToken(key, { iss: 'https://auth.example.com', sub: 'alice', aud: 'api.example.com' });
      const ok = await runSluice(['trace', '-c', file, 'GET', 'http://api.example.com/x', '--jwt', good]);
      expect(ok.code).toBe(0);
      expect(ok.stdout).toMatch(/filter\s+✓ envoy\.filters\.http\.jwt_authn: JWT from https:\/\/auth\.example\.com accepted by RequestAuthentication istio-system\/jwt-auth jwtRules\[0\]: request\.auth\.principal = https:\/\/auth\.example\.com\/alice/);
      expect(ok.stdout).toContain(`keys fetched now from ${jwks.url()}`);
      expect(ok.stdout).toMatch(/filter\s+✓ envoy\.filters\.http\.rbac: allowed by ALLOW AuthorizationPolicy istio-system\/require-jwt rule 0/);
      const expired = await signToken(key, { iss: 'https://auth.example.com', sub: 'alice', aud: 'api.example.com' }, { expiresIn: -600 });
      const no = await runSluice(['trace', '-c', file, '-o', 'json', 'GET', 'http://api.example.com/x', '--jwt', expired]);
      expect(no.code).toBe(1);
      const t = JSON.parse(no.stdout) as Trace;
      expect(t.outcome).toMatchObject({ status: 401, body: 'Jwt is expired' });
      expect(t.filters.find((f) => f.name === 'envoy.filters.http.jwt_authn')?.decidedBy).toMatchObject({ resource: 'RequestAuthentication istio-system/jwt-auth', path: 'spec.jwtRules[0]' });
      const fetches = jwks.fetches();
      const noFetch = await runSluice(['trace', '-c', file, 'GET', 'http://api.example.com/x', '--jwt', good, '--no-jwks-fetch']);
      expect(noFetch.stdout).toMatch(/jwt_authn: keys for issuer https:\/\/auth\.example\.com come from .* which this offline trace was told not to fetch/);
      expect(jwks.fetches()).toBe(fetches);
    } finally {
      await jwks.close();
    }
  });
});
