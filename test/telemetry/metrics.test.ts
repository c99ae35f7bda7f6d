import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRequest } from '../conformance/runner.js';
import { startEchoBackend, type EchoBackend } from '../support/echo-backend.js';
import { startSluice, type SluiceProcess } from '../support/sluice-process.js';
import { configFile, docs, gatewayYaml, serviceEntryYaml, virtualServiceYaml } from '../support/yaml.js';

// The Istio HTTP metrics as a scraper sees them on /stats/prometheus: one series per label
// set, counters and cumulative histogram buckets that agree with the requests sent.

const config = (port: number): string => docs(
  gatewayYaml(['*']),
  virtualServiceYaml('vs', ['*'], '  - match: [{uri: {prefix: /echo}}]\n    route: [{destination: {host: echo, port: {number: 8080}}}]'),
  serviceEntryYaml('echo', port, 8080),
);

function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

for (const codec of ['node', 'fast']) {
  describe(`Istio metrics on /stats/prometheus [--codec ${codec}]`, () => {
    let echo: EchoBackend;
    let sluice: SluiceProcess;
    beforeAll(async () => {
      echo = await startEchoBackend('echo');
      sluice = await startSluice({ config: [configFile(config(echo.port))], ports: [80], args: ['--codec', codec] });
    });
    afterAll(async () => { await sluice?.stop(); await echo?.close(); });

    it('counts requests per response code and flag, with cumulative histograms', async () => {
      const port = sluice.port(80);
      for (let i = 0; i < 3; i++) expect((await sendRequest(port, { host: 'a.test', path: '/echo/x' })).status).toBe(200);
      expect((await sendRequest(port, { host: 'a.test', path: '/nowhere' })).status).toBe(404);
      const text = await (await sluice.admin('/stats/prometheus')).text();
      const ok = { response_code: '200', destination_service: 'echo.default.svc.cluster.local', response_flags: '-', reporter: 'source', request_protocol: 'http' };
      expect(sample(text, 'istio_requests_total', ok)).toBe(3);
      expect(sample(text, 'istio_requests_total', { response_code: '404', response_flags: 'NR' })).toBe(1);
      expect(sample(text, 'istio_request_duration_milliseconds_count', ok)).toBe(3);
      expect(sample(text, 'istio_request_duration_milliseconds_bucket', { ...ok, le: '+Inf' })).toBe(3);
      expect(sample(text, 'istio_response_bytes_count', ok)).toBe(3);
      // Buckets are cumulative: never decreasing, ending at the count.
      const buckets = text.split('\n').filter((l) => l.startsWith('istio_response_bytes_bucket{') && l.includes('response_code="200"')).map((l) => Number(l.slice(l.lastIndexOf(' ') + 1)));
      expect(buckets.length).toBe(11);
      for (let i = 1; i < buckets.length; i++) expect(buckets[i]).toBeGreaterThanOrEqual(buckets[i - 1]!);
      expect(buckets[buckets.length - 1]).toBe(3);
      // Each echo reply is a few hundred bytes: in the (100, 1000] bucket.
      expect(sample(text, 'istio_response_bytes_bucket', { ...ok, le: '100' })).toBe(0);
      expect(sample(text, 'istio_response_bytes_bucket', { ...ok, le: '1000' })).toBe(3);
      expect(sample(text, 'istio_response_bytes_sum', ok)).toBeGreaterThan(300);
      expect(text).toContain('# TYPE istio_request_duration_milliseconds histogram');
      expect(text).toContain('# TYPE istio_requests_total counter');
    });
  });
}
