import { describeRequest } from './request.js';
import { displayPath } from './format.js';
import type { RoutingTestResult } from './routing-tests.js';

/** Failures as a diff: `- expected` / `+ actual` per key, with the route that decided. */
export function formatFailure(r: RoutingTestResult): string {
  const c = r.case;
  const lines = [`✗ ${c.name}  (${displayPath(c.file)}:${c.line})`];
  if (r.trace !== null) lines.push(`    request: ${describeRequest(r.trace.request)}`);
  for (const d of r.differences) {
    lines.push(`  - ${d.key}: ${d.expected}`);
    lines.push(`  + ${d.key}: ${d.actual}`);
  }
  const t = r.trace;
  if (t !== null) {
    if (t.route !== null) lines.push(`    routed by ${t.route.source.resource} ${t.route.source.path} at ${displayPath(t.route.source.file)}:${t.route.source.line}`);
    else if (t.l4Route !== null) lines.push(`    routed by ${t.l4Route.source.resource} ${t.l4Route.source.path} at ${displayPath(t.l4Route.source.file)}:${t.l4Route.source.line}`);
    if (t.outcome.fix !== null) lines.push(`    fix: ${t.outcome.fix}`);
  }
  return lines.join('\n');
}

export function formatSummary(results: readonly RoutingTestResult[], elapsedMs: number): string {
  const failed = results.filter((r) => !r.passed).length;
  const passed = results.length - failed;
  return `${failed === 0 ? '✓' : '✗'} ${passed} passed, ${failed} failed (${results.length} case${results.length === 1 ? '' : 's'} in ${elapsedMs < 1000 ? `${Math.round(elapsedMs)} ms` : `${(elapsedMs / 1000).toFixed(2)} s`})`;
}

function xml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
    // XML 1.0 has no place for most control characters.
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');
}

/** JUnit XML (the common Jenkins/GitLab/GitHub reporter shape): one testsuite per file. */
export function formatJunit(results: readonly RoutingTestResult[], elapsedMs: number): string {
  const byFile = new Map<string, RoutingTestResult[]>();
  for (const r of results) {
    const l = byFile.get(r.case.file) ?? [];
    l.push(r);
    byFile.set(r.case.file, l);
  }
  const failures = results.filter((r) => !r.passed).length;
  const out = ['<?xml version="1.0" encoding="UTF-8"?>', `<testsuites name="sluice test" tests="${results.length}" failures="${failures}" errors="0" time="${(elapsedMs / 1000).toFixed(3)}">`];
  for (const [file, rs] of byFile) {
    const name = displayPath(file);
    const f = rs.filter((r) => !r.passed).length;
    const time = rs.reduce((a, r) => a + r.durationMs, 0) / 1000;
    out.push(`  <testsuite name="${xml(name)}" tests="${rs.length}" failures="${f}" errors="0" skipped="0" time="${time.toFixed(3)}">`);
    for (const r of rs) {
      const attrs = `name="${xml(r.case.name)}" classname="${xml(name)}" file="${xml(name)}" line="${r.case.line}" time="${(r.durationMs / 1000).toFixed(4)}"`;
      if (r.passed) { out.push(`    <testcase ${attrs}/>`); continue; }
      const message = r.differences.map((d) => `${d.key}: expected ${d.expected}, got ${d.actual}`).join('; ');
      out.push(`    <testcase ${attrs}>`);
      out.push(`      <failure message="${xml(message)}" type="RoutingMismatch">${xml(formatFailure(r))}</failure>`);
      out.push('    </testcase>');
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return `${out.join('\n')}\n`;
}
