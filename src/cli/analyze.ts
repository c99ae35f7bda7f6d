import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { analyzeConfig, failsAt } from '../analyze/analyze.js';
import { ALL_ANALYZERS } from '../analyze/all.js';
import { formatAnalyzerList, formatHuman, formatJson, formatSarif } from '../analyze/output.js';
import type { Level } from '../config/diagnostic.js';
import { collect } from './flags.js';

interface AnalyzeFlags {
  config?: string[];
  namespace?: string;
  allNamespaces?: boolean;
  output: string;
  failOn: string;
  mesh?: string;
  credentials?: string;
  suppress?: string[];
  listAnalyzers?: boolean;
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

export function registerAnalyze(program: Command): void {
  program
    .command('analyze')
    .description('istioctl-analyze-style diagnostics with file:line and the fix (Istio IST codes, Sluice SLU codes)')
    .argument('[paths...]', 'YAML files or folders (same as -c)')
    .option('-c, --config <path>', 'YAML file or folder (repeatable)', collect)
    .option('-n, --namespace <ns>', 'report resources of this namespace (istioctl default: default)')
    .option('-A, --all-namespaces', 'report every namespace')
    .option('-o, --output <format>', 'human | json | sarif', 'human')
    .option('--fail-on <level>', 'exit 1 when a finding reaches this level: error | warning | info', 'error')
    .option('--mesh <file>', 'Istio MeshConfig YAML')
    .option('--credentials <dir>', 'TLS credentials folder, as `sluice run --credentials`')
    .option('-S, --suppress <CODE[=Kind ns/name]>', 'drop matching findings (repeatable; * wildcards in the resource)', collect)
    .option('-L, --list-analyzers', 'list the analyzers and the message catalog')
    .action((paths: string[], flags: AnalyzeFlags) => {
      process.exitCode = analyzeCommand(paths, flags);
    });
}

/** Exit codes: 0 nothing at the --fail-on level, 1 something is, 2 usage. */
function analyzeCommand(paths: string[], flags: AnalyzeFlags): number {
  if (flags.listAnalyzers === true) { process.stdout.write(formatAnalyzerList(ALL_ANALYZERS)); return 0; }
  const output = flags.output;
  if (output !== 'human' && output !== 'json' && output !== 'sarif' && output !== 'text') { process.stderr.write(`sluice analyze: -o ${output}: expected human, json or sarif\n`); return 2; }
  const failOn = flags.failOn.toLowerCase();
  if (failOn !== 'error' && failOn !== 'warning' && failOn !== 'info') { process.stderr.write(`sluice analyze: --fail-on ${flags.failOn}: expected error, warning or info\n`); return 2; }
  if (flags.allNamespaces === true && flags.namespace !== undefined) { process.stderr.write('sluice analyze: --namespace and --all-namespaces exclude each other\n'); return 2; }
  const configPaths = [...paths, ...(flags.config ?? [])];
  const namespace = flags.namespace ?? 'default';
  const result = analyzeConfig({
    configPaths: configPaths.length > 0 ? configPaths : ['./'],
    meshFile: flags.mesh,
    credentialsDir: flags.credentials,
    namespace,
    allNamespaces: flags.allNamespaces === true,
    suppress: flags.suppress ?? [],
  });
  if (output === 'json') process.stdout.write(formatJson(result));
  else if (output === 'sarif') process.stdout.write(formatSarif(result, ALL_ANALYZERS, packageVersion()));
  else process.stdout.write(formatHuman(result, { allNamespaces: flags.allNamespaces === true, namespace }));
  return failsAt(result.findings, failOn as Level) ? 1 : 0;
}
