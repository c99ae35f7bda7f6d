import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { isMap, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Snapshot } from '../compile/snapshot.js';
import type { Diagnostic } from '../config/diagnostic.js';
import type { ConfigStore } from '../config/store.js';
import { selfSignedCertificate } from '../security/self-signed.js';
import { compareTrace, EXPECTATION_KEYS, type Difference, type Expectation } from './expect.js';
import { buildOffline, chooseWorkload, type WorkloadChoice } from './offline.js';
import { parseTraceRequest, type TraceRequestOptions } from './request.js';
import { traceRequestAsync } from './trace.js';
import type { FetchedKeySet, JwksSource } from '../security/jwks.js';
import type { Trace } from './types.js';

// `sluice test`: declarative routing tests kept next to the Istio YAML they test. A file is
//
//   config: [istio.yaml]               # paths relative to this file (-c on the command line adds)
//   gateway: istio=ingressgateway      # or sidecar: ns/sa; namespace: NS
//   placeholderCredentials: true       # mint a throw-away certificate for each missing credentialName
//   tests:
//   - name: api goes to api-service
//     request: GET https://api.example.com/api/v1/users
//     headers: {x-canary: "true"}
//     expect: {destination: api-service, path: /api/v1/users}
//
// (a bare list of cases is also accepted). Each case is traced offline; `expect` lists what must
// hold (see Expectation).

export interface RoutingTestCase {
  readonly name: string;
  readonly file: string;
  readonly line: number;
  readonly request: TraceRequestOptions | null;
  /** Problem in the case itself (bad request line, unknown expect key): reported as a failure. */
  readonly error: string | null;
  readonly expect: Expectation;
  readonly workloadKey: string;
}

export interface RoutingTestFile {
  readonly file: string;
  readonly config: readonly string[];
  readonly credentials: string | undefined;
  readonly mesh: string | undefined;
  readonly placeholderCredentials: boolean;
  readonly workloads: ReadonlyMap<string, WorkloadChoice>;
  readonly cases: readonly RoutingTestCase[];
}

export interface RoutingTestResult {
  readonly case: RoutingTestCase;
  readonly passed: boolean;
  readonly differences: readonly Difference[];
  readonly trace: Trace | null;
  readonly durationMs: number;
}

export interface RoutingTestOptions {
  /** `-c` paths given on the command line (used instead of, or in addition to, the file's `config`). */
  configPaths?: readonly string[];
  credentials?: string | undefined;
  mesh?: string | undefined;
  placeholderCredentials?: boolean;
}

export class RoutingTestFileError extends Error {}

interface RawCase {
  name?: unknown;
  request?: unknown;
  method?: unknown;
  url?: unknown;
  headers?: unknown;
  sni?: unknown;
  sourceIp?: unknown;
  jwt?: unknown;
  clientCert?: unknown;
  draw?: unknown;
  http2?: unknown;
  data?: unknown;
  gateway?: unknown;
  sidecar?: unknown;
  namespace?: unknown;
  expect?: unknown;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
}

/** Reads a test file, keeping each case's line for the report. */
export function loadRoutingTests(path: string): RoutingTestFile {
  const file = resolve(path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new RoutingTestFileError(`cannot read ${path}: ${(e as Error).message}`);
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new RoutingTestFileError(`${path}:${lc.linePos(e.pos[0]).line}: YAML ${e.code}: ${e.message.split('\n')[0]}`);
  }
  const root = doc.toJS() as unknown;
  let head: Record<string, unknown> = {};
  let casesNode = doc.contents;
  if (isMap(doc.contents)) {
    head = root as Record<string, unknown>;
    casesNode = doc.contents.get('tests', true) as typeof casesNode;
  }
  if (!isSeq(casesNode)) throw new RoutingTestFileError(`${path}: expected a list of cases, or a mapping with \`tests:\``);
  const base = dirname(file);
  const list = (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);
  const fileWorkload = { gateway: str(head.gateway), sidecar: str(head.sidecar), namespace: str(head.namespace), labels: str(head.labels) };
  const workloads = new Map<string, WorkloadChoice>();
  const cases: RoutingTestCase[] = [];
  casesNode.items.forEach((node, i) => {
    const raw = (node as { toJSON(): unknown }).toJSON() as RawCase | null;
    const line = node !== null && typeof node === 'object' && 'range' in node && Array.isArray(node.range) ? lc.linePos(node.range[0] as number).line : 0;
    const name = str(raw?.name) ?? `case ${i + 1}`;
    let error: string | null = null;
    let request: TraceRequestOptions | null = null;
    let expect: Expectation = {};
    let workloadKey = '';
    try {
      if (raw === null || typeof raw !== 'object') throw new Error('a case must be a mapping with request and expect');
      const wf = { gateway: str(raw.gateway) ?? fileWorkload.gateway, sidecar: str(raw.sidecar) ?? fileWorkload.sidecar, namespace: str(raw.namespace) ?? fileWorkload.namespace, labels: fileWorkload.labels };
      const w = chooseWorkload(wf);
      workloadKey = JSON.stringify(w);
      workloads.set(workloadKey, w);
      request = requestOf(raw, base);
      parseTraceRequest(request);
      expect = expectationOf(raw.expect);
    } catch (e) {
      error = (e as Error).message;
    }
    cases.push({ name, file, line, request, error, expect, workloadKey });
  });
  return {
    file,
    config: list(head.config).map((p) => resolve(base, p)),
    credentials: str(head.credentials) !== undefined ? resolve(base, str(head.credentials)!) : undefined,
    mesh: str(head.mesh) !== undefined ? resolve(base, str(head.mesh)!) : undefined,
    placeholderCredentials: head.placeholderCredentials === true,
    workloads,
    cases,
  };
}

function requestOf(raw: RawCase, base: string): TraceRequestOptions {
  let method = str(raw.method) ?? 'GET';
  let url = str(raw.url);
  const line = str(raw.request);
  if (line !== undefined) {
    const parts = line.trim().split(/\s+/);
    if (parts.length === 1) url = parts[0];
    else { method = parts[0]!; url = parts[1]; }
  }
  if (url === undefined) throw new Error('request: expected "METHOD URL" (or method: and url:)');
  const headers: string[] = [];
  if (raw.headers !== undefined) {
    if (raw.headers === null || typeof raw.headers !== 'object' || Array.isArray(raw.headers)) throw new Error('headers: expected a mapping name: value');
    for (const [k, v] of Object.entries(raw.headers as Record<string, unknown>)) headers.push(`${k}:${str(v) ?? ''}`);
  }
  const o: TraceRequestOptions = { method, url, headers };
  if (str(raw.sni) !== undefined) o.sni = str(raw.sni)!;
  if (str(raw.sourceIp) !== undefined) o.sourceIp = str(raw.sourceIp)!;
  if (str(raw.jwt) !== undefined) o.jwt = str(raw.jwt)!;
  if (str(raw.clientCert) !== undefined) o.clientCertPem = readFileSync(resolve(base, str(raw.clientCert)!), 'utf8');
  if (raw.draw !== undefined) o.draw = Number(raw.draw);
  if (raw.http2 === true) o.http2 = true;
  if (raw.data === true) o.hasBody = true;
  return o;
}

function expectationOf(v: unknown): Expectation {
  if (v === undefined) throw new Error('expect: missing (say what must hold, e.g. expect: {destination: api-service})');
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('expect: expected a mapping');
  for (const k of Object.keys(v)) {
    if (!(EXPECTATION_KEYS as readonly string[]).includes(k)) throw new Error(`expect.${k}: unknown key (known: ${EXPECTATION_KEYS.join(', ')})`);
  }
  return v as Expectation;
}

interface Compiled {
  snapshot: Snapshot;
  store: ConfigStore;
  diagnostics: Diagnostic[];
}

/**
 * Compiles each workload once and traces every case against it. Returns the results in file
 * order, plus the config errors met (the cases still run on the valid resources).
 */
export async function runRoutingTests(files: readonly RoutingTestFile[], o: RoutingTestOptions = {}): Promise<{ results: RoutingTestResult[]; configErrors: Diagnostic[] }> {
  const results: RoutingTestResult[] = [];
  const configErrors: Diagnostic[] = [];
  // Remote JWKS are fetched at most once per run, for the cases that send a JWT.
  const keyCache = new Map<JwksSource, Promise<FetchedKeySet>>();
  const signatureCache = new WeakMap<object, Map<string, string | null>>();
  for (const f of files) {
    const configPaths = [...(o.configPaths ?? []), ...f.config];
    if (configPaths.length === 0) throw new RoutingTestFileError(`${f.file}: no configuration: add \`config: [istio.yaml]\` to the file or pass -c`);
    const credentials = o.credentials ?? f.credentials ?? ((o.placeholderCredentials ?? f.placeholderCredentials) ? await placeholderCredentials(configPaths) : undefined);
    const compiled = new Map<string, Compiled>();
    for (const [key, w] of f.workloads) {
      const b = buildOffline({ configPaths, mesh: o.mesh ?? f.mesh, credentials, workload: w });
      compiled.set(key, { snapshot: b.snapshot, store: b.store, diagnostics: b.diagnostics });
      for (const d of b.diagnostics) if (d.level === 'error' && !configErrors.some((x) => x.message === d.message && x.file === d.file && x.line === d.line)) configErrors.push(d);
    }
    for (const c of f.cases) {
      const start = performance.now();
      if (c.error !== null || c.request === null) {
        results.push({ case: c, passed: false, differences: [{ key: 'case', expected: 'a valid case', actual: c.error ?? 'no request' }], trace: null, durationMs: 0 });
        continue;
      }
      const env = compiled.get(c.workloadKey)!;
      const trace = await traceRequestAsync({ snapshot: env.snapshot, store: env.store }, parseTraceRequest(c.request), { offline: true, keyCache, signatureCache });
      const differences = compareTrace(trace, c.expect);
      results.push({ case: c, passed: differences.length === 0, differences, trace, durationMs: performance.now() - start });
    }
  }
  return { results, configErrors };
}

/** A self-signed certificate (also its own CA) for every credentialName the config names. */
export async function placeholderCredentials(configPaths: readonly string[]): Promise<string> {
  const b = buildOffline({ configPaths, workload: chooseWorkload({}) });
  const names = new Map<string, string[]>();
  for (const gw of b.store.list('Gateway')) {
    for (const s of gw.spec.servers) {
      for (const n of [s.tls?.credentialName, ...(s.tls?.credentialNames ?? [])]) {
        if (n === undefined) continue;
        const hosts = s.hosts.map((h) => h.split('/').pop()!).filter((h) => h !== '*').map((h) => h.replace(/^\*\./, 'wildcard.'));
        names.set(n, [...(names.get(n) ?? []), ...hosts]);
      }
    }
  }
  for (const dr of b.store.list('DestinationRule')) {
    const n = dr.spec.trafficPolicy?.tls?.credentialName;
    if (n !== undefined && !names.has(n)) names.set(n, ['client.placeholder']);
  }
  const dir = mkdtempSync(join(tmpdir(), 'sluice-test-creds-'));
  for (const [name, hosts] of names) {
    const { cert, key } = await selfSignedCertificate(hosts.length > 0 ? [...new Set(hosts)] : ['localhost']);
    mkdirSync(join(dir, name), { recursive: true });
    writeFileSync(join(dir, name, 'tls.crt'), cert);
    writeFileSync(join(dir, name, 'tls.key'), key);
    writeFileSync(join(dir, name, 'ca.crt'), cert);
  }
  return dir;
}
