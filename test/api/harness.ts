// Drives fixtures through the real loader and validator. Expectations live in the YAML next to
// the field they are about, as trailing comments:
//
//     mode: ISTIO_MUTUAL_TLS   # expect error IST0106 spec.servers[0].tls.mode
//
// The comment's line is the line the diagnostic must point at. Each expectation belongs to the
// document it appears in.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateResource } from '../../src/api/validate.js';
import type { Diagnostic, Level } from '../../src/config/diagnostic.js';
import { parseConfigText } from '../../src/config/yaml-loader.js';

export const TESTDATA = join(import.meta.dirname, 'testdata');

export interface Expectation {
  level: Level;
  code: string;
  path: string;
  line: number;
}

export interface DocResult {
  name: string;
  kind: string;
  /** Line of the document's first node. */
  line: number;
  accepted: boolean;
  diagnostics: Diagnostic[];
  expectations: Expectation[];
}

const EXPECT = /#\s*expect (error|warning|info) (\S+) (\S+)/g;

/** Validates every document of a fixture and pairs it with its `# expect` comments. */
export function runFixture(file: string): DocResult[] {
  const text = readFileSync(join(TESTDATA, file), 'utf8');
  return runText(file, text);
}

export function runText(file: string, text: string): DocResult[] {
  const parsed = parseConfigText(file, text);
  if (parsed.errors.length > 0) throw new Error(`${file}: YAML errors: ${parsed.errors.map((e) => `${e.line}: ${e.message}`).join('; ')}`);
  const docs: DocResult[] = parsed.resources.map((r, i) => {
    const v = validateResource(r, i);
    return { name: r.metadata.name, kind: r.kind, line: r.source.line, accepted: v.resource !== null, diagnostics: v.diagnostics, expectations: [] };
  });
  const lines = text.split('\n');
  lines.forEach((l, i) => {
    for (const m of l.matchAll(EXPECT)) {
      const line = i + 1;
      const owner = [...docs].reverse().find((d) => d.line <= line);
      if (owner === undefined) throw new Error(`${file}:${line}: expectation before the first document`);
      owner.expectations.push({ level: m[1] as Level, code: m[2]!, path: m[3]!, line });
    }
  });
  return docs;
}

export function matches(d: Diagnostic, e: Expectation): boolean {
  return d.level === e.level && d.code === e.code && d.path === e.path && d.line === e.line;
}

/** One line per diagnostic, for assertion messages. */
export function show(ds: readonly Diagnostic[]): string {
  return ds.map((d) => `  ${d.line}:${d.col} ${d.level} ${d.code} ${d.path}: ${d.message}`).join('\n');
}
