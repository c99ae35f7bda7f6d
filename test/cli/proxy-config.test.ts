// `sluice proxy-config` / `proxy-status` against a real running gateway (the seed-ingress
// conformance case: echo backends, generated certificates), and the admin /debug/trace.

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCase, type CaseEnvironment } from '../conformance/runner.js';
import { runSluice } from '../support/sluice-process.js';

const CASE = join(import.meta.dirname, '../conformance/seed-ingress');

describe('proxy-config, proxy-status and /debug/trace on a running gateway', () => {
  let env: CaseEnvironment;
  let admin: string;
  let configArgs: string[];
  beforeAll(async () => {
    env = await startCase(CASE);
    admin = `127.0.0.1:${env.sluice.adminPort}`;
    const args = env.sluice.child.spawnargs;
    configArgs = args.flatMap((a, i) => (a === '-c' || a === '--credentials' ? [a, args[i + 1]!] : []));
  });
  afterAll(async () => { await env?.close(); });

  it('routes: istioctl\'s columns, one row per route, the VirtualService as name.namespace', async () => {
    const r = await runSluice(['proxy-config', 'routes', '--admin', admin]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+VHOST NAME\s+DOMAINS\s+MATCH\s+VIRTUAL SERVICE$/);
    expect(lines).toContainEqual(expect.stringMatching(/^https\.443\.https\.main-gateway\.istio-system\s+api\.example\.com:443\s+api\.example\.com\s+\/api\/v1\*\s+api-routes\.default$/));
    expect(lines).toContainEqual(expect.stringMatching(/^http\.80\s+app\.example\.com:80\s+app\.example\.com\s+\/\* \(https redirect\)\s+-$/));
  });

  it('clusters, listeners and secrets', async () => {
    const c = await runSluice(['proxy-config', 'clusters', '--admin', admin]);
    expect(c.stdout).toMatch(/^SERVICE FQDN\s+PORT\s+SUBSET\s+DIRECTION\s+TYPE\s+DESTINATION RULE\n/);
    expect(c.stdout).toMatch(/api-service\.default\.svc\.cluster\.local\s+8080\s+-\s+outbound\s+EDS/);
    const l = await runSluice(['proxy-config', 'listeners', '--admin', admin]);
    expect(l.stdout).toMatch(new RegExp(`127\\.0\\.0\\.1\\s+${env.sluice.port(443)}\\s+SNI: api\\.example\\.com,app\\.example\\.com\\s+Route: https\\.443\\.https\\.main-gateway\\.istio-system`));
    const s = await runSluice(['proxy-config', 'secret', '--admin', admin]);
    expect(s.stdout).toMatch(/kubernetes:\/\/example-tls-secret\s+Cert Chain\s+ACTIVE\s+true\s+[0-9a-f]+\s+\d{4}-/);
  });

  it('endpoints carry the live health of each host', async () => {
    const r = await runSluice(['proxy-config', 'endpoints', '--admin', admin]);
    const api = env.backends.get('api')!;
    expect(r.stdout).toMatch(new RegExp(`127\\.0\\.0\\.1:${api.port}\\s+HEALTHY\\s+OK\\s+outbound\\|8080\\|\\|api-service\\.default\\.svc\\.cluster\\.local`));
  });

  it('-o json gives the section of the config dump', async () => {
    const r = await runSluice(['proxy-config', 'clusters', '--admin', admin, '-o', 'json']);
    const clusters = JSON.parse(r.stdout) as Record<string, { serviceHost: string }>;
    expect(Object.keys(clusters)).toContain('outbound|80||docs-service.default.svc.cluster.local');
  });

  it('proxy-status: SYNCED against its own files, STALE against others; unreachable is reported', async () => {
    const same = await runSluice(['proxy-status', '--admin', admin, ...configArgs]);
    expect(same.code).toBe(0);
    expect(same.stdout).toMatch(/^NAME\s+ADMIN\s+CDS\s+LDS\s+EDS\s+RDS\s+ECDS\s+CONFIG\s+VERSION\n/);
    expect(same.stdout).toMatch(/istio=ingressgateway\.istio-system\s+127\.0\.0\.1:\d+\s+SYNCED\s+SYNCED\s+SYNCED\s+SYNCED\s+NOT SENT\s+files v1/);
    const other = await runSluice(['proxy-status', '--admin', admin, '-c', join(import.meta.dirname, '../../examples/seed-advanced-routing')]);
    expect(other.code).toBe(1);
    expect(other.stdout).toContain('STALE (differs from -c)');
    const down = await runSluice(['proxy-status', '--admin', '127.0.0.1:1']);
    expect(down.code).toBe(1);
    expect(down.stdout).toContain('UNREACHABLE');
  });

  it('/debug/trace answers the trace of the serving snapshot, as text or JSON', async () => {
    const q = new URLSearchParams({ method: 'GET', url: 'https://api.example.com/docs/x' });
    const text = await env.sluice.admin(`/debug/trace?${q}`);
    expect(text.status).toBe(200);
    expect(text.headers.get('content-type')).toContain('text/plain');
    expect(await text.text()).toContain('result: forwarded to outbound|80||docs-service.default.svc.cluster.local');
    const bad = await env.sluice.admin('/debug/trace?method=GET');
    expect(bad.status).toBe(400);
    const badUrl = await env.sluice.admin('/debug/trace?url=gopher://x/');
    expect(badUrl.status).toBe(400);
    expect((await env.sluice.admin('/debug/trace?url=http://x/', { method: 'POST' })).status).toBe(405);
    expect(await (await env.sluice.admin('/')).text()).toContain('/debug/trace');
  });

  it('sluice trace --admin asks the running gateway', async () => {
    const r = await runSluice(['trace', '--admin', admin, 'GET', 'https://app.example.com/']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('result: 404 NR route_not_found');
    expect(r.stdout).toContain('fix: Gateway istio-system/main-gateway serves app.example.com on port 443 but no VirtualService binds it');
  });
});

describe('proxy-config offline (-c)', () => {
  it('prints what the config compiles to, without a running gateway', async () => {
    const r = await runSluice(['proxy-config', 'routes', '-c', join(import.meta.dirname, '../../examples/seed-advanced-routing')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/http\.80\s+example\.com:80\s+example\.com\s+\/health\s+advanced-routing\.default/);
    expect(r.stdout).toMatch(/http\.80\s+example\.com:80\s+example\.com\s+\^\/users\/\[0-9\]\+\/profile\$\s+advanced-routing\.default/);
    expect(r.stdout).toMatch(/http\.80\s+example\.com:80\s+example\.com\s+\/\* \(\+1 more\)\s+advanced-routing\.default/);
    const e = await runSluice(['proxy-config', 'endpoints', '-c', join(import.meta.dirname, '../../examples/seed-advanced-routing')]);
    expect(e.stdout).toMatch(/127\.0\.0\.1:9084\s+CONFIGURED\s+-\s+outbound\|8080\|\|health-service/);
  });
});
