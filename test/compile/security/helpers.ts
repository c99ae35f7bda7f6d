// Inline YAML → validated store → compiled snapshot, and requests evaluated by the real
// authorization engine against a chain of that snapshot.

import { validateResource } from '../../../src/api/validate.js';
import type { MeshConfig } from '../../../src/api/types.js';
import { compile, makeWorkload, type WorkloadOptions } from '../../../src/compile/compile.js';
import type { FilterChain, Snapshot } from '../../../src/compile/snapshot.js';
import type { Diagnostic } from '../../../src/config/diagnostic.js';
import type { Resource } from '../../../src/config/resource.js';
import { ConfigStore } from '../../../src/config/store.js';
import { parseConfigText } from '../../../src/config/yaml-loader.js';
import { HttpStream, type DownstreamCodec, type DownstreamConnection } from '../../../src/proxy/http/stream.js';

export function storeFromYaml(text: string): { store: ConfigStore; diagnostics: Diagnostic[] } {
  const parsed = parseConfigText('test.yaml', text);
  const diagnostics: Diagnostic[] = [...parsed.errors];
  const resources: Resource[] = [];
  parsed.resources.forEach((raw, i) => {
    const v = validateResource(raw, i);
    diagnostics.push(...v.diagnostics);
    if (v.resource !== null) resources.push(v.resource);
  });
  return { store: new ConfigStore(resources, 1), diagnostics };
}

export function compileYaml(text: string, w: WorkloadOptions = {}, mesh: MeshConfig = {}): Snapshot {
  const { store, diagnostics } = storeFromYaml(text);
  const errors = diagnostics.filter((d) => d.level === 'error');
  if (errors.length > 0) throw new Error(`invalid test config: ${errors.map((d) => `${d.path}: ${d.message}`).join('; ')}`);
  return compile({ store, workload: makeWorkload(w, mesh), mesh, credentials: new Map(), files: new Map(), version: 1, meshCa: null });
}

export function chainOf(s: Snapshot, port: number, kind: FilterChain['kind'] = 'http'): FilterChain {
  const l = s.listeners.find((x) => x.port === port);
  if (l === undefined) throw new Error(`no listener for port ${port}: ${s.listeners.map((x) => x.port).join(', ')}`);
  const c = l.filterChains.find((x) => x.kind === kind);
  if (c === undefined) throw new Error(`no ${kind} chain on port ${port}`);
  return c;
}

export interface FakeRequest {
  method?: string;
  authority?: string;
  path?: string;
  headers?: Record<string, string>;
  remoteAddress?: string;
  localAddress?: string;
  localPort?: number;
  sni?: string;
  peerUriSans?: string[];
  requestPrincipal?: string;
  jwtPayload?: Record<string, unknown>;
}

/** What a request looks like to filters, on a chain of a compiled snapshot (no sockets). */
export function fakeStream(snapshot: Snapshot, port: number, r: FakeRequest, kind: FilterChain['kind'] = 'http'): HttpStream {
  const chain = chainOf(snapshot, port, kind);
  const listener = snapshot.listeners.find((x) => x.port === port)!;
  const conn: DownstreamConnection = {
    proxy: null as never,
    remoteAddress: r.remoteAddress ?? '10.0.0.1',
    remotePort: 40000,
    localAddress: r.localAddress ?? '10.0.0.100',
    localPort: r.localPort ?? listener.bindPort,
    listener,
    chain,
    sni: r.sni ?? '',
    tls: (r.peerUriSans?.length ?? 0) > 0,
    peerSubject: '',
    peerUriSans: r.peerUriSans ?? [],
    peerCertPem: '',
    snapshot,
  };
  const s = new HttpStream(conn, null as unknown as DownstreamCodec, snapshot);
  s.method = r.method ?? 'GET';
  s.authority = r.authority ?? 'api.example.com';
  s.path = r.path ?? '/';
  s.headers = Object.entries(r.headers ?? {}).flat();
  s.requestPrincipal = r.requestPrincipal ?? '';
  s.jwtPayload = r.jwtPayload ?? null;
  return s;
}
