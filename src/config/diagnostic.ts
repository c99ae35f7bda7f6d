// A Diagnostic is how every user-caused problem leaves the control plane: config parse and
// schema errors, webhook-rule violations, analyzer findings. It always says where (file:line:col,
// resource, field path) and, when there is one, the fix.

export type Level = 'error' | 'warning' | 'info';

export interface SourcePos {
  file: string;
  line: number;
  col: number;
}

export interface Diagnostic {
  /** Stable code: Istio's IST0xxx where Istio has the same check, SLU-prefixed otherwise. */
  code: string;
  level: Level;
  message: string;
  /** `Kind namespace/name`, when the problem belongs to one resource. */
  resource?: string;
  /** Field path inside the resource, e.g. `spec.servers[0].tls.mode`. */
  path?: string;
  fix?: string;
  file?: string;
  line?: number;
  col?: number;
}

export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(p)) out += out === '' ? p : `.${p}`;
    else out += `[${JSON.stringify(p)}]`;
  }
  return out;
}

/** `file:line:col: level CODE resource path: message (fix)` — one line per diagnostic. */
export function formatDiagnostic(d: Diagnostic): string {
  // An API object (kubernetes://Kind/ns/name) has no lines: its address and the field path say where.
  const where = d.file === undefined ? '' : d.line === 0 && d.file.startsWith('kubernetes://') ? `${d.file}: ` : `${d.file}:${d.line ?? 0}:${d.col ?? 0}: `;
  const what = [d.resource, d.path].filter((x) => x !== undefined && x !== '').join(' ');
  const fix = d.fix !== undefined ? `\n    fix: ${d.fix}` : '';
  return `${where}${d.level} ${d.code}${what !== '' ? ` ${what}` : ''}: ${d.message}${fix}`;
}

export function hasErrors(ds: readonly Diagnostic[]): boolean {
  return ds.some((d) => d.level === 'error');
}
