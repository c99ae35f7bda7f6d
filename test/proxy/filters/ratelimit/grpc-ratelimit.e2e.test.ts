// Global rate limiting against a real rate limit service over gRPC, as Envoy calls it: Istio's
// rate-limit EnvoyFilter names `outbound|8081||ratelimit.default.svc.cluster.local`, a
// ServiceEntry puts a @grpc/grpc-js server implementing
// envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit behind it, and no
// --ratelimit-config is given, so Sluice asks that service. The server's messages are written
// here from Envoy's protos (their names, field numbers and types), independently of Sluice's.

import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRequest } from '../../../conformance/runner.js';
import { startEchoBackend, type EchoBackend, type EchoReply } from '../../../support/echo-backend.js';
import { startUnaryGrpcServer } from '../../../support/grpc-server.js';
import { startSluice, type SluiceProcess } from '../../../support/sluice-process.js';
import { configFile, echoRouteYaml, globalRateLimitYaml } from '../../../support/yaml.js';
import { createTestCa, issueCert } from '../../../support/certs.js';

const ENVOY_PROTOS = [
  `syntax = "proto3"; package google.protobuf;
   message Duration { int64 seconds = 1; int32 nanos = 2; }
   message UInt64Value { uint64 value = 1; }`,
  `syntax = "proto3"; package envoy.config.core.v3;
   message HeaderValue { string key = 1; string value = 2; bytes raw_value = 3; }`,
  `syntax = "proto3"; package envoy.extensions.common.ratelimit.v3;
   message RateLimitDescriptor {
     message Entry { string key = 1; string value = 2; }
     message RateLimitOverride { uint32 requests_per_unit = 1; int32 unit = 2; }
     repeated Entry entries = 1; RateLimitOverride limit = 2; .google.protobuf.UInt64Value hits_addend = 3;
   }`,
  `syntax = "proto3"; package envoy.service.ratelimit.v3;
   message RateLimitRequest { string domain = 1; repeated .envoy.extensions.common.ratelimit.v3.RateLimitDescriptor descriptors = 2; uint32 hits_addend = 3; }
   message RateLimitResponse {
     enum Code { UNKNOWN = 0; OK = 1; OVER_LIMIT = 2; }
     message RateLimit { enum Unit { UNKNOWN = 0; SECOND = 1; MINUTE = 2; HOUR = 3; DAY = 4; MONTH = 5; YEAR = 6; WEEK = 7; } string name = 3; uint32 requests_per_unit = 1; Unit unit = 2; }
     message DescriptorStatus { Code code = 1; RateLimit current_limit = 2; uint32 limit_remaining = 3; .google.protobuf.Duration duration_until_reset = 4; }
     Code overall_code = 1;
     repeated DescriptorStatus statuses = 2;
     repeated .envoy.config.core.v3.HeaderValue response_headers_to_add = 3;
     repeated .envoy.config.core.v3.HeaderValue request_headers_to_add = 4;
     bytes raw_body = 5;
   }`,
];

interface RlsRequest { domain: string; descriptors: { entries: { key: string; value: string }[] }[]; hitsAddend?: number }

/** A rate limit service in miniature: PATH /limited allows 2 a minute, everything else is free. */
async function startRls(creds = grpc.ServerCredentials.createInsecure()): Promise<{ server: grpc.Server; port: number; seen: RlsRequest[] }> {
  const seen: RlsRequest[] = [];
  const counts = new Map<string, number>();
  const { server, port } = await startUnaryGrpcServer<RlsRequest, object>({
    protos: ENVOY_PROTOS, method: 'envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit',
    request: 'envoy.service.ratelimit.v3.RateLimitRequest', response: 'envoy.service.ratelimit.v3.RateLimitResponse',
    credentials: creds,
    handle: (r, cb) => {
      seen.push(r);
      if (r.descriptors.some((d) => d.entries.some((e) => e.value === '/broken'))) { cb({ code: grpc.status.UNAVAILABLE, details: 'redis is down' }); return; }
      let over = false;
      const statuses = r.descriptors.map((d) => {
        const limited = d.entries.some((e) => e.key === 'PATH' && e.value === '/limited');
        if (!limited) return { code: 'OK' };
        const key = `${r.domain}|${JSON.stringify(d.entries)}`;
        const n = (counts.get(key) ?? 0) + (r.hitsAddend || 1);
        counts.set(key, n);
        const code = n > 2 ? 'OVER_LIMIT' : 'OK';
        if (code === 'OVER_LIMIT') over = true;
        return { code, currentLimit: { requestsPerUnit: 2, unit: 'MINUTE' }, limitRemaining: Math.max(0, 2 - n), durationUntilReset: { seconds: 42 } };
      });
      cb(null, over
        ? { overallCode: 'OVER_LIMIT', statuses, responseHeadersToAdd: [{ key: 'x-rls', value: 'over' }], rawBody: Buffer.from('slow down') }
        : { overallCode: 'OK', statuses, requestHeadersToAdd: [{ key: 'x-rls-checked', value: 'yes' }], responseHeadersToAdd: [{ key: 'x-rls', value: 'ok' }] });
    },
  });
  return { server, port, seen };
}

function config(backend: number, rls: number, destinationRule = ''): string {
  return `
${echoRouteYaml(backend)}---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ratelimit, namespace: default}
spec:
  hosts: [ratelimit.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 8081, name: grpc, protocol: GRPC}]
  endpoints: [{address: 127.0.0.1, ports: {grpc: ${rls}}}]
---
${globalRateLimitYaml('ratelimit', true, ['[{request_headers: {header_name: ":path", descriptor_key: "PATH"}}]'])}${destinationRule}`;
}

describe('global rate limit service over gRPC (no --ratelimit-config)', () => {
  let echo: EchoBackend;
  let rls: Awaited<ReturnType<typeof startRls>>;
  let sluice: SluiceProcess;
  let port: number;

  beforeAll(async () => {
    echo = await startEchoBackend('echo');
    rls = await startRls();
    sluice = await startSluice({ config: [configFile(config(echo.port, rls.port))], ports: [80] });
    port = sluice.port(80);
  });
  afterAll(async () => {
    await sluice?.stop();
    rls?.server.forceShutdown();
    await echo?.close();
  });

  it('asks the service with the domain and descriptors; OK passes, with its request and response headers and x-ratelimit-*', async () => {
    const r = await sendRequest(port, { host: 'a.test', path: '/limited' });
    expect(r.status).toBe(200);
    expect((JSON.parse(r.body) as EchoReply).headers['x-rls-checked']).toBe('yes');
    expect(r.headers['x-rls']).toBe('ok');
    expect(r.headers['x-ratelimit-limit']).toBe('2');
    expect(r.headers['x-ratelimit-remaining']).toBe('1');
    expect(r.headers['x-ratelimit-reset']).toBe('42');
    const asked = rls.seen.at(-1)!;
    expect(asked.domain).toBe('ratelimit');
    expect(asked.descriptors).toEqual([{ entries: [{ key: 'PATH', value: '/limited' }] }]);
  });

  it('OVER_LIMIT: 429 with x-envoy-ratelimited, the service\'s headers and body, flag RL', async () => {
    expect((await sendRequest(port, { host: 'a.test', path: '/limited' })).status).toBe(200);
    const r = await sendRequest(port, { host: 'a.test', path: '/limited' });
    expect(r.status).toBe(429);
    expect(r.headers['x-envoy-ratelimited']).toBe('true');
    expect(r.headers['x-rls']).toBe('over');
    expect(r.body).toBe('slow down');
    await sluice.waitFor(/"GET \/limited HTTP\/1.1" 429 RL request_rate_limited/, 'stdout');
    expect((await sendRequest(port, { host: 'a.test', path: '/other' })).status).toBe(200);
  });

  it('the service failing (a gRPC error) with failure_mode_deny: 500 RLSE', async () => {
    const r = await sendRequest(port, { host: 'a.test', path: '/broken' });
    expect(r.status).toBe(500);
    await sluice.waitFor(/"GET \/broken HTTP\/1.1" 500 RLSE rate_limiter_error/, 'stdout');
    await sluice.waitFor(/gRPC UNAVAILABLE: redis is down/, 'stderr');
  });
});

describe('the rate limit service over gRPC with TLS (its DestinationRule: MUTUAL)', () => {
  const ca = createTestCa();
  const server = issueCert(ca, 'ratelimit', ['ratelimit.default.svc.cluster.local']);
  const client = issueCert(ca, 'gateway', ['gateway.example.com'], { client: true });
  let echo: EchoBackend;
  let rls: Awaited<ReturnType<typeof startRls>>;
  const gateways: SluiceProcess[] = [];

  const dr = (sans: string): string => `
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratelimit, namespace: istio-system}
spec:
  host: ratelimit.default.svc.cluster.local
  trafficPolicy:
    tls: {mode: MUTUAL, clientCertificate: ${client.certFile}, privateKey: ${client.keyFile}, caCertificates: ${ca.certFile}, subjectAltNames: [${sans}]}
`;

  beforeAll(async () => {
    echo = await startEchoBackend('echo');
    // The service asks for a client certificate signed by the same CA (mTLS).
    rls = await startRls(grpc.ServerCredentials.createSsl(Buffer.from(ca.certPem), [{ private_key: Buffer.from(server.key), cert_chain: Buffer.from(server.cert) }], true));
  });
  afterAll(async () => {
    for (const g of gateways) await g.stop();
    rls?.server.forceShutdown();
    await echo?.close();
  });

  it('a verified handshake with the client certificate: the service answers', async () => {
    const g = await startSluice({ config: [configFile(config(echo.port, rls.port, dr('ratelimit.default.svc.cluster.local')))], ports: [80] });
    gateways.push(g);
    const before = rls.seen.length;
    expect((await sendRequest(g.port(80), { host: 'a.test', path: '/tls' })).status).toBe(200);
    expect(rls.seen.length).toBe(before + 1);
  });

  it('a server certificate that matches none of subjectAltNames fails the call: 500 RLSE (failure_mode_deny)', async () => {
    const g = await startSluice({ config: [configFile(config(echo.port, rls.port, dr('someone-else.example.com')))], ports: [80] });
    gateways.push(g);
    const before = rls.seen.length;
    expect((await sendRequest(g.port(80), { host: 'a.test', path: '/tls' })).status).toBe(500);
    expect(rls.seen.length).toBe(before);
  });
});

