// `sluice demo`, the README's first command: the seed's Part 1 with its demo backends, as a
// new user runs it (on free ports here), and the examples it cannot run.

import { spawn } from 'node:child_process';
import { request } from 'node:https';
import { describe, expect, it } from 'vitest';
import { freePort } from '../support/ports.js';
import { runSluice, SLUICE_BIN } from '../support/sluice-process.js';

function httpsGet(port: number, host: string, path: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, servername: host, headers: { host }, rejectUnauthorized: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('sluice demo', () => {
  it('serves the seed ingress over HTTPS with a self-signed certificate and prints the try.txt commands with its ports', async () => {
    const [http, https, admin] = [await freePort(), await freePort(), await freePort()];
    const child = spawn(process.execPath, [SLUICE_BIN, 'demo', '--http-port', String(http), '--https-port', String(https), '--admin-port', String(admin)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); if (stderr.includes('sluice ready')) resolve(); });
        void exited.then((code) => reject(new Error(`sluice demo exited ${code}: ${stderr}`)));
      });
      expect(stderr).toContain(`curl -sk --resolve api.example.com:${https}:127.0.0.1 https://api.example.com:${https}/api/v1/users`);
      const r = await httpsGet(https, 'api.example.com', '/api/v1/users');
      expect(r.status).toBe(200);
      expect(r.headers.server).toBe('istio-envoy');
      expect(JSON.parse(r.body)).toMatchObject({ service: 'api-service', path: '/api/v1/users', headers: { 'x-forwarded-proto': 'https' } });
      const docs = await httpsGet(https, 'api.example.com', '/docs/intro');
      expect(JSON.parse(docs.body)).toMatchObject({ service: 'docs-service' });
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });

  it('an example that needs several processes points to its script; an unknown one lists the demos', async () => {
    const egress = await runSluice(['demo', '--example', 'seed-egress']);
    expect(egress.code).toBe(2);
    expect(egress.stderr).toContain('run examples/seed-egress/try.sh');
    const unknown = await runSluice(['demo', '--example', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('--example takes one of: seed-advanced-routing, seed-ingress, seed-security');
  });
});
