// Allow/deny decisions of the real RBAC engine for every AuthorizationPolicy field, `not*`
// form and condition key, compiled from YAML exactly as `sluice run` compiles it.

import { describe, expect, it } from 'vitest';
import type { MeshConfig } from '../../../../src/api/types.js';
import { AuthzView, denial } from '../../../../src/proxy/filters/rbac/engine.js';
import { chainOf, compileYaml, fakeStream, type FakeRequest } from '../../../compile/security/helpers.js';
import { HTTP_AND_TCP_GATEWAY } from '../../../support/yaml.js';

const BASE = `
${HTTP_AND_TCP_GATEWAY}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [gw]
  http: [{route: [{destination: {host: backend.default.svc.cluster.local, port: {number: 80}}}]}]
  tcp: [{route: [{destination: {host: backend.default.svc.cluster.local, port: {number: 80}}}]}]
`;

function policies(...specs: string[]): string {
  return specs.map((s, i) => `---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p${i}, namespace: istio-system}\nspec: ${s}\n`).join('');
}

function decide(yaml: string, r: FakeRequest, port = 80, mesh: MeshConfig = {}): string | null {
  const snap = compileYaml(BASE + yaml, { labels: { istio: 'ingressgateway' }, namespace: 'istio-system' }, mesh);
  const kind = port === 9000 ? 'tcp' : 'http';
  const chain = chainOf(snap, port, kind);
  const cfg = kind === 'tcp' ? chain.policies.networkRbac : chain.policies.rbac;
  if (cfg === null) return null;
  const s = fakeStream(snap, port, r, kind);
  return denial(cfg, new AuthzView(s.conn, kind === 'tcp' ? null : s, cfg.numTrustedProxies));
}

const ALLOW = (rule: string) => policies(`{action: ALLOW, rules: [${rule}]}`);
const DENY = (rule: string) => policies(`{action: DENY, rules: [${rule}]}`);
const PEER = (ns: string, sa = 'default') => [`spiffe://cluster.local/ns/${ns}/sa/${sa}`];

type Row = [name: string, policy: string, request: FakeRequest, allowed: boolean];

const rows: Row[] = [
  // ---- no policy, empty policy, empty rule
  ['no policy: allowed', '', {}, true],
  ['spec {} (ALLOW without rules) allows nothing', policies('{}'), {}, false],
  ['ALLOW rules: [{}] allows everything', ALLOW('{}'), {}, true],
  ['DENY rules: [{}] denies everything', DENY('{}'), {}, false],
  ['DENY wins over a matching ALLOW', `${ALLOW('{}')}${DENY('{to: [{operation: {paths: ["/admin"]}}]}').replace('name: p0', 'name: d0')}`, { path: '/admin' }, false],
  ['a non-matching DENY leaves ALLOW to decide', `${ALLOW('{}')}${DENY('{to: [{operation: {paths: ["/admin"]}}]}').replace('name: p0', 'name: d0')}`, { path: '/public' }, true],
  ['several ALLOW policies: any match allows', `${ALLOW('{to: [{operation: {paths: ["/a"]}}]}')}${ALLOW('{to: [{operation: {paths: ["/b"]}}]}').replace('name: p0', 'name: q0')}`, { path: '/b' }, true],
  // ---- from.source
  ['principals exact', ALLOW('{from: [{source: {principals: ["cluster.local/ns/shop/sa/cart"]}}]}'), { peerUriSans: PEER('shop', 'cart') }, true],
  ['principals exact, other identity', ALLOW('{from: [{source: {principals: ["cluster.local/ns/shop/sa/cart"]}}]}'), { peerUriSans: PEER('shop', 'web') }, false],
  ['principals "*" needs an mTLS identity', ALLOW('{from: [{source: {principals: ["*"]}}]}'), {}, false],
  ['principals "*" with an identity', ALLOW('{from: [{source: {principals: ["*"]}}]}'), { peerUriSans: PEER('a') }, true],
  ['principals prefix*', ALLOW('{from: [{source: {principals: ["cluster.local/ns/shop/*"]}}]}'), { peerUriSans: PEER('shop', 'x') }, true],
  ['principals *suffix', ALLOW('{from: [{source: {principals: ["*/sa/cart"]}}]}'), { peerUriSans: PEER('other', 'cart') }, true],
  ['notPrincipals excludes', ALLOW('{from: [{source: {notPrincipals: ["cluster.local/ns/shop/sa/cart"]}}]}'), { peerUriSans: PEER('shop', 'cart') }, false],
  ['notPrincipals passes a plaintext client', ALLOW('{from: [{source: {notPrincipals: ["*"]}}]}'), {}, true],
  ['requestPrincipals "*" needs a valid JWT', ALLOW('{from: [{source: {requestPrincipals: ["*"]}}]}'), {}, false],
  ['requestPrincipals "*" with a JWT', ALLOW('{from: [{source: {requestPrincipals: ["*"]}}]}'), { requestPrincipal: 'https://auth.example.com/alice' }, true],
  ['requestPrincipals exact iss/sub', ALLOW('{from: [{source: {requestPrincipals: ["https://auth.example.com/alice"]}}]}'), { requestPrincipal: 'https://auth.example.com/bob' }, false],
  ['requestPrincipals iss/*', ALLOW('{from: [{source: {requestPrincipals: ["https://auth.example.com/*"]}}]}'), { requestPrincipal: 'https://auth.example.com/bob' }, true],
  ['notRequestPrincipals "*" = only anonymous', ALLOW('{from: [{source: {notRequestPrincipals: ["*"]}}]}'), { requestPrincipal: 'i/s' }, false],
  ['namespaces from the peer identity', ALLOW('{from: [{source: {namespaces: ["shop"]}}]}'), { peerUriSans: PEER('shop') }, true],
  ['namespaces, other namespace', ALLOW('{from: [{source: {namespaces: ["shop"]}}]}'), { peerUriSans: PEER('web') }, false],
  ['namespaces prefix*', ALLOW('{from: [{source: {namespaces: ["team-*"]}}]}'), { peerUriSans: PEER('team-a') }, true],
  ['notNamespaces', ALLOW('{from: [{source: {notNamespaces: ["web"]}}]}'), { peerUriSans: PEER('web') }, false],
  ['serviceAccounts ns/sa', ALLOW('{from: [{source: {serviceAccounts: ["shop/cart"]}}]}'), { peerUriSans: PEER('shop', 'cart') }, true],
  ['notServiceAccounts', ALLOW('{from: [{source: {notServiceAccounts: ["shop/cart"]}}]}'), { peerUriSans: PEER('shop', 'cart') }, false],
  ['ipBlocks CIDR', ALLOW('{from: [{source: {ipBlocks: ["10.0.0.0/24"]}}]}'), { remoteAddress: '10.0.0.7' }, true],
  ['ipBlocks single IP, other client', ALLOW('{from: [{source: {ipBlocks: ["10.0.0.8"]}}]}'), { remoteAddress: '10.0.0.7' }, false],
  ['ipBlocks IPv6', ALLOW('{from: [{source: {ipBlocks: ["2001:db8::/32"]}}]}'), { remoteAddress: '2001:db8::1' }, true],
  ['notIpBlocks', DENY('{from: [{source: {notIpBlocks: ["10.0.0.0/8"]}}]}'), { remoteAddress: '192.168.1.1' }, false],
  ['notIpBlocks, inside the block', DENY('{from: [{source: {notIpBlocks: ["10.0.0.0/8"]}}]}'), { remoteAddress: '10.1.2.3' }, true],
  ['remoteIpBlocks without trusted proxies = the peer', ALLOW('{from: [{source: {remoteIpBlocks: ["203.0.113.0/24"]}}]}'), { remoteAddress: '10.0.0.1', headers: { 'x-forwarded-for': '203.0.113.9,10.0.0.1' } }, false],
  ['notRemoteIpBlocks', ALLOW('{from: [{source: {notRemoteIpBlocks: ["10.0.0.1"]}}]}'), { remoteAddress: '10.0.0.1' }, false],
  ['fields of one source AND', ALLOW('{from: [{source: {namespaces: ["shop"], ipBlocks: ["10.9.0.0/16"]}}]}'), { peerUriSans: PEER('shop'), remoteAddress: '10.0.0.1' }, false],
  ['from entries OR', ALLOW('{from: [{source: {namespaces: ["shop"]}}, {source: {ipBlocks: ["10.0.0.1"]}}]}'), { remoteAddress: '10.0.0.1' }, true],
  // ---- to.operation
  ['hosts exact, case-insensitive', ALLOW('{to: [{operation: {hosts: ["API.example.com"]}}]}'), { authority: 'api.EXAMPLE.com' }, true],
  ['hosts exact does not match with a port', ALLOW('{to: [{operation: {hosts: ["api.example.com"]}}]}'), { authority: 'api.example.com:8080' }, false],
  ['hosts host:* matches any port', ALLOW('{to: [{operation: {hosts: ["api.example.com:*"]}}]}'), { authority: 'api.example.com:8080' }, true],
  ['hosts *.suffix', ALLOW('{to: [{operation: {hosts: ["*.internal.company.com"]}}]}'), { authority: 'db.eu.internal.company.com' }, true],
  ['hosts *.suffix does not match the bare domain', ALLOW('{to: [{operation: {hosts: ["*.internal.company.com"]}}]}'), { authority: 'internal.company.com' }, false],
  ['notHosts', ALLOW('{to: [{operation: {notHosts: ["evil.com"]}}]}'), { authority: 'evil.com' }, false],
  ['ports: the port actually listened on', ALLOW('{to: [{operation: {ports: ["8080"]}}]}'), { localPort: 8080 }, true],
  ['ports, other port', ALLOW('{to: [{operation: {ports: ["8080"]}}]}'), { localPort: 80 }, false],
  ['notPorts', ALLOW('{to: [{operation: {notPorts: ["80"]}}]}'), { localPort: 80 }, false],
  ['methods', ALLOW('{to: [{operation: {methods: ["GET", "HEAD"]}}]}'), { method: 'HEAD' }, true],
  ['methods are case-sensitive', ALLOW('{to: [{operation: {methods: ["get"]}}]}'), { method: 'GET' }, false],
  ['notMethods', ALLOW('{to: [{operation: {notMethods: ["DELETE"]}}]}'), { method: 'DELETE' }, false],
  ['paths exact ignores the query', ALLOW('{to: [{operation: {paths: ["/api/users"]}}]}'), { path: '/api/users?page=2' }, true],
  ['paths prefix*', ALLOW('{to: [{operation: {paths: ["/api/*"]}}]}'), { path: '/api/v1/x' }, true],
  ['paths *suffix', ALLOW('{to: [{operation: {paths: ["*.png"]}}]}'), { path: '/img/a.png' }, true],
  ['paths "*"', ALLOW('{to: [{operation: {paths: ["*"]}}]}'), { path: '/' }, true],
  ['paths are normalised (dot segments)', DENY('{to: [{operation: {paths: ["/admin/*"]}}]}'), { path: '/public/../admin/keys' }, false],
  ['paths template {*} is one segment', ALLOW('{to: [{operation: {paths: ["/users/{*}/profile"]}}]}'), { path: '/users/42/profile' }, true],
  ['paths template {*} does not span segments', ALLOW('{to: [{operation: {paths: ["/users/{*}/profile"]}}]}'), { path: '/users/4/2/profile' }, false],
  ['paths template {**} matches the rest', ALLOW('{to: [{operation: {paths: ["/files/{**}"]}}]}'), { path: '/files/a/b/c.txt' }, true],
  ['notPaths', ALLOW('{to: [{operation: {notPaths: ["/private*"]}}]}'), { path: '/private/x' }, false],
  ['fields of one operation AND', ALLOW('{to: [{operation: {methods: ["GET"], paths: ["/a"]}}]}'), { method: 'POST', path: '/a' }, false],
  // ---- when
  ['request.headers[] exact', ALLOW('{when: [{key: "request.headers[x-token]", values: ["abc"]}]}'), { headers: { 'X-Token': 'abc' } }, true],
  ['request.headers[] absent', ALLOW('{when: [{key: "request.headers[x-token]", values: ["*"]}]}'), {}, false],
  ['request.headers[] notValues', ALLOW('{when: [{key: "request.headers[x-env]", notValues: ["prod"]}]}'), { headers: { 'x-env': 'prod' } }, false],
  ['request.headers[] notValues with the header absent', ALLOW('{when: [{key: "request.headers[x-env]", notValues: ["prod"]}]}'), {}, true],
  ['source.ip', ALLOW('{when: [{key: source.ip, values: ["10.0.0.0/8"]}]}'), { remoteAddress: '10.4.4.4' }, true],
  ['remote.ip', ALLOW('{when: [{key: remote.ip, values: ["10.0.0.1"]}]}'), { remoteAddress: '10.0.0.1' }, true],
  ['source.namespace', ALLOW('{when: [{key: source.namespace, values: ["shop"]}]}'), { peerUriSans: PEER('shop') }, true],
  ['source.principal', ALLOW('{when: [{key: source.principal, values: ["cluster.local/ns/shop/sa/default"]}]}'), { peerUriSans: PEER('shop') }, true],
  ['request.auth.principal', ALLOW('{when: [{key: request.auth.principal, values: ["iss/alice"]}]}'), { requestPrincipal: 'iss/alice' }, true],
  ['request.auth.audiences (list claim, any element)', ALLOW('{when: [{key: request.auth.audiences, values: ["api.example.com"]}]}'), { jwtPayload: { aud: ['other', 'api.example.com'] } }, true],
  ['request.auth.audiences (string)', ALLOW('{when: [{key: request.auth.audiences, values: ["api.example.com"]}]}'), { jwtPayload: { aud: 'web' } }, false],
  ['request.auth.presenter', ALLOW('{when: [{key: request.auth.presenter, values: ["spa-client"]}]}'), { jwtPayload: { azp: 'spa-client' } }, true],
  ['request.auth.claims[groups] any element', ALLOW('{when: [{key: "request.auth.claims[groups]", values: ["admin"]}]}'), { jwtPayload: { groups: ['dev', 'admin'] } }, true],
  ['request.auth.claims[] nested', ALLOW('{when: [{key: "request.auth.claims[realm_access][roles]", values: ["oper*"]}]}'), { jwtPayload: { realm_access: { roles: ['operator'] } } }, true],
  ['request.auth.claims[] notValues', ALLOW('{when: [{key: "request.auth.claims[groups]", notValues: ["banned"]}]}'), { jwtPayload: { groups: ['banned'] } }, false],
  ['request.auth.claims[] of a missing token', ALLOW('{when: [{key: "request.auth.claims[groups]", values: ["admin"]}]}'), {}, false],
  ['destination.ip', ALLOW('{when: [{key: destination.ip, values: ["10.0.0.100"]}]}'), {}, true],
  ['destination.port', ALLOW('{when: [{key: destination.port, values: ["80"]}]}'), { localPort: 80 }, true],
  ['connection.sni', ALLOW('{when: [{key: connection.sni, values: ["*.example.com"]}]}'), { sni: 'api.example.com' }, true],
  ['conditions AND', ALLOW('{when: [{key: source.ip, values: ["10.0.0.1"]}, {key: "request.headers[x-a]", values: ["1"]}]}'), { remoteAddress: '10.0.0.1' }, false],
  // ---- from × to × when
  ['a rule needs from, to and when together', ALLOW('{from: [{source: {ipBlocks: ["10.0.0.1"]}}], to: [{operation: {methods: ["GET"]}}], when: [{key: "request.headers[x-a]", values: ["1"]}]}'), { remoteAddress: '10.0.0.1', method: 'GET', headers: { 'x-a': '1' } }, true],
  // ---- dry-run and AUDIT never enforce
  ['dry-run DENY is not enforced', policies('{action: DENY, rules: [{}]}').replace('namespace: istio-system}', 'namespace: istio-system, annotations: {"istio.io/dry-run": "true"}}'), {}, true],
  ['dry-run ALLOW does not restrict', policies('{action: ALLOW, rules: [{to: [{operation: {paths: ["/x"]}}]}]}').replace('namespace: istio-system}', 'namespace: istio-system, annotations: {"istio.io/dry-run": "true"}}'), { path: '/y' }, true],
  ['AUDIT never changes the verdict', policies('{action: AUDIT, rules: [{}]}'), {}, true],
];

describe('AuthorizationPolicy decisions (HTTP)', () => {
  for (const [name, policy, req, allowed] of rows) {
    it(`${allowed ? 'allow' : 'deny '}: ${name}`, () => {
      const d = decide(policy, req);
      expect(d === null, `decision: ${d}`).toBe(allowed);
    });
  }

  it('names the matched DENY rule as Istio does', () => {
    expect(decide(DENY('{to: [{operation: {paths: ["/x"]}}]}, {}'), { path: '/y' })).toBe('ns[istio-system]-policy[p0]-rule[1]');
    expect(decide(ALLOW('{to: [{operation: {paths: ["/x"]}}]}'), { path: '/y' })).toBe('none');
  });

  it('remote.ip follows numTrustedProxies through x-forwarded-for', () => {
    const p = ALLOW('{from: [{source: {remoteIpBlocks: ["203.0.113.9"]}}]}');
    const req = { remoteAddress: '10.0.0.1', headers: { 'x-forwarded-for': '203.0.113.9,10.0.0.1' } };
    expect(decide(p, req, 80, { defaultConfig: { gatewayTopology: { numTrustedProxies: 1 } } })).toBeNull();
    expect(decide(p, req)).toBe('none');
  });
});

describe('AuthorizationPolicy decisions (TCP chains)', () => {
  const tcpRows: Row[] = [
    ['ipBlocks work on TCP', ALLOW('{from: [{source: {ipBlocks: ["10.0.0.1"]}}]}'), { remoteAddress: '10.0.0.1' }, true],
    ['ports work on TCP', ALLOW('{to: [{operation: {ports: ["9000"]}}]}'), { localPort: 9000 }, true],
    ['an ALLOW rule with HTTP-only fields never matches on TCP', ALLOW('{to: [{operation: {methods: ["GET"]}}]}'), {}, false],
    ['a DENY rule loses its HTTP-only fields on TCP (denies more)', DENY('{to: [{operation: {methods: ["DELETE"], ports: ["9000"]}}]}'), { localPort: 9000 }, false],
    ['a DENY rule with only HTTP fields denies every TCP connection', DENY('{to: [{operation: {paths: ["/admin"]}}]}'), {}, false],
    ['no policy: TCP allowed', '', {}, true],
  ];
  for (const [name, policy, req, allowed] of tcpRows) {
    it(`${allowed ? 'allow' : 'deny '}: ${name}`, () => expect(decide(policy, req, 9000) === null).toBe(allowed));
  }
});

describe('IpSet', () => {
  it('matches IPv4 CIDRs with integer masks and IPv6 through BlockList', async () => {
    const { IpSet, ipv4ToInt } = await import('../../../../src/proxy/filters/rbac/config.js');
    expect(ipv4ToInt('10.1.2.3')).toBe(0x0a010203);
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', 'a.b.c.d', '::1', '1.2.3.4 ']) expect(ipv4ToInt(bad), bad).toBe(-1);
    const s = new IpSet(['0.0.0.0/0']);
    expect(s.has('255.255.255.255')).toBe(true);
    expect(s.has('::1')).toBe(false);
    const t = new IpSet(['192.168.1.7', '10.0.0.0/8', 'fe80::/10']);
    expect([t.has('192.168.1.7'), t.has('192.168.1.8'), t.has('10.255.0.1'), t.has('11.0.0.1'), t.has('fe80::1'), t.has('2001:db8::1')]).toEqual([true, false, true, false, true, false]);
  });
});
