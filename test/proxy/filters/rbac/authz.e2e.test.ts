// AuthorizationPolicy end to end: CUSTOM (ext_authz over HTTP to a real authorization
// server named in meshConfig.extensionProviders), DENY on a TCP port (connection closed),
// dry-run and AUDIT policies that log without enforcing.

import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRequest, type CaseRequest } from '../../../conformance/runner.js';
import { startEchoBackend, type EchoBackend, type EchoReply } from '../../../support/echo-backend.js';
import { freePort } from '../../../support/ports.js';
import { startSluice, type SluiceProcess } from '../../../support/sluice-process.js';
import { configFile, customAuthzYaml } from '../../../support/yaml.js';

interface Seen { method: string; url: string; headers: IncomingMessage['headers']; body: string }

/** Istio's sample ext-authz server, in miniature: the x-ext-authz header decides. */
async function startAuthz(): Promise<{ server: Server; port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => answer(req, res, Buffer.concat(chunks).toString()));
  });
  const answer = (req: IncomingMessage, res: ServerResponse, body: string): void => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
    const v = req.headers['x-ext-authz'];
    if (v === 'allow') { res.writeHead(200, { 'x-ext-authz-check-result': 'allowed', 'x-user': 'alice', 'x-internal': 'secret' }); res.end(); return; }
    if (v === 'error') { res.writeHead(503); res.end('broken'); return; }
    if (v === 'hang') return;
    res.writeHead(403, { 'x-ext-authz-check-result': 'denied', 'x-internal': 'secret', 'content-type': 'text/plain' });
    res.end('denied by ext_authz for header x-ext-authz');
  };
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, seen };
}

function config(backend: number, authz: number, tcpPort: number): string {
  return `
${customAuthzYaml(backend, authz, 8000, 'HTTP', 'sample-ext-authz-http')}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-tcp-from-loopback, namespace: istio-system}
spec:
  action: DENY
  rules: [{from: [{source: {ipBlocks: ["127.0.0.0/8"]}}], to: [{operation: {ports: ["${tcpPort}"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: would-deny, namespace: istio-system, annotations: {istio.io/dry-run: "true"}}
spec:
  action: DENY
  rules: [{to: [{operation: {paths: ["/dry"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: audit-admin, namespace: istio-system}
spec:
  action: AUDIT
  rules: [{to: [{operation: {paths: ["/audited"]}}]}]
`;
}

const MESH = (failOpen: boolean) => `
extensionProviders:
- name: sample-ext-authz-http
  envoyExtAuthzHttp:
    service: ext-authz.default.svc.cluster.local
    port: 8000
    pathPrefix: /check
    timeout: 1s
    failOpen: ${failOpen}
    includeRequestHeadersInCheck: [x-ext-authz]
    headersToUpstreamOnAllow: [x-user]
    headersToDownstreamOnDeny: [x-ext-authz-check-result]
    includeRequestBodyInCheck: {maxRequestBytes: 1000, allowPartialMessage: true}
`;

let echo: EchoBackend;
let authz: Awaited<ReturnType<typeof startAuthz>>;
let sluice: SluiceProcess;
let httpPort: number;
let tcpPort: number;

const send = (r: CaseRequest) => sendRequest(httpPort, { host: 'api.example.com', ...r });

beforeAll(async () => {
  echo = await startEchoBackend('echo');
  authz = await startAuthz();
  httpPort = await freePort();
  tcpPort = await freePort();
  sluice = await startSluice({ config: [configFile(config(echo.port, authz.port, tcpPort))], args: ['--mesh', configFile(MESH(false), 'mesh.yaml'), '--port-map', `80=${httpPort},9000=${tcpPort}`] });
});

afterAll(async () => {
  await sluice?.stop();
  await echo?.close();
  await new Promise((r) => authz?.server.close(r));
});

describe('CUSTOM: ext_authz over HTTP', () => {
  it('paths the CUSTOM rules do not match never reach the authorization service', async () => {
    const before = authz.seen.length;
    expect((await send({ path: '/public' })).status).toBe(200);
    expect(authz.seen.length).toBe(before);
  });

  it('allowed: the check carries method, prefixed path, Host and the configured headers; headersToUpstreamOnAllow reach the backend', async () => {
    const res = await send({ method: 'GET', path: '/protected/a?x=1', headers: { 'x-ext-authz': 'allow', 'x-other': 'no', authorization: 'Basic abc' } });
    expect(res.status).toBe(200);
    const e = JSON.parse(res.body) as EchoReply;
    expect(e.headers['x-user']).toBe('alice');
    expect(e.headers['x-internal']).toBeUndefined();
    const check = authz.seen.at(-1)!;
    expect(check.method).toBe('GET');
    expect(check.url).toBe('/check/protected/a?x=1');
    expect(check.headers.host).toBe('api.example.com');
    expect(check.headers['x-ext-authz']).toBe('allow');
    expect(check.headers.authorization).toBe('Basic abc');
    expect(check.headers['x-other']).toBeUndefined();
  });

  it('includeRequestBodyInCheck: the check carries the body (its first maxRequestBytes, marked partial); the backend gets all of it', async () => {
    const small = await send({ method: 'POST', path: '/protected/upload', headers: { 'x-ext-authz': 'allow', 'content-type': 'text/plain' }, body: 'hello' });
    expect(small.status).toBe(200);
    expect(authz.seen.at(-1)!.body).toBe('hello');
    expect(authz.seen.at(-1)!.headers['x-envoy-auth-partial-body']).toBe('false');
    expect((JSON.parse(small.body) as EchoReply).bodyBytes).toBe(5);
    // 300 KB: the check gets the first 1000 bytes; the rest streams to the backend after it.
    const big = 'abcdefghij'.repeat(30_000);
    const r = await send({ method: 'POST', path: '/protected/upload', headers: { 'x-ext-authz': 'allow' }, body: big });
    expect(r.status).toBe(200);
    const check = authz.seen.at(-1)!;
    expect(check.body).toBe(big.slice(0, 1000));
    expect(check.headers['content-length']).toBe('1000');
    expect(check.headers['x-envoy-auth-partial-body']).toBe('true');
    const e = JSON.parse(r.body) as EchoReply;
    expect(e.bodyBytes).toBe(big.length);
    expect(e.bodySha256).toBe(createHash('sha256').update(big).digest('hex'));
  });

  it('includeRequestBodyInCheck over HTTP/2 (h2c): the same check, the whole body upstream', async () => {
    const big = '0123456789'.repeat(20_000);
    const r = await send({ http2: true, method: 'POST', path: '/protected/upload-h2', headers: { 'x-ext-authz': 'allow' }, body: big });
    expect(r.status).toBe(200);
    expect(authz.seen.at(-1)!.body).toBe(big.slice(0, 1000));
    const e = JSON.parse(r.body) as EchoReply;
    expect(e.bodyBytes).toBe(big.length);
    expect(e.bodySha256).toBe(createHash('sha256').update(big).digest('hex'));
  });

  it('denied: the service\'s status and body, headersToDownstreamOnDeny only, flag UAEX', async () => {
    const res = await send({ path: '/protected/b', headers: { 'x-ext-authz': 'deny' } });
    expect(res.status).toBe(403);
    expect(res.body).toBe('denied by ext_authz for header x-ext-authz');
    expect(res.headers['x-ext-authz-check-result']).toBe('denied');
    expect(res.headers['x-internal']).toBeUndefined();
    await sluice.waitFor(/"GET \/protected\/b HTTP\/1.1" 403 UAEX ext_authz_denied/, 'stdout');
  });

  it('a 5xx from the service or no answer within timeout: statusOnError (403) — fail closed', async () => {
    expect((await send({ path: '/protected/c', headers: { 'x-ext-authz': 'error' } })).status).toBe(403);
    const hung = await send({ path: '/protected/d', headers: { 'x-ext-authz': 'hang' } });
    expect(hung.status).toBe(403);
    await sluice.waitFor(/"GET \/protected\/d HTTP\/1.1" 403 UAEX ext_authz_error/, 'stdout');
  });
});

describe('DENY on a TCP port', () => {
  it('closes the connection without reaching the backend, and logs the policy', async () => {
    const before = echo.seen.length;
    const bytes = await new Promise<number>((resolve, reject) => {
      let n = 0;
      const s = connect(tcpPort, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n'));
      s.on('data', (d) => { n += d.length; });
      s.on('close', () => resolve(n));
      s.on('error', () => resolve(n));
      setTimeout(() => reject(new Error('not closed')), 10_000).unref();
    });
    expect(bytes).toBe(0);
    expect(echo.seen.length).toBe(before);
    await sluice.waitFor(/"- - -" 0 - rbac_access_denied_matched_policy\[ns\[istio-system\]-policy\[no-tcp-from-loopback\]-rule\[0\]\]/, 'stdout');
  });

  it('the same policy leaves the HTTP port alone (its rule names the TCP port)', async () => {
    expect((await send({ path: '/tcp-rule-does-not-apply' })).status).toBe(200);
  });
});

describe('dry-run and AUDIT', () => {
  it('istio.io/dry-run: the DENY is logged, not enforced', async () => {
    expect((await send({ path: '/dry' })).status).toBe(200);
    await sluice.waitFor(/rbac: dry-run: GET api\.example\.com\/dry from 127\.0\.0\.1 would be denied by ns\[istio-system\]-policy\[would-deny\]-rule\[0\]/);
  });

  it('AUDIT: logged, never changes the verdict', async () => {
    expect((await send({ path: '/audited' })).status).toBe(200);
    await sluice.waitFor(/rbac: AUDIT GET api\.example\.com\/audited from 127\.0\.0\.1 matched ns\[istio-system\]-policy\[audit-admin\]-rule\[0\]/);
  });
});

describe('CUSTOM with failOpen', () => {
  let open: SluiceProcess;
  beforeAll(async () => {
    open = await startSluice({ config: [configFile(config(echo.port, authz.port, await freePort()))], ports: [80, 9000], args: ['--mesh', configFile(MESH(true), 'mesh.yaml')] });
  });
  afterAll(async () => { await open?.stop(); });

  it('an authorization service error lets the request through, marked x-envoy-auth-failure-mode-allowed', async () => {
    const res = await sendRequest(open.port(80), { host: 'api.example.com', path: '/protected/e', headers: { 'x-ext-authz': 'error' } });
    expect(res.status).toBe(200);
    expect((JSON.parse(res.body) as EchoReply).headers['x-envoy-auth-failure-mode-allowed']).toBe('true');
  });

  it('a denial is still a denial', async () => {
    expect((await sendRequest(open.port(80), { host: 'api.example.com', path: '/protected/f', headers: { 'x-ext-authz': 'deny' } })).status).toBe(403);
  });
});
