import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { checkCase, CODECS, listCases, startCase, type CaseEnvironment } from './runner.js';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';
import type { ConformanceCase } from './runner.js';

const root = fileURLToPath(new URL('.', import.meta.url));

// Every case runs on each downstream HTTP/1.1 codec (`--codec node|fast`).
for (const codec of CODECS) for (const name of listCases(root)) {
  const dir = join(root, name);
  const cases = parse(readFileSync(join(dir, 'cases.yaml'), 'utf8')) as ConformanceCase[];
  describe(`conformance/${name} [--codec ${codec}]`, () => {
    let env: CaseEnvironment;
    beforeAll(async () => { env = await startCase(dir, codec); });
    afterAll(async () => { await env?.close(); });
    for (const c of cases) {
      it(c.name, async () => { await checkCase(env, c); });
    }
  });
}
