import { describe, expect, it } from 'vitest';
import { sendRequest } from '../conformance/runner.js';
import { startEchoBackend } from '../support/echo-backend.js';
import { startSluice } from '../support/sluice-process.js';
import { configFile, docs, gatewayYaml, serviceEntryYaml, virtualServiceYaml } from '../support/yaml.js';

// `sluice run | head`, or a log reader that dies: once stdout and stderr are closed pipes, the
// gateway keeps serving (access log and log lines have nowhere to go) and SIGTERM still
// drains and exits 0, instead of crashing or spinning on EPIPE.

describe.each(['1', '2'])('closed stdout and stderr (--concurrency %s)', (concurrency) => {
  it('serves on, then drains and exits 0 on SIGTERM', async () => {
    const echo = await startEchoBackend('echo');
    const sluice = await startSluice({
      config: [configFile(docs(gatewayYaml(['*']), virtualServiceYaml('vs', ['*'], '  - route: [{destination: {host: echo, port: {number: 8080}}}]'), serviceEntryYaml('echo', echo.port, 8080)))],
      ports: [80],
      args: ['--concurrency', concurrency, '--drain-timeout', '1'],
    });
    try {
      sluice.child.stdout!.destroy();
      sluice.child.stderr!.destroy();
      for (let i = 0; i < 20; i++) expect((await sendRequest(sluice.port(80), { host: 'a.test', path: `/x/${i}` })).status).toBe(200);
      // The reload log line hits the closed stderr too.
      expect((await sluice.admin('/ready')).status).toBe(200);
      const started = Date.now();
      expect(await sluice.stop()).toBe(0);
      expect(Date.now() - started).toBeLessThan(8000);
    } finally {
      await sluice.stop('SIGKILL');
      await echo.close();
    }
  });
});
