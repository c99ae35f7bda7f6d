// `sluice analyze` as a user runs it: the real CLI on the examples and on the analyzer
// testdata, with its output formats and exit codes.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSluice } from '../support/sluice-process.js';

const ROOT = join(import.meta.dirname, '../..');
const rel = (p: string): string => join(ROOT, p);

describe('sluice analyze', () => {
  it('reports the seed\'s advanced-routing IST0132 at its file:line, with the fix; exit 0 (warnings only)', async () => {
    const r = await runSluice(['analyze', '-c', rel('examples/seed-ingress')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/examples\/seed-ingress\/istio\.yaml:76:5: warning IST0132 VirtualServiceHostNotFoundInGateway \(VirtualService default\/advanced-routing spec\.hosts\[0\]\): one or more host \[example\.com\]/);
    expect(r.stdout).toContain('fix: add "example.com" to the hosts of a server of Gateway istio-system/main-gateway');
    expect(r.stdout).toContain('more in other namespaces: use --all-namespaces (-A)');
  });

  it('--all-namespaces shows the Gateway\'s missing credential (IST0161, an error): exit 1', async () => {
    const r = await runSluice(['analyze', '-A', rel('examples/seed-ingress')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/istio\.yaml:31:23: error IST0161 InvalidGatewayCredential \(Gateway istio-system\/main-gateway/);
  });

  it('--fail-on warning turns warnings into exit 1; --namespace scopes', async () => {
    expect((await runSluice(['analyze', '-c', rel('examples/seed-ingress'), '--fail-on', 'warning'])).code).toBe(1);
    const ns = await runSluice(['analyze', '-c', rel('examples/seed-ingress'), '--namespace', 'istio-system']);
    expect(ns.stdout).toContain('IST0161');
    expect(ns.stdout).not.toContain('IST0132');
  });

  it('--suppress drops a finding by code and resource', async () => {
    const r = await runSluice(['analyze', '-c', rel('examples/seed-ingress'), '-S', 'IST0132=VirtualService default/advanced-routing', '--fail-on', 'warning']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('No validation issues found');
    expect(r.stdout).toContain('1 suppressed');
  });

  it('-o json lists findings with code, level, origin and position', async () => {
    const r = await runSluice(['analyze', '-A', '-o', 'json', rel('test/analyze/testdata/schema-invalid.yaml')]);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as { code: string; level: string; origin: string; file: string; line: number; documentationUrl?: string }[];
    expect(out.map((f) => [f.code, f.level, f.origin])).toEqual([
      ['IST0106', 'Error', 'Gateway istio-system/istio-egress-gateway'],
      ['IST0122', 'Error', 'VirtualService default/lookbehind'],
    ]);
    expect(out[0]!).toMatchObject({ file: 'test/analyze/testdata/schema-invalid.yaml', line: 9, documentationUrl: 'https://istio.io/latest/docs/reference/config/analysis/ist0106/' });
  });

  it('-o sarif is SARIF 2.1.0 with a rule per code and a region per result', async () => {
    const r = await runSluice(['analyze', '-A', '-o', 'sarif', rel('test/analyze/testdata/shadowed-prefix.yaml')]);
    const sarif = JSON.parse(r.stdout) as { version: string; runs: { tool: { driver: { name: string; rules: { id: string }[] } }; results: { ruleId: string; ruleIndex: number; level: string; locations: { physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } } }[] }[] }[] };
    expect(sarif.version).toBe('2.1.0');
    const run = sarif.runs[0]!;
    expect(run.tool.driver.name).toBe('sluice analyze');
    const results = run.results.filter((x) => x.ruleId === 'SLU0301');
    expect(results).toHaveLength(2);
    for (const x of results) {
      expect(run.tool.driver.rules[x.ruleIndex]!.id).toBe('SLU0301');
      expect(x.level).toBe('warning');
      expect(x.locations[0]!.physicalLocation.artifactLocation.uri).toBe('test/analyze/testdata/shadowed-prefix.yaml');
      expect(x.locations[0]!.physicalLocation.region.startLine).toBeGreaterThan(0);
    }
  });

  it('-L lists analyzers and the catalog; a bad flag value is a usage error (exit 2)', async () => {
    const l = await runSluice(['analyze', '-L']);
    expect(l.code).toBe(0);
    expect(l.stdout).toContain('virtualservice.ShadowedRouteAnalyzer');
    expect(l.stdout).toContain('IST0132  warning VirtualServiceHostNotFoundInGateway');
    expect((await runSluice(['analyze', '-o', 'yaml', rel('examples/seed-ingress')])).code).toBe(2);
    expect((await runSluice(['analyze', '--fail-on', 'never', rel('examples/seed-ingress')])).code).toBe(2);
  });
});
