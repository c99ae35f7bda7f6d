import type { WorkloadOptions } from '../../src/compile/compile.js';
import type { Snapshot } from '../../src/compile/snapshot.js';
import type { Diagnostic } from '../../src/config/diagnostic.js';
import { compileInline } from '../support/compile.js';
import { gatewayYaml } from '../support/yaml.js';

/** Inline YAML → validated store → snapshot, as `sluice run` would build it. */
export function compileYaml(yaml: string, workload: WorkloadOptions = {}): { snapshot: Snapshot; diagnostics: Diagnostic[] } {
  return compileInline(yaml, { workload });
}

/** A minimal RequestView for matcher tests. */
export function requestView(o: { method?: string; path?: string; authority?: string; scheme?: string; headers?: Record<string, string> }) {
  const path = o.path ?? '/';
  const q = path.indexOf('?');
  const params = new URLSearchParams(q < 0 ? '' : path.slice(q + 1));
  const headers = Object.fromEntries(Object.entries(o.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  return {
    method: o.method ?? 'GET',
    scheme: o.scheme ?? 'http',
    authority: o.authority ?? 'example.com',
    pathOnly: q < 0 ? path : path.slice(0, q),
    header: (n: string) => headers[n],
    queryParam: (n: string) => params.get(n) ?? undefined,
  };
}

export const GATEWAY = (hosts: string[]): string => `${gatewayYaml(hosts)}\n`;
