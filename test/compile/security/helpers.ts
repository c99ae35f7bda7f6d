// Inline YAML → validated store → compiled snapshot, and requests evaluated by the real
// authorization engine against a chain of that snapshot.

import type { MeshConfig } from '../../../src/api/types.js';
import type { WorkloadOptions } from '../../../src/compile/compile.js';
import type { FilterChain, Snapshot } from '../../../src/compile/snapshot.js';
import { HttpStream, type DownstreamCodec, type DownstreamConnection } from '../../../src/proxy/http/stream.js';
import { compileInline, storeFromYaml } from '../../support/compile.js';

export { storeFromYaml };

export function compileYaml(text: string, w: WorkloadOptions = {}, mesh: MeshConfig = {}): Snapshot {
  return compileInline(text, { workload: w, mesh }).snapshot;
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
