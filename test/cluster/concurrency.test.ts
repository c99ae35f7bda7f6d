import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRequest } from '../conformance/runner.js';
import { startEchoBackend, type EchoBackend } from '../support/echo-backend.js';
import { startSluice, type SluiceProcess } from '../support/sluice-process.js';
import { configFile, docs, gatewayYaml, serviceEntryYaml, virtualServiceYaml } from '../support/yaml.js';

// `sluice run --concurrency 2`: two worker processes share the listeners; the primary keeps
// one admin API (stats summed over workers), one watcher (a change reloads every worker) and
// replaces a worker that dies.

const config = (port: number, extraRoute: boolean): string => docs(
  gatewayYaml(['*']),
  virtualServiceYaml('vs', ['*'], `${extraRoute ? '  - match: [{uri: {prefix: /added}}]\n    route: [{destination: {host: echo, port: {number: 8080}}}]\n' : ''}  - match: [{uri: {prefix: /echo}}]
    route: [{destination: {host: echo, port: {number: 8080}}}]`),
  serviceEntryYaml('echo', port, 8080),
);

interface Status { version: number; workers: { pid: number; version: number }[] }

function requestsTotal(text: string, code: string): number {
  let n = 0;
  for (const line of text.split('\n')) if (line.startsWith('istio_requests_total{') && line.includes(`response_code="${code}"`)) n += Number(line.slice(line.lastIndexOf(' ') + 1));
  return n;
}

for (const codec of ['node', 'fast']) {
  describe(`--concurrency 2 [--codec ${codec}]`, () => {
    let echo: EchoBackend;
    let sluice: SluiceProcess;
    let file: string;
    const status = async (): Promise<Status> => (await (await sluice.admin('/config_status')).json()) as Status;
    beforeAll(async () => {
      echo = await startEchoBackend('echo');
      file = configFile(config(echo.port, false));
      sluice = await startSluice({ config: [file], ports: [80], args: ['--concurrency', '2', '--codec', codec, '--drain-timeout', '1'] });
    });
    afterAll(async () => { await sluice?.stop(); await echo?.close(); });

    it('serves from two workers, both at the primary config version', async () => {
      const st = await status();
      expect(st.workers).toHaveLength(2);
      expect(new Set(st.workers.map((w) => w.pid)).size).toBe(2);
      expect(st.workers.every((w) => w.version === st.version)).toBe(true);
      for (let i = 0; i < 20; i++) expect((await sendRequest(sluice.port(80), { host: 'a.test', path: `/echo/${i}` })).status).toBe(200);
    });

    it('sums the metrics of all workers on the one admin API', async () => {
      const before = requestsTotal(await (await sluice.admin('/stats/prometheus')).text(), '200');
      for (let i = 0; i < 10; i++) await sendRequest(sluice.port(80), { host: 'a.test', path: '/echo/m' });
      const text = await (await sluice.admin('/stats/prometheus')).text();
      expect(requestsTotal(text, '200')).toBe(before + 10);
      const stats = await (await sluice.admin('/stats')).text();
      expect(stats).toMatch(/cluster\.outbound\|8080\|\|echo\.default\.svc\.cluster\.local\.upstream_rq_completed: (\d+)/);
      const completed = Number(/echo\.default\.svc\.cluster\.local\.upstream_rq_completed: (\d+)/.exec(stats)![1]);
      expect(completed).toBe(before + 10);
    });

    it('a config change reaches every worker', async () => {
      expect((await sendRequest(sluice.port(80), { host: 'a.test', path: '/added' })).status).toBe(404);
      writeFileSync(file, config(echo.port, true));
      await sluice.waitFor(/config version 2 serving on 2 workers/, 'stderr', 10_000);
      const st = await status();
      expect(st.version).toBe(2);
      expect(st.workers.map((w) => w.version)).toEqual([2, 2]);
      // New connections each time: the primary hands them to the workers in turn.
      for (let i = 0; i < 10; i++) expect((await sendRequest(sluice.port(80), { host: 'a.test', path: '/added' })).status).toBe(200);
    });

    it('a worker that dies is replaced and serving goes on', async () => {
      const before = await status();
      process.kill(before.workers[0]!.pid, 'SIGKILL');
      await sluice.waitFor(/exited \(SIGKILL\); starting a new one/, 'stderr', 10_000);
      let after = await status();
      for (let i = 0; i < 100 && !(after.workers.length === 2 && !after.workers.some((w) => w.pid === before.workers[0]!.pid) && after.workers.every((w) => w.version === 2)); i++) {
        await new Promise((r) => setTimeout(r, 100));
        after = await status();
      }
      expect(after.workers).toHaveLength(2);
      expect(after.workers.map((w) => w.pid)).not.toContain(before.workers[0]!.pid);
      // The replacement joins at the version the others serve.
      expect(after.workers.map((w) => w.version)).toEqual([2, 2]);
      for (let i = 0; i < 10; i++) expect((await sendRequest(sluice.port(80), { host: 'a.test', path: '/added' })).status).toBe(200);
    });

    it('SIGTERM drains every worker and exits 0', async () => {
      const pids = (await status()).workers.map((w) => w.pid);
      expect(await sluice.stop('SIGTERM')).toBe(0);
      for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
      expect(readFileSync(file, 'utf8')).toContain('/added');
    });
  });
}
