// `sluice trace` as a user runs it: text and JSON output, exit codes, usage errors.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Trace } from '../../src/trace/types.js';
import { runSluice } from '../support/sluice-process.js';

const EX = join(import.meta.dirname, '../../examples/seed-advanced-routing');

describe('sluice trace', () => {
  it('prints each decision with its file:line and the upstream request; exit 0', async () => {
    const r = await runSluice(['trace', '-c', EX, 'GET', 'http://example.com/api/v2/orders', '-H', 'x-canary:true']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('trace GET http://example.com/api/v2/orders -H x-canary:true');
    expect(r.stdout).toMatch(/route\s+✗ #0 VirtualService default\/advanced-routing spec\.http\[0\]\.match\[0\]: path exact "\/health" — request has path "\/api\/v2\/orders"/);
    expect(r.stdout).toMatch(/route\s+✓ #1 VirtualService default\/advanced-routing spec\.http\[1\]\.match\[0\]: matched: path prefix "\/api\/v2\/"/);
    expect(r.stdout).toMatch(/at VirtualService default\/advanced-routing spec\.http\[1\]\.match\[0\]  examples\/seed-advanced-routing\/istio\.yaml:\d+:\d+/);
    expect(r.stdout).toContain('result: forwarded to outbound|8080||api-v2-service.default.svc.cluster.local (endpoint 127.0.0.1:9085)');
    expect(r.stdout).toContain('  GET /api/v1/orders HTTP/1.1');
  });

  it('-o json is the trace; a 404 exits 1 and carries the fix', async () => {
    const r = await runSluice(['trace', '-c', EX, '-o', 'json', 'http://elsewhere.example.com/']);
    expect(r.code).toBe(1);
    const t = JSON.parse(r.stdout) as Trace;
    expect(t.outcome).toMatchObject({ kind: 'local_reply', status: 404, responseFlags: 'NR' });
    expect(t.outcome.fix).toContain('not elsewhere.example.com');
  });

  it('--draw follows the other side of a split', async () => {
    const r = await runSluice(['trace', '-c', EX, '-o', 'json', '--draw', '0.95', 'GET', 'http://example.com/']);
    expect((JSON.parse(r.stdout) as Trace).upstream?.host).toBe('api-canary.default.svc.cluster.local');
  });

  it('usage errors exit 2 with the reason', async () => {
    const bad = await runSluice(['trace', '-c', EX, 'GET', 'ftp://example.com/']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('scheme ftp is not traced');
    const hdr = await runSluice(['trace', '-c', EX, 'GET', 'http://example.com/', '-H', 'nocolon']);
    expect(hdr.code).toBe(2);
    expect(hdr.stderr).toContain('-H nocolon: expected name:value');
    const wl = await runSluice(['trace', '-c', EX, '--sidecar', 'bad', 'GET', 'http://example.com/']);
    expect(wl.code).toBe(2);
  });
});
