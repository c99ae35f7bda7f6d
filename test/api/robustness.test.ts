// Validators must never throw, whatever the YAML holds: each valid fixture document is mutated
// (one node at a time replaced by a value of another type) and must yield diagnostics, not a crash.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateResource } from '../../src/api/validate.js';
import type { RawResource } from '../../src/config/resource.js';
import { parseConfigText } from '../../src/config/yaml-loader.js';
import { TESTDATA } from './harness.js';

const REPLACEMENTS: unknown[] = [null, 7, 'x', '', [], {}, [null], { a: 1 }, true, -1];

/** Every path to a node under `spec` (or the body for core kinds). */
function paths(v: unknown, base: (string | number)[], out: (string | number)[][]): void {
  out.push(base);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...base, i], out));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...base, k], out);
}

function replaced(body: unknown, path: (string | number)[], value: unknown): Record<string, unknown> {
  const copy = structuredClone(body) as Record<string, unknown>;
  let node: any = copy; // eslint-disable-line @typescript-eslint/no-explicit-any
  for (let i = 0; i < path.length - 1; i++) node = node[path[i]!];
  node[path[path.length - 1]!] = value;
  return copy;
}

describe('robustness', () => {
  const files = readdirSync(TESTDATA).filter((f) => f.endsWith('.yaml'));
  it.each(files)('%s: no mutation makes a validator throw', (file) => {
    const { resources } = parseConfigText(file, readFileSync(join(TESTDATA, file), 'utf8'));
    let runs = 0;
    for (const r of resources) {
      const all: (string | number)[][] = [];
      paths(r.body, [], all);
      const targets = all.filter((p) => p.length > 0 && p[0] !== 'apiVersion' && p[0] !== 'kind' && p[0] !== 'metadata');
      for (const p of targets) {
        for (const value of REPLACEMENTS) {
          const raw: RawResource = { ...r, body: replaced(r.body, p, value) };
          expect(() => validateResource(raw, 0), `${r.kind} ${r.metadata.name} ${p.join('.')} = ${JSON.stringify(value)}`).not.toThrow();
          runs++;
        }
      }
    }
    expect(runs).toBeGreaterThan(0);
  });
});
