import { describe, expect, it } from 'vitest';
import type { TelemetryConfig, TelemetryModeConfig } from '../../src/compile/telemetry/types.js';
import type { DownstreamConnection } from '../../src/proxy/http/stream.js';
import { HttpStream } from '../../src/proxy/http/stream.js';
import { compileCel } from '../../src/telemetry/cel/expression.js';
import { MAX_SERIES_PER_METRIC, TelemetryMetrics } from '../../src/telemetry/metric-overrides.js';

const conn = { listener: { name: '0.0.0.0_80', port: 80 }, remoteAddress: '127.0.0.1', remotePort: 1, localAddress: '127.0.0.1', localPort: 80 } as unknown as DownstreamConnection;

function config(): TelemetryConfig {
  const r = compileCel('request.host');
  if (!r.ok) throw new Error(r.error);
  const override = { disabled: false, tags: [{ tag: 'host', operation: 'UPSERT' as const, value: 'request.host', program: r.program }] };
  const mode: TelemetryModeConfig = { accessLogs: null, tracing: null, metrics: { providers: ['prometheus'], disabled: false, overrides: { REQUEST_COUNT: override } } };
  return { applied: [], client: mode, server: mode };
}

interface Value { labels: Record<string, string>; value: number }

describe('metric overrides: label sets from request values', () => {
  it('collapse into one "overflow" series past the limit, so clients cannot grow memory without bound', async () => {
    const m = new TelemetryMetrics([1, 10], [1, 10]);
    const registryEntry = { get: async (): Promise<unknown> => ({ name: 'istio_requests_total', help: '', type: 'counter', values: [] }) };
    m.attach(registryEntry, 'REQUEST_COUNT');
    const t = config();
    for (let i = 0; i < MAX_SERIES_PER_METRIC + 5; i++) {
      const s = new HttpStream(conn, null as never, null as never);
      s.authority = `host-${i}.example.com`;
      s.responseCode = 200;
      expect(m.recordHttp(s, t, 'base', () => ({ reporter: 'source' }))).toBe(true);
    }
    const values = ((await registryEntry.get()) as { values: Value[] }).values;
    expect(values).toHaveLength(MAX_SERIES_PER_METRIC + 1);
    expect(values.find((v) => v.labels.host === 'overflow')).toEqual({ labels: { reporter: 'source', host: 'overflow' }, value: 5 });
    expect(values.find((v) => v.labels.host === 'host-0.example.com')!.value).toBe(1);
  });

  it('a label set both sides hold appears once, summed', async () => {
    const m = new TelemetryMetrics([1], [1]);
    const entry = { get: async (): Promise<unknown> => ({ name: 'istio_requests_total', values: [{ labels: { reporter: 'source', host: 'a' }, value: 2 }] }) };
    m.attach(entry, 'REQUEST_COUNT');
    const s = new HttpStream(conn, null as never, null as never);
    s.authority = 'a';
    m.recordHttp(s, config(), 'base', () => ({ reporter: 'source' }));
    expect(((await entry.get()) as { values: Value[] }).values).toEqual([{ labels: { reporter: 'source', host: 'a' }, value: 3 }]);
  });
});
