import { validateResource } from '../../src/api/validate.js';
import { compile, makeWorkload, type WorkloadOptions } from '../../src/compile/compile.js';
import type { Snapshot } from '../../src/compile/snapshot.js';
import type { Diagnostic } from '../../src/config/diagnostic.js';
import type { Resource } from '../../src/config/resource.js';
import { ConfigStore } from '../../src/config/store.js';
import { parseConfigText } from '../../src/config/yaml-loader.js';
import { gatewayYaml } from '../support/yaml.js';

/** Inline YAML → validated store → snapshot, as `sluice run` would build it. */
export function compileYaml(yaml: string, workload: WorkloadOptions = {}): { snapshot: Snapshot; diagnostics: Diagnostic[] } {
  const parsed = parseConfigText('inline.yaml', yaml);
  if (parsed.errors.length > 0) throw new Error(parsed.errors.map((e) => e.message).join('\n'));
  const resources: Resource[] = [];
  const diagnostics: Diagnostic[] = [];
  parsed.resources.forEach((raw, i) => {
    const r = validateResource(raw, i + 1);
    diagnostics.push(...r.diagnostics);
    if (r.resource !== null) resources.push(r.resource);
  });
  const errors = diagnostics.filter((d) => d.level === 'error');
  if (errors.length > 0) throw new Error(errors.map((e) => `${e.path}: ${e.message}`).join('\n'));
  const store = new ConfigStore(resources, 1);
  const snapshot = compile({ store, workload: makeWorkload(workload, {}), mesh: {}, credentials: new Map(), files: new Map(), version: 1, meshCa: null });
  return { snapshot, diagnostics: [...diagnostics, ...snapshot.diagnostics] };
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
