// CUSTOM authorization with an `envoyExtAuthzGrpc` provider, end to end, for HTTP requests and
// for TCP connections (network ext_authz): a real gRPC server
// (@grpc/grpc-js) implementing Envoy's envoy.service.auth.v3.Authorization/Check, declared
// in meshConfig.extensionProviders, in front of an echo backend. The server's messages are
// written here from Envoy's own protos (their package and type names, field numbers and
// types), independently of the ones Sluice carries, so a field Sluice numbers differently fails.

import * as grpc from '@grpc/grpc-js';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRequest, type CaseRequest } from '../../../conformance/runner.js';
import { startEchoBackend, type EchoBackend, type EchoReply } from '../../../support/echo-backend.js';
import { freePort } from '../../../support/ports.js';
import { startUnaryGrpcServer } from '../../../support/grpc-server.js';
import { startSluice, type SluiceProcess } from '../../../support/sluice-process.js';
import { configFile, customAuthzYaml } from '../../../support/yaml.js';

const ENVOY_PROTOS = [
  `syntax = "proto3"; package google.protobuf;
   message BoolValue { bool value = 1; }
   message Timestamp { int64 seconds = 1; int32 nanos = 2; }`,
  `syntax = "proto3"; package google.rpc;
   message Status { int32 code = 1; string message = 2; }`,
  `syntax = "proto3"; package envoy.type.v3;
   enum StatusCode { Empty = 0; OK = 200; Unauthorized = 401; Forbidden = 403; ServiceUnavailable = 503; }
   message HttpStatus { StatusCode code = 1; }`,
  `syntax = "proto3"; package envoy.config.core.v3;
   message SocketAddress { enum Protocol { TCP = 0; UDP = 1; } Protocol protocol = 1; string address = 2; oneof port_specifier { uint32 port_value = 3; string named_port = 4; } string resolver_name = 5; bool ipv4_compat = 6; }
   message Pipe { string path = 1; uint32 mode = 2; }
   message Address { oneof address { SocketAddress socket_address = 1; Pipe pipe = 2; } }
   message HeaderValue { string key = 1; string value = 2; bytes raw_value = 3; }
   message HeaderValueOption { enum HeaderAppendAction { APPEND_IF_EXISTS_OR_ADD = 0; ADD_IF_ABSENT = 1; OVERWRITE_IF_EXISTS_OR_ADD = 2; OVERWRITE_IF_EXISTS = 3; }
     HeaderValue header = 1; .google.protobuf.BoolValue append = 2; HeaderAppendAction append_action = 3; bool keep_empty_value = 4; }`,
  `syntax = "proto3"; package envoy.service.auth.v3;
   message AttributeContext {
     message Peer { .envoy.config.core.v3.Address address = 1; string service = 2; map<string, string> labels = 3; string principal = 4; string certificate = 5; }
     message Request { .google.protobuf.Timestamp time = 1; HttpRequest http = 2; }
     message HttpRequest { string id = 1; string method = 2; map<string, string> headers = 3; string path = 4; string host = 5; string scheme = 6;
       string query = 7; string fragment = 8; int64 size = 9; string protocol = 10; string body = 11; bytes raw_body = 12; }
     Peer source = 1; Peer destination = 2; Request request = 4; map<string, string> context_extensions = 10;
   }
   message CheckRequest { AttributeContext attributes = 1; }
   message DeniedHttpResponse { .envoy.type.v3.HttpStatus status = 1; repeated .envoy.config.core.v3.HeaderValueOption headers = 2; string body = 3; }
   message OkHttpResponse { repeated .envoy.config.core.v3.HeaderValueOption headers = 2; repeated string headers_to_remove = 5; repeated .envoy.config.core.v3.HeaderValueOption response_headers_to_add = 6; }
   message CheckResponse { .google.rpc.Status status = 1; oneof http_response { DeniedHttpResponse denied_response = 2; OkHttpResponse ok_response = 3; } }`,
];

interface Check {
  attributes: {
    source: { address: { socketAddress: { address: string; portValue: number } } };
    destination: { address: { socketAddress: { address: string; portValue: number } } };
    request: { time: { seconds: number }; http?: { id: string; method: string; headers: Record<string, string>; path: string; host: string; scheme: string; protocol: string } };
  };
}

/** Istio's sample ext-authz server (its gRPC side), in miniature: the x-ext-authz header decides. */
async function startGrpcAuthz(): Promise<{ server: grpc.Server; port: number; seen: Check[]; tcp: { verdict: 'allow' | 'deny' } }> {
  const seen: Check[] = [];
  const tcp = { verdict: 'allow' as 'allow' | 'deny' };
  const header = (key: string, value: string, append?: boolean) => ({ header: { key, value }, ...(append !== undefined ? { append: { value: append } } : {}) });
  const { server, port } = await startUnaryGrpcServer<Check, object>({
    protos: ENVOY_PROTOS, method: 'envoy.service.auth.v3.Authorization/Check',
    request: 'envoy.service.auth.v3.CheckRequest', response: 'envoy.service.auth.v3.CheckResponse',
    handle: (c, cb) => {
      seen.push(c);
      // A TCP connection (no HTTP attributes): the test sets the verdict.
      if (c.attributes.request.http === undefined) { cb(null, tcp.verdict === 'allow' ? { status: { code: 0 } } : { status: { code: 7 } }); return; }
      const v = c.attributes.request.http.headers['x-ext-authz'];
      if (v === 'allow') {
        cb(null, { status: { code: 0 }, okResponse: {
          headers: [header('x-ext-authz-check-result', 'allowed'), header('x-user', 'alice', false), header('x-tag', 'two', true)],
          headersToRemove: ['x-remove-me'],
          responseHeadersToAdd: [header('x-authz-said', 'yes')],
        } });
        return;
      }
      if (v === 'error') { cb({ code: grpc.status.INTERNAL, details: 'the policy engine failed' }); return; }
      if (v === 'hang') return;
      const code = v === 'who-are-you' ? 401 : undefined;
      cb(null, { status: { code: 7, message: 'denied' }, deniedResponse: {
        ...(code !== undefined ? { status: { code } } : {}),
        headers: [header('x-ext-authz-check-result', 'denied')],
        body: 'denied by ext_authz for not found header `x-ext-authz: allow` in the request',
      } });
    },
  });
  return { server, port, seen, tcp };
}

function config(backend: number, authz: number, tcpPort: number): string {
  return `
${customAuthzYaml(backend, authz, 9000, 'GRPC', 'sample-ext-authz-grpc')}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ext-authz-tcp, namespace: istio-system}
spec:
  action: CUSTOM
  provider: {name: sample-ext-authz-grpc}
  rules: [{to: [{operation: {ports: ["${tcpPort}"]}}]}]
`;
}

const MESH = `
extensionProviders:
- name: sample-ext-authz-grpc
  envoyExtAuthzGrpc:
    service: ext-authz.default.svc.cluster.local
    port: 9000
    timeout: 1s
    includeRequestBodyInCheck: {maxRequestBytes: 16}
`;

describe('CUSTOM authorization over gRPC (envoyExtAuthzGrpc)', () => {
  let echo: EchoBackend;
  let authz: Awaited<ReturnType<typeof startGrpcAuthz>>;
  let sluice: SluiceProcess;
  let port: number;
  let tcpPort: number;
  const send = (r: CaseRequest) => sendRequest(port, { host: 'api.example.com', ...r });

  beforeAll(async () => {
    echo = await startEchoBackend('echo');
    authz = await startGrpcAuthz();
    port = await freePort();
    tcpPort = await freePort();
    sluice = await startSluice({ config: [configFile(config(echo.port, authz.port, tcpPort))], args: ['--mesh', configFile(MESH, 'mesh.yaml'), '--port-map', `80=${port},9000=${tcpPort}`] });
  });
  afterAll(async () => {
    await sluice?.stop();
    authz?.server.forceShutdown();
    await echo?.close();
  });

  it('status OK allows: ok_response headers set (or appended) upstream, headers_to_remove removed, response_headers_to_add to the client', async () => {
    const r = await send({ path: '/protected/a?q=1', headers: { 'x-ext-authz': 'allow', 'x-user': 'mallory', 'x-tag': 'one', 'x-remove-me': 'bye' } });
    expect(r.status).toBe(200);
    const seen = (JSON.parse(r.body) as EchoReply).headers;
    expect(seen['x-ext-authz-check-result']).toBe('allowed');
    expect(seen['x-user']).toBe('alice');
    expect(seen['x-tag']).toBe('one,two');
    expect(seen['x-remove-me']).toBeUndefined();
    expect(r.headers['x-authz-said']).toBe('yes');
    // What the service was asked: Envoy's CheckRequest attributes.
    const c = authz.seen.at(-1)!.attributes;
    expect(c.request.http).toMatchObject({ method: 'GET', path: '/protected/a?q=1', host: 'api.example.com', scheme: 'http', protocol: 'HTTP/1.1' });
    expect(c.request.http!.headers).toMatchObject({ ':method': 'GET', ':path': '/protected/a?q=1', ':authority': 'api.example.com', 'x-ext-authz': 'allow' });
    expect(c.request.http!.id).toBe(seen['x-request-id']);
    expect(c.source.address.socketAddress.address).toBe('127.0.0.1');
    expect(c.destination.address.socketAddress.portValue).toBe(port);
    expect(Math.abs(c.request.time.seconds - Date.now() / 1000)).toBeLessThan(60);
  });

  it('includeRequestBodyInCheck: the body goes in the CheckRequest; one above maxRequestBytes gets 413 (allowPartialMessage unset)', async () => {
    const r = await send({ method: 'POST', path: '/protected/p', headers: { 'x-ext-authz': 'allow', 'content-type': 'application/json' }, body: '{"a":1}' });
    expect(r.status).toBe(200);
    const http = authz.seen.at(-1)!.attributes.request.http as { body?: string; size?: number; headers: Record<string, string> };
    expect(http.body).toBe('{"a":1}');
    expect(http.size).toBe(7);
    expect(http.headers['x-envoy-auth-partial-body']).toBe('false');
    expect((JSON.parse(r.body) as EchoReply).bodyBytes).toBe(7);
    const before = authz.seen.length;
    const big = await send({ method: 'POST', path: '/protected/p', headers: { 'x-ext-authz': 'allow' }, body: 'x'.repeat(100) });
    expect(big.status).toBe(413);
    expect(big.body).toBe('Payload Too Large');
    expect(authz.seen.length).toBe(before);
  });

  it('another status denies with denied_response: 403 by default, its body and headers, flag UAEX', async () => {
    const r = await send({ path: '/protected/b' });
    expect(r.status).toBe(403);
    expect(r.body).toBe('denied by ext_authz for not found header `x-ext-authz: allow` in the request');
    expect(r.headers['x-ext-authz-check-result']).toBe('denied');
    await sluice.waitFor(/"GET \/protected\/b HTTP\/1.1" 403 UAEX ext_authz_denied/, 'stdout');
  });

  it("denied_response.status sets the client's status", async () => {
    const r = await send({ path: '/protected/c', headers: { 'x-ext-authz': 'who-are-you' } });
    expect(r.status).toBe(401);
  });

  it('a request no CUSTOM rule matches is not checked', async () => {
    const before = authz.seen.length;
    expect((await send({ path: '/public' })).status).toBe(200);
    expect(authz.seen.length).toBe(before);
  });

  it('a gRPC error or no answer within the timeout: statusOnError (403), ext_authz_error', async () => {
    const e = await send({ path: '/protected/d', headers: { 'x-ext-authz': 'error' } });
    expect(e.status).toBe(403);
    await sluice.waitFor(/"GET \/protected\/d HTTP\/1.1" 403 UAEX ext_authz_error/, 'stdout');
    await sluice.waitFor(/sample-ext-authz-grpc: gRPC INTERNAL: the policy engine failed/, 'stderr');
    const started = Date.now();
    const h = await send({ path: '/protected/e', headers: { 'x-ext-authz': 'hang' } });
    expect(h.status).toBe(403);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    await sluice.waitFor(/gRPC DEADLINE_EXCEEDED/, 'stderr');
  });

  /** Raw HTTP over the TCP port: what comes back before the connection ends. */
  const overTcp = (): Promise<string> => new Promise((resolve) => {
    const c = connect(tcpPort, '127.0.0.1');
    let got = '';
    c.on('data', (d: Buffer) => { got += d.toString(); if (got.includes('"backend"')) c.end(); });
    c.on('error', () => {});
    c.on('close', () => resolve(got));
    c.write('GET /over-tcp HTTP/1.1\r\nHost: tcp.example.com\r\n\r\n');
  });

  it('TCP: a connection a CUSTOM rule matches is checked once (no HTTP attributes); OK proxies it', async () => {
    authz.tcp.verdict = 'allow';
    const before = authz.seen.length;
    expect(await overTcp()).toContain('"path":"/over-tcp"');
    expect(authz.seen.length).toBe(before + 1);
    const c = authz.seen.at(-1)!.attributes;
    expect(c.request.http).toBeUndefined();
    expect(c.destination.address.socketAddress.portValue).toBe(tcpPort);
    expect(c.source.address.socketAddress.address).toBe('127.0.0.1');
  });

  it('TCP: a denial closes the connection before anything is proxied, flag UAEX', async () => {
    authz.tcp.verdict = 'deny';
    const seenByEcho = echo.seen.length;
    expect(await overTcp()).toBe('');
    expect(echo.seen.length).toBe(seenByEcho);
    await sluice.waitFor(/"- - -" 0 UAEX ext_authz_denied/, 'stdout');
  });
});
