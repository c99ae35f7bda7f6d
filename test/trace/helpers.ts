import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildOffline, chooseWorkload, type WorkloadFlags } from '../../src/trace/offline.js';
import { parseTraceRequest, type TraceRequestOptions } from '../../src/trace/request.js';
import { traceRequest } from '../../src/trace/trace.js';
import type { Trace } from '../../src/trace/types.js';

/** Writes inline YAML to a temp file (the trace reports positions in it). */
export function configFile(yaml: string, name = 'istio.yaml'): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-trace-'));
  const file = join(dir, name);
  writeFileSync(file, yaml);
  return file;
}

/** Compiles `files` as `sluice run` would for the workload, and returns a tracer for it. */
export function tracer(files: string[], o: { workload?: WorkloadFlags; credentials?: string } = {}): (method: string, url: string, extra?: Partial<TraceRequestOptions>) => Trace {
  const built = buildOffline({ configPaths: files, credentials: o.credentials, workload: chooseWorkload(o.workload ?? {}) });
  return (method, url, extra = {}) => traceRequest({ snapshot: built.snapshot, store: built.store }, parseTraceRequest({ method, url, ...extra }));
}

/** 1-based line of the first line containing `needle`. */
export function lineOf(yaml: string, needle: string): number {
  return yaml.split('\n').findIndex((l) => l.includes(needle)) + 1;
}
