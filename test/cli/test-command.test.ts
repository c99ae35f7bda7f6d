// `sluice test` as CI runs it: exit codes, the diff report, and the JUnit file.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSluice } from '../support/sluice-process.js';

const EXAMPLES = join(import.meta.dirname, '../../examples');

describe('sluice test', () => {
  it('the examples\' routing tests pass: exit 0 and a summary', async () => {
    const r = await runSluice(['test', join(EXAMPLES, 'seed-ingress.test.yaml'), join(EXAMPLES, 'seed-advanced-routing.test.yaml')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^✓ 21 passed, 0 failed \(21 cases in \d+ (ms|\.\d+ s)\)\n$/);
  });

  it('a failing case exits 1, prints the diff and writes JUnit XML', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-test-cli-'));
    const cases = join(dir, 'cases.yaml');
    writeFileSync(cases, `tests:
- name: canary
  request: GET http://example.com/
  headers: {x-canary: "true"}
  expect: {destination: api-stable}
`);
    const junit = join(dir, 'junit.xml');
    const r = await runSluice(['test', '-c', join(EXAMPLES, 'seed-advanced-routing'), cases, '--junit', junit]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('✗ canary');
    expect(r.stdout).toContain('  - destination: api-stable\n  + destination: api-canary.default.svc.cluster.local:8080');
    expect(r.stdout).toContain('✗ 0 passed, 1 failed');
    const xml = readFileSync(junit, 'utf8');
    expect(xml).toContain('tests="1" failures="1"');
    expect(xml).toContain('<failure message="destination: expected api-stable, got api-canary.default.svc.cluster.local:8080"');
  });

  it('a file without config and no -c is a usage error (exit 2)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-test-cli-'));
    writeFileSync(join(dir, 'cases.yaml'), 'tests:\n- name: x\n  request: GET http://a/\n  expect: {status: 404}\n');
    const r = await runSluice(['test', join(dir, 'cases.yaml')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no configuration');
  });
});
