import { relative, isAbsolute } from 'node:path';
import { describeRequest } from './request.js';
import type { StepResult, StepStage, Trace, TraceSource } from './types.js';

const STAGE_LABEL: Record<StepStage, string> = {
  listener: 'listener',
  filter_chain: 'filter chain',
  tls: 'tls',
  request: 'request',
  virtual_host: 'virtual host',
  route: 'route',
  filter: 'filter',
  action: 'action',
  destination: 'destination',
  cluster: 'cluster',
  endpoint: 'endpoint',
  tls_origination: 'upstream tls',
  upstream_request: 'upstream',
};

const MARK: Record<StepResult, string> = { match: '✓', ok: '✓', no_match: '✗', fail: '✗', skipped: '–', info: '·' };

/** A file path as the user should read it: relative to the working directory when inside it. */
export function displayPath(file: string, cwd: string = process.cwd()): string {
  if (!isAbsolute(file)) return file;
  const r = relative(cwd, file);
  return r.startsWith('..') || isAbsolute(r) ? file : r;
}

export function formatSource(s: TraceSource, cwd?: string): string {
  const where = s.file !== '' ? `  ${displayPath(s.file, cwd)}:${s.line}:${s.col}` : '';
  return `${s.resource}${s.path !== undefined ? ` ${s.path}` : ''}${where}`;
}

/** The trace as text: one line per decision, its source position under it, then the result. */
export function formatTrace(t: Trace, cwd?: string): string {
  const out: string[] = [];
  const w = t.workload;
  out.push(`trace ${describeRequest(t.request)}`);
  out.push(`workload: ${w.mode} ${Object.entries(w.labels).map(([k, v]) => `${k}=${v}`).join(',') || '(no labels)'} in namespace ${w.namespace}, config version ${t.configVersion}`);
  out.push('');
  const pad = 14;
  for (const s of t.steps) {
    out.push(`  ${STAGE_LABEL[s.stage].padEnd(pad)}${MARK[s.result]} ${s.text}`);
    const indent = ' '.repeat(pad + 4);
    if (s.source !== undefined) out.push(`${indent}at ${formatSource(s.source, cwd)}`);
    for (const d of s.detail ?? []) out.push(`${indent}${d}`);
  }
  out.push('');
  const o = t.outcome;
  if (o.kind === 'upstream' && t.upstream !== null) {
    const u = t.upstream;
    out.push(`result: forwarded to ${u.cluster}${u.endpoint !== null ? ` (endpoint ${u.endpoint})` : ''}`);
    if (u.head !== null) {
      for (const line of u.head.trimEnd().split('\r\n')) out.push(`  ${line}`);
    }
  } else if (o.kind === 'local_reply') {
    out.push(`result: ${o.status} ${o.responseFlags} ${o.details} (answered by the ${t.workload.mode === 'sidecar' ? 'sidecar' : 'gateway'})`);
    for (const [n, v] of o.headers) out.push(`  ${n}: ${v}`);
    if (o.body !== '') out.push(`  ${o.body.split('\n').join('\n  ')}`);
    if (o.accessLog !== null) out.push(`access log: ${o.accessLog}`);
  } else {
    out.push(`result: connection closed (${o.details})${o.responseFlags !== '-' ? ` flag ${o.responseFlags}` : ''}`);
  }
  if (o.fix !== null) out.push(`fix: ${o.fix}`);
  return `${out.join('\n')}\n`;
}
