import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestCa, issueCert } from '../support/certs.js';
import { runSluice } from '../support/sluice-process.js';
import { curlViaProxy } from '../mesh/support/app-client.js';
import { logLine, startEgressEnv, type EgressEnv } from '../mesh/support/egress-env.js';

// ISTIO_MUTUAL between Sluice processes checks identities both ways: the sidecar expects the
// egress gateway's service account (from its WorkloadEntry) and refuses an impostor signed by
// the same mesh CA; the gateway accepts only mesh workloads (the mesh root) and logs who they
// are. Workload certificates are short-lived and renewed without dropping connections.

describe('egress: the sidecar refuses a gateway with the wrong identity', () => {
  let env: EgressEnv;
  beforeAll(async () => {
    // Same mesh CA, same address, but the process runs as another service account.
    env = await startEgressEnv({ gatewayServiceAccount: 'impostor' });
  });
  afterAll(async () => { await env?.close(); });

  it('503 UF with the SAN mismatch as the transport failure reason; nothing reaches the API', async () => {
    const r = await curlViaProxy(env.outboundPort, 'http://api.external-service.com:443/v1/secrets?audit=impostor');
    expect(r.status).toBe(503);
    expect(r.body).toMatch(/upstream connect error .* reset reason: remote connection failure, transport failure reason: TLS_error: /);
    const line = await logLine(env.sidecar, /audit=impostor/);
    expect(line).toMatch(/" 503 (URX,)?UF upstream_reset_before_response_started\{remote_connection_failure\|TLS_error:_/);
    expect(line).toContain('spiffe://cluster.local/ns/istio-system/sa/impostor');
    expect(line).toContain('spiffe://cluster.local/ns/istio-system/sa/istio-egressgateway-service-account');
    expect(env.api.seen.some((s) => s.path.includes('impostor'))).toBe(false);
  });
});

describe('egress: the gateway accepts mesh workloads only, and renews its certificate without dropping connections', () => {
  let env: EgressEnv;
  let workload: { cert: string; key: string; root: string };
  beforeAll(async () => {
    env = await startEgressEnv({ gatewayArgs: ['--workload-cert-ttl', '3s'] });
    const out = join(env.dir, 'reporter');
    const r = await runSluice(['ca', 'issue', '--dir', env.caDir, '--namespace', 'team-a', '--service-account', 'reporter', '--out', out]);
    expect(r.code).toBe(0);
    workload = { cert: readFileSync(join(out, 'cert-chain.pem'), 'utf8'), key: readFileSync(join(out, 'key.pem'), 'utf8'), root: readFileSync(join(out, 'root-cert.pem'), 'utf8') };
  });
  afterAll(async () => { await env?.close(); });

  function handshake(opts: { cert?: string; key?: string }): Promise<{ ok: boolean; error: string }> {
    return new Promise((resolve) => {
      const s: TLSSocket = tlsConnect({ host: '127.0.0.1', port: env.gatewayPorts.https, servername: 'api.external-service.com', ca: workload.root, checkServerIdentity: () => undefined, ...opts });
      s.once('secureConnect', () => {
        // TLS 1.3: the server's verdict on the client certificate arrives after the handshake.
        s.write('GET / HTTP/1.1\r\nhost: api.external-service.com\r\n\r\n');
      });
      s.once('data', () => { s.destroy(); resolve({ ok: true, error: '' }); });
      s.once('error', (e) => resolve({ ok: false, error: e.message }));
      s.once('close', () => resolve({ ok: false, error: 'closed' }));
    });
  }

  it('refuses a client without a certificate and one from another CA, and says why', async () => {
    expect((await handshake({})).ok).toBe(false);
    const foreign = createTestCa('Not the mesh');
    const c = issueCert(foreign, 'reporter', ['spiffe://cluster.local/ns/team-a/sa/reporter'], { client: true });
    expect((await handshake({ cert: c.cert, key: c.key })).ok).toBe(false);
    await env.gateway.waitFor(/closed: client certificate not verified|closed: TLS handshake failed/);
  });

  it('serves a mesh workload and logs its SPIFFE identity', async () => {
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: env.gatewayPorts.https, servername: 'api.external-service.com', path: '/v1/whoami?audit=reporter', headers: { host: 'api.external-service.com:443' }, cert: workload.cert, key: workload.key, ca: workload.root, checkServerIdentity: () => undefined, agent: false }, (r) => {
        let body = '';
        r.on('data', (d: Buffer) => { body += d.toString(); });
        r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(res.status).toBe(200);
    const audit = await logLine(env.gateway, /^audit /, /authority=api\.external-service\.com:443/, /code=200/);
    expect(audit).toContain('source=spiffe://cluster.local/ns/team-a/sa/reporter');
  });

  it('renews the gateway certificate: open connections carry on, new handshakes get the new one', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const get = (path: string): Promise<{ status: number; serial: string; localPort: number }> => new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: env.gatewayPorts.https, servername: 'api.external-service.com', path, headers: { host: 'api.external-service.com:443' }, cert: workload.cert, key: workload.key, ca: workload.root, checkServerIdentity: () => undefined, agent }, (r) => {
        const sock = r.socket as TLSSocket; // returned to the agent's pool on 'end'
        const serial = sock.getPeerCertificate().serialNumber.toLowerCase();
        const localPort = sock.localPort ?? 0;
        r.resume();
        r.on('end', () => resolve({ status: r.statusCode ?? 0, serial, localPort }));
      });
      req.on('error', reject);
      req.end();
    });
    const before = await get('/renewal/1');
    expect(before.status).toBe(200);
    const serialNow = async (): Promise<string> => ((await (await env.gateway.admin('/certs')).json()) as { workload: { secret: { cert_chain: { serial_number: string }[] } } }).workload.secret.cert_chain[0]!.serial_number;
    expect(await serialNow()).toBe(before.serial);
    await expect.poll(serialNow, { timeout: 15_000, interval: 100 }).not.toBe(before.serial);
    await env.gateway.waitFor(/config version \d+ serving/);
    // The kept-alive connection still works, with the certificate it was opened with.
    const same = await get('/renewal/2');
    expect(same).toMatchObject({ status: 200, serial: before.serial, localPort: before.localPort });
    agent.destroy();
    const fresh = await get('/renewal/3');
    expect(fresh.status).toBe(200);
    expect(fresh.serial).not.toBe(before.serial);
    expect(fresh.localPort).not.toBe(before.localPort);
    agent.destroy();
  });
});
