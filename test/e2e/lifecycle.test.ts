import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEchoBackend, type EchoBackend } from '../support/echo-backend.js';
import { runSluice, startSluice, type SluiceProcess } from '../support/sluice-process.js';
import { docs, gatewayYaml, serviceEntryYaml, virtualServiceYaml } from '../support/yaml.js';

function config(routeTo: string, ports: Record<string, number>, extraRule = ''): string {
  return docs(
    gatewayYaml(['*']),
    virtualServiceYaml('main', ['*'], `${extraRule}  - route: [{destination: {host: ${routeTo}.default.svc.cluster.local}}]`),
    ...Object.entries(ports).map(([n, p]) => serviceEntryYaml(n, p)),
  );
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host: 'life.test' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function until(fn: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await fn()) return Date.now() - start;
    if (Date.now() - start > timeoutMs) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('start-up with an invalid config', () => {
  it('exits 2 and lists every error with file:line:col and the fix', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-bad-'));
    writeFileSync(join(dir, 'gw.yaml'), `apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata:
  name: istio-egress-gateway
  namespace: istio-system
spec:
  selector:
    istio: egressgateway
  servers:
  - port:
      number: 443
      name: https
      protocol: HTTPS
    hosts:
    - "api.external-service.com"
    tls:
      mode: ISTIO_MUTUAL_TLS
`);
    writeFileSync(join(dir, 'vs.yaml'), `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bad-regex, namespace: default}
spec:
  hosts: [a.test]
  gateways: [istio-system/gw]
  http:
  - match: [{uri: {regex: "(unclosed"}}]
    route: [{destination: {host: a}}]
`);
    const r = await runSluice(['run', '-c', dir, '--admin-port', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/gw\.yaml:17:\d+: error IST0106 Gateway istio-system\/istio-egress-gateway spec\.servers\[0\]\.tls\.mode: .*"ISTIO_MUTUAL_TLS".*did you mean "ISTIO_MUTUAL"/);
    expect(r.stderr).toMatch(/vs\.yaml:8:\d+: error IST0122 VirtualService default\/bad-regex spec\.http\[0\]\.match\[0\]\.uri\.regex/);
    expect(r.stderr).toMatch(/2 errors; not starting/);
  });

  it('refuses a bad flag with exit code 2', async () => {
    const r = await runSluice(['run', '--port-map', '80:eighty']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--port-map 80:eighty: expected SERVICE_PORT=LOCAL_PORT/);
  });
});

describe('running: reloads and drain', () => {
  let a: EchoBackend;
  let b: EchoBackend;
  let dir: string;
  let sluice: SluiceProcess;
  let port: number;

  beforeAll(async () => {
    a = await startEchoBackend('a');
    b = await startEchoBackend('b');
    dir = mkdtempSync(join(tmpdir(), 'sluice-life-'));
    writeFileSync(join(dir, 'config.yaml'), config('a', { a: a.port, b: b.port }));
    sluice = await startSluice({ config: [dir], ports: [80] });
    port = sluice.port(80);
  });
  afterAll(async () => {
    await sluice?.stop('SIGKILL');
    await a?.close();
    await b?.close();
  });

  it('applies a valid change within a second and reports the serving version', async () => {
    expect(JSON.parse((await get(port, '/x')).body).backend).toBe('a');
    const before = (await (await sluice.admin('/config_status')).json()) as { version: number };
    writeFileSync(join(dir, 'config.yaml'), config('b', { a: a.port, b: b.port }));
    // Typically live in ~100-300 ms (watch + 60 ms debounce); the bound is loose so a loaded CI
    // machine does not make the test fail on timing.
    await until(async () => JSON.parse((await get(port, '/x')).body).backend === 'b', 'route switched to b', 5000);
    const after = (await (await sluice.admin('/config_status')).json()) as { version: number };
    expect(after.version).toBeGreaterThan(before.version);
  });

  it('keeps the last good version of a resource whose edit is invalid, and applies the other changes', async () => {
    writeFileSync(join(dir, 'config.yaml'), config('b', { a: a.port, b: b.port }, `  - match: [{uri: {regex: "(broken"}}]\n    route: [{destination: {host: a}}]\n`));
    writeFileSync(join(dir, 'extra.yaml'), docs(virtualServiceYaml('extra', ['extra.test'], '  - directResponse: {status: 200, body: {string: extra works}}')));
    await until(async () => {
      const st = (await (await sluice.admin('/config_status')).json()) as { heldBack: string[] };
      return st.heldBack.includes('VirtualService default/main');
    }, 'invalid edit reported as held back');
    // The old `main` (route to b) still serves; the new `extra` resource is live.
    expect(JSON.parse((await get(port, '/x')).body).backend).toBe('b');
    const st = (await (await sluice.admin('/config_status')).json()) as { diagnostics: { code: string; path: string }[] };
    expect(st.diagnostics.some((d) => d.code === 'IST0122' && d.path === 'spec.http[0].match[0].uri.regex')).toBe(true);
    await sluice.waitFor(/last good version kept for: VirtualService default\/main/);
    const extra = await new Promise<string>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path: '/', headers: { host: 'extra.test' } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => { body += c.toString(); });
        res.on('end', () => resolve(body));
      }).on('error', reject).end();
    });
    expect(extra).toBe('extra works');
    writeFileSync(join(dir, 'config.yaml'), config('a', { a: a.port, b: b.port }));
    await until(async () => JSON.parse((await get(port, '/x')).body).backend === 'a', 'fixed edit applied');
  });

  it('drops nothing across reloads under load: requests, a WebSocket and a long download', async () => {
    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const loop = async (): Promise<void> => {
      while (!stop) {
        try {
          const r = await get(port, '/load');
          if (r.status === 200) ok++;
          else failures.push(`status ${r.status}`);
        } catch (e) {
          failures.push((e as Error).message);
        }
      }
    };
    const loops = Array.from({ length: 8 }, loop);
    // A long streamed download: 40 chunks 50 ms apart (2 s).
    const download = get(port, '/drip/40/50');
    // A WebSocket that keeps talking during the reloads.
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    const echoes: string[] = [];
    ws.addEventListener('message', (e) => echoes.push(String(e.data)));
    await new Promise<void>((resolve, reject) => { ws.addEventListener('open', () => resolve()); ws.addEventListener('error', () => reject(new Error('websocket failed'))); });
    for (let i = 0; i < 6; i++) {
      writeFileSync(join(dir, 'config.yaml'), config(i % 2 === 0 ? 'b' : 'a', { a: a.port, b: b.port }));
      ws.send(`m${i}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    ws.send('last');
    await until(async () => echoes.length === 7, 'all websocket echoes');
    stop = true;
    await Promise.all(loops);
    const dl = await download;
    ws.close();
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(50);
    expect(dl.status).toBe(200);
    expect(dl.body.split('\n').filter((l) => l !== '').length).toBe(40);
    expect(echoes).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'last'].map((m) => `a:${m}`));
  });

  it('drains on SIGTERM: in-flight requests finish, then the process exits 0', async () => {
    const inflight = get(port, '/delay/800');
    await new Promise((r) => setTimeout(r, 100));
    sluice.child.kill('SIGTERM');
    await until(async () => (await sluice.admin('/ready').then((r) => r.status, () => 0)) !== 200, 'not ready while draining', 2000).catch(() => 0);
    const r = await inflight;
    expect(r.status).toBe(200);
    expect(await sluice.exited).toBe(0);
    // The last access-log line of the in-flight request was written before exit.
    expect(sluice.stdout.some((l) => l.includes('"GET /delay/800 HTTP/1.1" 200'))).toBe(true);
  });
});
