import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curlViaProxy, tcpViaConnect } from '../mesh/support/app-client.js';
import { logLine, startEgressEnv, type EgressEnv } from '../mesh/support/egress-env.js';

// The seed's Part 2 exactly as drawn, with three real processes: the application (curl, with
// http_proxy/https_proxy pointing at its sidecar) → `sluice run --mode sidecar` → ISTIO_MUTUAL
// → `sluice run --labels istio=egressgateway` → external services on loopback. The egress
// gateway binds its outbound connections to 127.0.0.2, the seed's "fixed source IP".

const SLEEP = 'spiffe://cluster.local/ns/default/sa/sleep';
const EGRESS_CLUSTER = 'outbound\\|443\\|\\|istio-egressgateway\\.istio-system\\.svc\\.cluster\\.local';

describe("egress: the seed's Part 2 end to end (app → sidecar → egress gateway → external)", () => {
  let env: EgressEnv;
  beforeAll(async () => {
    env = await startEgressEnv({ gatewayArgs: ['--source-address', '127.0.0.2'] });
  });
  afterAll(async () => { await env?.close(); });

  it('HTTP egress with TLS origination (seed Steps 2-5): mTLS sidecar → gateway, TLS with the test CA to the API', async () => {
    const r = await curlViaProxy(env.outboundPort, 'http://api.external-service.com:443/v1/users?audit=tls-origination');
    expect(r.status).toBe(200);
    const seen = JSON.parse(r.body) as { server: string; sni: string; remoteAddress: string; path: string };
    expect(seen).toMatchObject({ server: 'api.external-service.com', sni: 'api.external-service.com', path: '/v1/users?audit=tls-origination' });
    expect(seen.remoteAddress).toBe('127.0.0.2'); // the gateway's fixed source address
    // The sidecar's line (Istio's default format): to the egress gateway cluster.
    const sidecarLine = await logLine(env.sidecar, /tls-origination/, /" 200 - via_upstream /, new RegExp(EGRESS_CLUSTER));
    expect(sidecarLine).toContain('"api.external-service.com:443"');
    // The gateway's auditor line: the caller's SPIFFE identity, the destination, bytes, duration, flags.
    const audit = await logLine(env.gateway, /^audit /, /authority=api\.external-service\.com:443/, /code=200/);
    expect(audit).toContain(`source=${SLEEP}`);
    expect(audit).toMatch(/sni=api\.external-service\.com upstream=127\.0\.0\.1:\d+ cluster=outbound\|443\|\|api\.external-service\.com code=200 flags=- rx=0 tx=\d+ duration=\d+/);
  });

  it('plain HTTP egress through the gateway (port 80)', async () => {
    const r = await curlViaProxy(env.outboundPort, 'http://httpbin.external-service.com/get?audit=plain');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ server: 'httpbin.external-service.com', sni: '', host: 'httpbin.external-service.com', remoteAddress: '127.0.0.2' });
    await logLine(env.sidecar, /audit=plain/, /outbound\|80\|\|istio-egressgateway/);
    // The sidecar → gateway hop on port 80 is plain HTTP (the gateway's server there is HTTP): no peer identity.
    const audit = await logLine(env.gateway, /^audit /, /authority=httpbin\.external-service\.com /);
    expect(audit).toMatch(/source=- .*cluster=outbound\|80\|\|httpbin\.external-service\.com code=200 flags=-/);
  });

  it('HTTPS egress by SNI passthrough with wildcard hosts (Pattern 3): TLS end to end from the app', async () => {
    const r = await curlViaProxy(env.outboundPort, 'https://storage.googleapis.com/b/bucket?audit=sni', ['--cacert', env.externalCa.certFile]);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ server: 'googleapis.com', sni: 'storage.googleapis.com', remoteAddress: '127.0.0.2' });
    const sidecarLine = await logLine(env.sidecar, /"storage\.googleapis\.com:443"/, new RegExp(EGRESS_CLUSTER));
    expect(sidecarLine).toMatch(/^\[[^\]]+\] "- - -" 0 - /);
    expect(sidecarLine).toMatch(/ storage\.googleapis\.com -$/);
    const audit = await logLine(env.gateway, /^audit /, /sni=storage\.googleapis\.com/);
    expect(audit).toMatch(/cluster=outbound\|443\|\|www\.googleapis\.com code=0 flags=- rx=\d+ tx=\d+/);
  });

  it('TCP egress to a database port (Pattern 2)', async () => {
    const r = await tcpViaConnect(env.outboundPort, 'db.external-service.com:5432', ['SELECT 1;', 'whoami']);
    expect(r.connectStatus).toBe('HTTP/1.1 200 OK');
    expect(r.received).toEqual(['db: SELECT 1;', 'db: you are 127.0.0.2']);
    await logLine(env.sidecar, /"db\.external-service\.com:5432"/, /outbound\|5432\|\|istio-egressgateway/);
    const audit = await logLine(env.gateway, /^audit /, /cluster=outbound\|5432\|\|db\.external-service\.com/);
    expect(audit).toMatch(/code=0 flags=- rx=17 tx=36/);
  });

  it('REGISTRY_ONLY (the seed\'s MeshConfig): an unregistered host gets 502 over HTTP, logged with the host', async () => {
    const r = await curlViaProxy(env.outboundPort, 'http://unknown.example.org/steal?audit=blocked');
    expect(r.status).toBe(502);
    const line = await logLine(env.sidecar, /audit=blocked/);
    expect(line).toMatch(/" 502 - direct_response .* "unknown\.example\.org" "-" - .* block_all$/);
  });

  it('REGISTRY_ONLY: an unregistered CONNECT tunnel is closed, logged as BlackHoleCluster with the host', async () => {
    const r = await curlViaProxy(env.outboundPort, 'https://unknown.example.org/');
    expect(r.status).toBe(0);
    expect([35, 56]).toContain(r.exit); // TLS handshake / receive failure: the tunnel was closed
    const line = await logLine(env.sidecar, /"unknown\.example\.org:443"/, /BlackHoleCluster/);
    expect(line).toMatch(/"- - -" 0 UH /);
    expect(line).toMatch(/ unknown\.example\.org -$/);
    const t = await tcpViaConnect(env.outboundPort, 'mysql.unknown.example.org:3306', ['hello']);
    expect(t.closedEarly).toBe(true);
    expect(t.received).toEqual([]);
    await logLine(env.sidecar, /"mysql\.unknown\.example\.org:3306"/, /BlackHoleCluster/);
  });

  it('https:// to api.external-service.com leaves the mesh directly, as Istio does: the seed routes only HTTP through the gateway', async () => {
    // The ServiceEntry registers the host (REGISTRY_ONLY allows it) and its port 443 is HTTPS:
    // the tunnelled TLS matches no `tls` rule, so it goes to the service, not the gateway.
    const r = await curlViaProxy(env.outboundPort, 'https://api.external-service.com/direct?audit=bypass', ['--cacert', env.externalCa.certFile]);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ sni: 'api.external-service.com', remoteAddress: '127.0.0.1' });
    const line = await logLine(env.sidecar, /"api\.external-service\.com:443"/, /outbound\|443\|\|api\.external-service\.com/);
    expect(line).toMatch(/"- - -" 0 - /);
  });
});
