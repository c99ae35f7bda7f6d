import { connect as h2connect } from 'node:http2';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EchoReply } from '../support/echo-backend.js';
import { startCase, type CaseEnvironment } from '../conformance/runner.js';

const dir = fileURLToPath(new URL('../conformance/seed-advanced-routing', import.meta.url));

describe('downstream protocols and disconnects', () => {
  let env: CaseEnvironment;
  beforeAll(async () => { env = await startCase(dir); });
  afterAll(async () => { await env?.close(); });

  it('serves h2c with prior knowledge on a plain HTTP port, routed by the same rules', async () => {
    const session = h2connect(`http://127.0.0.1:${env.sluice.port(80)}`);
    const get = (path: string, body?: string): Promise<{ status: number; body: string }> => new Promise((resolve, reject) => {
      const s = session.request({ ':method': body === undefined ? 'GET' : 'POST', ':path': path, ':authority': 'example.com', 'x-canary': 'true' });
      let out = '';
      let status = 0;
      s.on('response', (h) => { status = Number(h[':status']); });
      s.on('data', (d: Buffer) => { out += d.toString(); });
      s.on('end', () => resolve({ status, body: out }));
      s.on('error', reject);
      s.end(body);
    });
    const r1 = await get('/users/7/profile');
    expect(r1.status).toBe(200);
    expect((JSON.parse(r1.body) as EchoReply).backend).toBe('users');
    const r2 = await get('/anything', 'h2 body');
    const echo = JSON.parse(r2.body) as EchoReply;
    expect(echo.backend).toBe('canary');
    expect(echo.method).toBe('POST');
    expect(echo.bodyBytes).toBe(7);
    session.close();
    await env.sluice.waitFor(/"POST \/anything HTTP\/2" 200/, 'stdout');
  });

  it('logs DC when the client goes away before the response', async () => {
    await new Promise<void>((resolve) => {
      const req = request({ host: '127.0.0.1', port: env.sluice.port(80), path: '/delay/1500', headers: { host: 'example.com', 'x-canary': 'true' } });
      req.on('error', () => resolve());
      req.end();
      setTimeout(() => { req.destroy(); resolve(); }, 200);
    });
    const line = await env.sluice.waitFor(/"GET \/delay\/1500 HTTP\/1\.1" 0 DC downstream_remote_disconnect/, 'stdout', 5000);
    expect(line).toMatch(/outbound\|8080\|\|api-canary\.default\.svc\.cluster\.local/);
  });
});
