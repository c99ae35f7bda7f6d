// `sluice test` as a library: the examples' routing tests run in our own suite, a failing case
// reports a diff with the route that decided, and JUnit XML carries the same.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRoutingTests, runRoutingTests } from '../../src/trace/routing-tests.js';
import { formatFailure, formatJunit } from '../../src/trace/test-report.js';
import { configFile } from './helpers.js';

const EXAMPLES = join(import.meta.dirname, '../../examples');

describe('sluice test', () => {
  for (const [name, min] of [['seed-ingress.test.yaml', 9], ['seed-advanced-routing.test.yaml', 9], ['seed-security.test.yaml', 7]] as const) {
    it(`examples/${name} passes`, async () => {
      const { results, configErrors } = await runRoutingTests([loadRoutingTests(join(EXAMPLES, name))]);
      expect(configErrors).toEqual([]);
      const failed = results.filter((r) => !r.passed).map(formatFailure);
      expect(failed).toEqual([]);
      expect(results.length).toBeGreaterThanOrEqual(min);
    });
  }

  it('a wrong decidedBy fails with the policy that did decide', async () => {
    const file = configFile(`config: [${join(EXAMPLES, 'seed-security')}]
placeholderCredentials: true
tests:
- name: no token
  request: GET https://api.example.com/api/v1/users
  expect: {status: 403, decidedBy: "RequestAuthentication istio-system/jwt-auth"}
`, 'cases.yaml');
    const { results } = await runRoutingTests([loadRoutingTests(file)]);
    expect(results[0]!.differences).toEqual([{ key: 'decidedBy', expected: 'RequestAuthentication istio-system/jwt-auth', actual: 'AuthorizationPolicy istio-system/require-jwt spec.rules[0]' }]);
  });

  it('a failing case is a diff: expected, actual, and the route that decided', async () => {
    const file = configFile(`config: [${join(EXAMPLES, 'seed-advanced-routing')}]
tests:
- name: canary goes to api-canary
  request: GET http://example.com/anything
  headers: {x-canary: "yes"}
  expect: {destination: api-canary, rule: 3}
- name: health
  request: GET http://example.com/health
  expect: {destination: health-service, path: /healthz}
`, 'cases.yaml');
    const { results } = await runRoutingTests([loadRoutingTests(file)]);
    expect(results.map((r) => r.passed)).toEqual([false, false]);
    const first = formatFailure(results[0]!);
    expect(first).toContain('✗ canary goes to api-canary');
    expect(first).toContain(`${file.replace(process.cwd() + '/', '')}:3`);
    expect(first).toContain('  - destination: api-canary');
    expect(first).toContain('  + destination: a weighted split: api-stable 90%, api-canary 10%');
    expect(first).toContain('  - rule: 3\n  + rule: 4');
    expect(first).toMatch(/routed by VirtualService default\/advanced-routing spec\.http\[4\] at .*istio\.yaml:\d+/);
    expect(results[1]!.differences).toEqual([{ key: 'path', expected: '/healthz', actual: '/health' }]);
  });

  it('a malformed case fails with the reason and does not stop the others', async () => {
    const file = configFile(`config: [${join(EXAMPLES, 'seed-advanced-routing')}]
tests:
- name: bad scheme
  request: GET ftp://example.com/
  expect: {status: 404}
- name: typo in expect
  request: GET http://example.com/
  expect: {destinaton: api-stable}
- name: fine
  request: GET http://example.com/health
  expect: {destination: health-service}
`, 'cases.yaml');
    const { results } = await runRoutingTests([loadRoutingTests(file)]);
    expect(results.map((r) => r.passed)).toEqual([false, false, true]);
    expect(results[0]!.differences[0]!.actual).toContain('scheme ftp is not traced');
    expect(results[1]!.differences[0]!.actual).toContain('expect.destinaton: unknown key');
  });

  it('JUnit XML: one testsuite per file, failures carry the diff', async () => {
    const file = configFile(`config: [${join(EXAMPLES, 'seed-advanced-routing')}]
tests:
- name: health <ok> & "fine"
  request: GET http://example.com/health
  expect: {destination: health-service}
- name: wrong
  request: GET http://example.com/health
  expect: {status: 404}
`, 'cases.yaml');
    const { results } = await runRoutingTests([loadRoutingTests(file)]);
    const xml = formatJunit(results, 12);
    expect(xml).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites name="sluice test" tests="2" failures="1"/);
    expect(xml).toContain('<testcase name="health &lt;ok&gt; &amp; &quot;fine&quot;"');
    expect(xml).toMatch(/<failure message="status: expected 404, got 200 — forwarded to outbound\|8080\|\|health-service\.default\.svc\.cluster\.local" type="RoutingMismatch">/);
    expect(xml.match(/<testcase /g)).toHaveLength(2);
    expect(xml.match(/<\/testsuite>/g)).toHaveLength(1);
    writeFileSync(join(file, '..', 'junit.xml'), xml);
  });

  it('placeholder credentials let HTTPS routes be tested without the secret', async () => {
    const withPlaceholders = await runRoutingTests([loadRoutingTests(join(EXAMPLES, 'seed-ingress.test.yaml'))]);
    expect(withPlaceholders.results.every((r) => r.passed)).toBe(true);
    const without = await runRoutingTests([loadRoutingTests(join(EXAMPLES, 'seed-ingress.test.yaml'))], { placeholderCredentials: false, credentials: '/nonexistent' });
    const https = without.results.find((r) => r.case.name.startsWith('/api/v1 goes to api-service'))!;
    expect(https.passed).toBe(false);
    expect(https.trace?.outcome.fix).toContain('example-tls-secret');
  });
});
