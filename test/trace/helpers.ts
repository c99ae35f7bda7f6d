import { buildOffline, chooseWorkload, type WorkloadFlags } from '../../src/trace/offline.js';
import { parseTraceRequest, type TraceRequestOptions } from '../../src/trace/request.js';
import type { BuildResult } from '../../src/config/pipeline.js';
import { traceRequest, traceRequestAsync, type TraceOptions } from '../../src/trace/trace.js';
import type { Trace } from '../../src/trace/types.js';
import { configFile as writeConfigFile } from '../support/yaml.js';

/** Writes inline YAML to a temp file (the trace reports positions in it). */
export function configFile(yaml: string, name = 'istio.yaml'): string {
  return writeConfigFile(yaml, name);
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

/** As tracer, with the asynchronous trace `sluice trace` and `sluice test` use (offline by default). */
export function asyncTracer(files: string[], o: { workload?: WorkloadFlags; mesh?: string; options?: TraceOptions } = {}): { built: BuildResult; trace: (method: string, url: string, extra?: Partial<TraceRequestOptions>) => Promise<Trace> } {
  const built = buildOffline({ configPaths: files, mesh: o.mesh, workload: chooseWorkload(o.workload ?? {}) });
  // A typo in a test's YAML must fail the test, not silently drop the resource.
  const errors = built.diagnostics.filter((d) => d.level === 'error');
  if (errors.length > 0) throw new Error(`test config has errors: ${errors.map((d) => `${d.line}:${d.col} ${d.message}`).join('; ')}`);
  const options = o.options ?? { offline: true };
  return { built, trace: (method, url, extra = {}) => traceRequestAsync({ snapshot: built.snapshot, store: built.store }, parseTraceRequest({ method, url, ...extra }), options) };
}
