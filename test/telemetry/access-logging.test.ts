import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRequest } from '../conformance/runner.js';
import { startEchoBackend, type EchoBackend } from '../support/echo-backend.js';
import { startSluice, type SluiceProcess } from '../support/sluice-process.js';
import { docs, echoVirtualServiceYaml, gatewayYaml, serviceEntryYaml } from '../support/yaml.js';

// Access logging through the Telemetry API, end to end: the real `sluice run`, its stdout
// (the `envoy` provider) and files written by envoyFileAccessLog providers.

const VS = echoVirtualServiceYaml('edge');

function rootTelemetry(accessLogging: string): string {
  return `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  accessLogging:
${accessLogging.replace(/^/gm, '  ')}`;
}

/** Lines of a file once one matches `re` (polls; the file is written asynchronously). */
async function waitForFileLine(file: string, re: RegExp, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = existsSync(file) ? readFileSync(file, 'utf8').split('\n').find((l) => re.test(l)) : undefined;
    if (line !== undefined) return line;
    if (Date.now() > deadline) throw new Error(`no line matching ${re} in ${file}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Lets already-written stdout bytes reach the test's buffer (stdout to a pipe is written synchronously). */
async function drainPipes(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
}

describe('access logging: providers, filters, formats, reloads', () => {
  let echo: EchoBackend;
  let sluice: SluiceProcess;
  let dir: string;
  let port: number;
  const get = (path: string, headers: Record<string, string> = {}) => sendRequest(port, { host: 'api.example.com', path, headers });
  const stdoutLines = (needle: string) => sluice.stdout.filter((l) => l.includes(needle));

  beforeAll(async () => {
    echo = await startEchoBackend('echo');
    dir = mkdtempSync(join(tmpdir(), 'sluice-accesslog-'));
    writeFileSync(join(dir, 'mesh.yaml'), `accessLogEncoding: JSON
extensionProviders:
- name: audit
  envoyFileAccessLog:
    path: ${join(dir, 'audit.log')}
    logFormat:
      text: "%REQ(:AUTHORITY)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %RESPONSE_CODE% user=%REQ(X-USER)%\\n"
- name: json-file
  envoyFileAccessLog:
    path: ${join(dir, 'access.json')}
    logFormat:
      labels:
        code: "%RESPONSE_CODE%"
        path: "%REQ(:PATH)%"
        missing: "%REQ(X-NOPE)%"
        mixed: "code=%RESPONSE_CODE% flags=%RESPONSE_FLAGS%"
`);
    writeFileSync(join(dir, 'config.yaml'), docs(gatewayYaml(['*']), serviceEntryYaml('echo', echo.port), VS,
      rootTelemetry(`- providers: [{name: envoy}]
  filter: {expression: "request.headers['x-log'] == 'yes'"}
- providers: [{name: audit}]`)));
    sluice = await startSluice({ config: [join(dir, 'config.yaml')], ports: [80], args: ['--mesh', join(dir, 'mesh.yaml')] });
    port = sluice.port(80);
  });
  afterAll(async () => {
    await sluice?.stop();
    await echo?.close();
  });

  it('a filter on a request header decides the stdout line; a header that is absent fails the filter (no line)', async () => {
    expect((await get('/quiet-1')).status).toBe(200);
    expect((await get('/loud-1', { 'x-log': 'yes' })).status).toBe(200);
    const line = await sluice.waitFor(/"path":"\/loud-1"/, 'stdout');
    expect(stdoutLines('/quiet-1')).toEqual([]);
    // meshConfig.accessLogEncoding JSON: the built-in provider writes Istio's JSON line, typed as Envoy types it.
    const j = JSON.parse(line) as Record<string, unknown>;
    expect(j).toMatchObject({ method: 'GET', path: '/loud-1', protocol: 'HTTP/1.1', response_code: 200, response_flags: '-', response_code_details: 'via_upstream', authority: 'api.example.com', upstream_cluster: 'outbound|80||echo.default.svc.cluster.local', upstream_transport_failure_reason: null, requested_server_name: null });
    expect(typeof j.bytes_sent).toBe('number');
    expect(typeof j.duration).toBe('number');
    expect(Object.keys(j)).toEqual([...Object.keys(j)].sort());
  });

  it('a second provider (a file, text format) logs every request', async () => {
    await get('/quiet-2', { 'x-user': 'bob' });
    const line = await waitForFileLine(join(dir, 'audit.log'), /\/quiet-2/);
    expect(line).toBe('api.example.com /quiet-2 200 user=bob');
    expect(await waitForFileLine(join(dir, 'audit.log'), /\/loud-1/)).toBe('api.example.com /loud-1 200 user=-');
  });

  it('a reload disables the stdout log and switches the file provider to JSON labels', async () => {
    writeFileSync(join(dir, 'config.yaml'), docs(gatewayYaml(['*']), serviceEntryYaml('echo', echo.port), VS,
      rootTelemetry(`- providers: [{name: envoy}]
  disabled: true
- providers: [{name: json-file}]`)));
    const deadline = Date.now() + 10_000;
    for (;;) {
      const dump = (await (await sluice.admin('/config_dump')).json()) as { telemetry?: { client: { accessLogs: { provider: string }[] } } };
      if (dump.telemetry?.client.accessLogs.map((l) => l.provider).join() === 'json-file') break;
      if (Date.now() > deadline) throw new Error('reload not applied');
      await new Promise((r) => setTimeout(r, 100));
    }
    await get('/after-reload', { 'x-log': 'yes' });
    await get('/status/503', { 'x-log': 'yes' });
    const line = await waitForFileLine(join(dir, 'access.json'), /after-reload/);
    expect(JSON.parse(line)).toEqual({ code: 200, missing: null, mixed: 'code=200 flags=-', path: '/after-reload' });
    expect(JSON.parse(await waitForFileLine(join(dir, 'access.json'), /status\/503/))).toMatchObject({ code: 503 });
    await drainPipes();
    expect(stdoutLines('/after-reload')).toEqual([]);
    expect(stdoutLines('/status/503')).toEqual([]);
  });
});
