import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { formatDiagnostic } from '../config/diagnostic.js';
import { UsageError } from '../trace/offline.js';
import { loadRoutingTests, runRoutingTests, RoutingTestFileError, type RoutingTestFile } from '../trace/routing-tests.js';
import { formatFailure, formatJunit, formatSummary } from '../trace/test-report.js';
import { collect } from './flags.js';

interface TestFlags {
  config?: string[];
  credentials?: string;
  mesh?: string;
  placeholderCredentials?: boolean;
  junit?: string;
  output: string;
  verbose?: boolean;
}

export function registerTest(program: Command): void {
  program
    .command('test')
    .description('run declarative routing tests (request → expected destination, path, headers, status) offline against the config')
    .argument('<cases...>', 'test files (YAML)')
    .option('-c, --config <path>', 'YAML file or folder with the Istio config (repeatable; adds to the files\' `config:`)', collect)
    .option('--credentials <dir>', 'TLS credentials folder, as `sluice run --credentials`')
    .option('--placeholder-credentials', 'mint a throw-away certificate for every credentialName (secrets need not be in the repository)')
    .option('--mesh <file>', 'Istio MeshConfig YAML')
    .option('--junit <file>', 'also write a JUnit XML report')
    .option('-o, --output <format>', 'text | json', 'text')
    .option('-v, --verbose', 'list passing cases too')
    .action(async (files: string[], flags: TestFlags) => {
      process.exitCode = await testCommand(files, flags);
    });
}

/** Exit code 0 when every case passes, 1 when one fails, 2 for unusable input. */
async function testCommand(paths: string[], flags: TestFlags): Promise<number> {
  if (flags.output !== 'text' && flags.output !== 'json') { process.stderr.write(`sluice test: -o ${flags.output}: expected text or json\n`); return 2; }
  const start = performance.now();
  let files: RoutingTestFile[];
  let run: Awaited<ReturnType<typeof runRoutingTests>>;
  try {
    files = paths.map(loadRoutingTests);
    run = await runRoutingTests(files, {
      configPaths: flags.config ?? [],
      credentials: flags.credentials,
      mesh: flags.mesh,
      ...(flags.placeholderCredentials === true ? { placeholderCredentials: true } : {}),
    });
  } catch (e) {
    if (e instanceof RoutingTestFileError || e instanceof UsageError) { process.stderr.write(`sluice test: ${e.message}\n`); return 2; }
    throw e;
  }
  const elapsed = performance.now() - start;
  const { results, configErrors } = run;
  for (const d of configErrors) process.stderr.write(`note: ${formatDiagnostic(d)}\n`);
  if (flags.junit !== undefined) writeFileSync(flags.junit, formatJunit(results, elapsed));
  if (flags.output === 'json') {
    process.stdout.write(`${JSON.stringify(results.map((r) => ({ name: r.case.name, file: r.case.file, line: r.case.line, passed: r.passed, differences: r.differences })), null, 2)}\n`);
  } else {
    for (const r of results) {
      if (!r.passed) process.stdout.write(`${formatFailure(r)}\n\n`);
      else if (flags.verbose === true) process.stdout.write(`✓ ${r.case.name}\n`);
    }
    process.stdout.write(`${formatSummary(results, elapsed)}\n`);
  }
  return results.every((r) => r.passed) ? 0 : 1;
}
