import { displayPath } from '../trace/format.js';
import type { Analyzer, Finding } from './analyzer.js';
import type { AnalyzeResult } from './analyze.js';
import { CATALOG, messageType } from './messages.js';

const LEVEL_WORD = { error: 'Error', warning: 'Warning', info: 'Info' } as const;

/**
 * Human text: `file:line:col: level CODE Kind ns/name path: message` then the fix, one finding
 * per block, and a summary that says what was hidden and how to see it.
 */
export function formatHuman(r: AnalyzeResult, o: { allNamespaces: boolean; namespace: string }): string {
  const out: string[] = [];
  for (const f of r.findings) {
    const where = f.file !== undefined && f.file !== '' ? `${displayPath(f.file)}:${f.line ?? 0}:${f.col ?? 0}: ` : '';
    const name = messageType(f.code)?.name;
    const what = [f.resource, f.path].filter((x) => x !== undefined && x !== '').join(' ');
    out.push(`${where}${f.level} ${f.code}${name !== undefined ? ` ${name}` : ''}${what !== '' ? ` (${what})` : ''}: ${f.message}`);
    if (f.fix !== undefined) out.push(`    fix: ${f.fix}`);
  }
  const n = (level: Finding['level']): number => r.findings.filter((f) => f.level === level).length;
  const parts = [`${n('error')} error${n('error') === 1 ? '' : 's'}`, `${n('warning')} warning${n('warning') === 1 ? '' : 's'}`, `${n('info')} info`];
  let summary = r.findings.length === 0 ? `✔ No validation issues found when analyzing ${o.allNamespaces ? 'all namespaces' : `namespace: ${o.namespace}`}.` : `${n('error') > 0 ? '✖' : '!'} ${parts.join(', ')} (${o.allNamespaces ? 'all namespaces' : `namespace ${o.namespace}`})`;
  if (r.hiddenByNamespace > 0) summary += `\n  ${r.hiddenByNamespace} more in other namespaces: use --all-namespaces (-A) to see them`;
  if (r.suppressed > 0) summary += `\n  ${r.suppressed} suppressed`;
  out.push(summary);
  return `${out.join('\n')}\n`;
}

/** JSON: the findings as istioctl's `-o json` lists messages (code, level, origin, reference) plus Sluice's fields. */
export function formatJson(r: AnalyzeResult): string {
  return `${JSON.stringify(r.findings.map((f) => ({
    code: f.code,
    name: messageType(f.code)?.name ?? f.code,
    level: LEVEL_WORD[f.level],
    message: f.message,
    ...(f.fix !== undefined ? { fix: f.fix } : {}),
    ...(f.resource !== undefined ? { origin: f.resource } : {}),
    ...(f.path !== undefined ? { path: f.path } : {}),
    ...(f.file !== undefined ? { file: displayPath(f.file), line: f.line ?? 0, column: f.col ?? 0 } : {}),
    analyzer: f.analyzer,
    ...(docUrl(f.code) !== undefined ? { documentationUrl: docUrl(f.code) } : {}),
  })), null, 2)}\n`;
}

/** Istio documents each IST code; Sluice's own codes are described in the catalog (README). */
function docUrl(code: string): string | undefined {
  return code.startsWith('IST') ? `https://istio.io/latest/docs/reference/config/analysis/${code.toLowerCase()}/` : undefined;
}

const SARIF_LEVEL = { error: 'error', warning: 'warning', info: 'note' } as const;

/** SARIF 2.1.0 for code-review tools (GitHub code scanning, GitLab, ...): one rule per code, one result per finding. */
export function formatSarif(r: AnalyzeResult, analyzers: readonly Analyzer[], version: string): string {
  const codes = [...new Set([...r.findings.map((f) => f.code), ...analyzers.flatMap((a) => a.codes)])].sort();
  const rules = codes.map((code) => {
    const t = messageType(code);
    return {
      id: code,
      name: t?.name ?? code,
      shortDescription: { text: t?.description ?? code },
      ...(docUrl(code) !== undefined ? { helpUri: docUrl(code) } : {}),
      defaultConfiguration: { level: SARIF_LEVEL[t?.level ?? 'warning'] },
    };
  });
  const index = new Map(rules.map((x, i) => [x.id, i]));
  const results = r.findings.map((f) => ({
    ruleId: f.code,
    ruleIndex: index.get(f.code),
    level: SARIF_LEVEL[f.level],
    message: { text: f.fix !== undefined ? `${f.message}\nFix: ${f.fix}` : f.message },
    ...(f.file !== undefined && f.file !== ''
      ? { locations: [{
          physicalLocation: { artifactLocation: { uri: displayPath(f.file).split('\\').join('/') }, region: { startLine: Math.max(1, f.line ?? 1), startColumn: Math.max(1, f.col ?? 1) } },
          ...(f.resource !== undefined ? { logicalLocations: [{ fullyQualifiedName: `${f.resource}${f.path !== undefined ? ` ${f.path}` : ''}`, kind: 'resource' }] } : {}),
        }] }
      : {}),
    properties: { analyzer: f.analyzer, ...(f.resource !== undefined ? { resource: f.resource } : {}) },
  }));
  const sarif = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [{
      tool: { driver: { name: 'sluice analyze', version, rules } },
      results,
    }],
  };
  return `${JSON.stringify(sarif, null, 2)}\n`;
}

/** `--list-analyzers`: name, codes, description. */
export function formatAnalyzerList(analyzers: readonly Analyzer[]): string {
  const lines = analyzers.map((a) => `${a.name.padEnd(48)} ${a.codes.join(',').padEnd(20)} ${a.description}`);
  const catalog = CATALOG.map((t) => `${t.code}  ${t.level.padEnd(7)} ${t.name}: ${t.description}`);
  return `${lines.join('\n')}\n\nMessages:\n${catalog.join('\n')}\n`;
}
