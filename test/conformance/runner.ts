import { mkdtempSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createTestCa, issueCert, writeCredential } from '../support/certs.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { startEchoBackend, type EchoBackend, type EchoReply } from '../support/echo-backend.js';
import { rawExchange, type RawStep } from '../support/raw-http.js';
import { startSluice, type SluiceProcess } from '../support/sluice-process.js';

// Data-driven end-to-end cases (Gateway API conformance style): each folder holds
// config.yaml (Istio YAML; `${backend.NAME}` stands for the port of echo backend NAME) and
// cases.yaml (request → what the backend saw → response). Optional run.yaml: { args, ports }.

export interface CaseRequest {
  scheme?: 'http' | 'https';
  /** TLS server name (default: host). */
  sni?: string;
  method?: string;
  host?: string;
  path?: string;
  port?: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface ConformanceCase {
  name: string;
  request: CaseRequest;
  /** The request must reach this echo backend, which saw this. */
  backend?: { name: string; path?: string; method?: string; host?: string; headers?: Record<string, string>; absentHeaders?: string[] };
  response?: { status?: number; headers?: Record<string, string>; absentHeaders?: string[]; body?: string; bodyContains?: string };
  /** Send `repeat` times and check each backend's share. */
  repeat?: number;
  distribution?: Record<string, [number, number]>;
  /** A line of the access log must match this regex. */
  log?: string;
  /**
   * Raw HTTP/1.1 on one connection instead of `request` (which still gives port/scheme/sni):
   * bytes to send and text to wait for, for what a well-behaved client cannot do
   * (pipelining, 100-continue, malformed requests, upgrades).
   */
  raw?: RawStep[];
  rawExpect?: {
    /** Every response received, 1xx included, in order. */
    statuses?: number[];
    /** Stop reading after this many final responses (default: until close or 5 s). */
    finalResponses?: number;
    /** The server closed the connection. */
    closed?: boolean;
    /** Substrings of everything received (latin1). */
    contains?: string[];
    absent?: string[];
    /** Per response (index in `statuses`): headers, lower-case names, exact values. */
    headers?: (Record<string, string> | null)[];
    /** Per response: header names that must be absent. */
    absentHeaders?: (string[] | null)[];
    /** Per response: a regex the body must match. */
    bodies?: (string | null)[];
  };
}

export interface HttpResult {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export function sendRequest(port: number, r: CaseRequest, ca?: string): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...(r.headers ?? {}) };
    if (r.host !== undefined) headers.host = r.host;
    const opts = { host: '127.0.0.1', port, method: r.method ?? 'GET', path: r.path ?? '/', headers, agent: false };
    const send = r.scheme === 'https'
      ? (cb: Parameters<typeof httpRequest>[1]) => httpsRequest({ ...opts, servername: r.sni ?? (r.host ?? '').split(':')[0], ...(ca !== undefined ? { ca } : { rejectUnauthorized: false }) }, cb)
      : (cb: Parameters<typeof httpRequest>[1]) => httpRequest(opts, cb);
    const req = send((res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const h: Record<string, string> = {};
        for (let i = 0; i < res.rawHeaders.length; i += 2) {
          const k = res.rawHeaders[i]!.toLowerCase();
          h[k] = h[k] === undefined ? res.rawHeaders[i + 1]! : `${h[k]},${res.rawHeaders[i + 1]}`;
        }
        resolve({ status: res.statusCode ?? 0, headers: h, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(r.body);
  });
}

export interface CaseEnvironment {
  sluice: SluiceProcess;
  /** CA that signed the case's server certificates (run.yaml `certificates`). */
  ca?: string;
  backends: Map<string, EchoBackend>;
  cases: ConformanceCase[];
  close(): Promise<void>;
}

/** Both downstream HTTP/1.1 codecs run every case: node:http (the reference) and the fast one. */
export const CODECS = ['node', 'fast'] as const;
export type Codec = (typeof CODECS)[number];

/** Starts the echo backends a case folder names and Sluice on its config (`codec`: `--codec`). */
export async function startCase(dir: string, codec?: Codec): Promise<CaseEnvironment> {
  const raw = readFileSync(join(dir, 'config.yaml'), 'utf8');
  const names = [...new Set([...raw.matchAll(/\$\{backend\.([a-z0-9-]+)\}/g)].map((m) => m[1]!))];
  const backends = new Map<string, EchoBackend>();
  for (const n of names) backends.set(n, await startEchoBackend(n));
  const text = raw.replace(/\$\{backend\.([a-z0-9-]+)\}/g, (_, n: string) => String(backends.get(n)!.port));
  const work = mkdtempSync(join(tmpdir(), 'sluice-conf-'));
  writeFileSync(join(work, 'config.yaml'), text);
  const run = existsSync(join(dir, 'run.yaml'))
    ? (parse(readFileSync(join(dir, 'run.yaml'), 'utf8')) as { args?: string[]; ports?: number[]; certificates?: { name: string; hosts: string[] }[] })
    : {};
  const ports = run.ports ?? gatewayPorts(text);
  const args = ['--resolve', 'localhost=127.0.0.1', ...(codec !== undefined ? ['--codec', codec] : []), ...(run.args ?? [])];
  let caPem: string | undefined;
  if (run.certificates !== undefined) {
    const ca = createTestCa();
    caPem = ca.certPem;
    const creds = join(work, 'credentials');
    for (const c of run.certificates) {
      const leaf = issueCert(ca, c.hosts[0]!, c.hosts);
      writeCredential(creds, c.name, { cert: leaf.cert, key: leaf.key, ca: ca.certPem });
    }
    args.push('--credentials', creds);
  }
  const sluice = await startSluice({ config: [join(work, 'config.yaml')], ports, args });
  const cases = parse(readFileSync(join(dir, 'cases.yaml'), 'utf8')) as ConformanceCase[];
  return {
    sluice,
    ...(caPem !== undefined ? { ca: caPem } : {}),
    backends,
    cases,
    close: async () => {
      await sluice.stop();
      for (const b of backends.values()) await b.close();
    },
  };
}

function gatewayPorts(text: string): number[] {
  const ports = new Set<number>();
  for (const d of parseAllDocuments(text)) {
    const o = d.toJS() as { kind?: string; spec?: { servers?: { port?: { number?: number } }[] } } | null;
    if (o?.kind !== 'Gateway') continue;
    for (const s of o.spec?.servers ?? []) if (typeof s.port?.number === 'number') ports.add(s.port.number);
  }
  return [...ports];
}

export function listCases(root: string): string[] {
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(root, d.name, 'cases.yaml')))
    .map((d) => d.name)
    .sort();
}

/** Checks one case; throws an Error describing the first mismatch. */
export async function checkCase(env: CaseEnvironment, c: ConformanceCase): Promise<void> {
  const port = env.sluice.port(c.request.port ?? 80);
  if (c.raw !== undefined) { await checkRaw(env, c, port); return; }
  if (c.repeat !== undefined) {
    const counts: Record<string, number> = {};
    for (let i = 0; i < c.repeat; i++) {
      const res = await sendRequest(port, c.request, env.ca);
      const who = res.status === 200 ? (JSON.parse(res.body) as EchoReply).backend : `status ${res.status}`;
      counts[who] = (counts[who] ?? 0) + 1;
    }
    for (const [name, [lo, hi]] of Object.entries(c.distribution ?? {})) {
      const share = (counts[name] ?? 0) / c.repeat;
      if (share < lo || share > hi) throw new Error(`${name} served ${share.toFixed(3)} of requests, expected ${lo}..${hi} (counts ${JSON.stringify(counts)})`);
    }
    return;
  }
  const res = await sendRequest(port, c.request, env.ca);
  const want = c.response ?? {};
  const status = want.status ?? (c.backend !== undefined ? 200 : undefined);
  if (status !== undefined && res.status !== status) throw new Error(`status ${res.status}, expected ${status}; body: ${res.body.slice(0, 300)}`);
  for (const [k, v] of Object.entries(want.headers ?? {})) {
    if (res.headers[k.toLowerCase()] !== v) throw new Error(`response header ${k}: ${res.headers[k.toLowerCase()]}, expected ${v}`);
  }
  for (const k of want.absentHeaders ?? []) if (res.headers[k.toLowerCase()] !== undefined) throw new Error(`response header ${k} should be absent, is ${res.headers[k.toLowerCase()]}`);
  if (want.body !== undefined && res.body !== want.body) throw new Error(`body ${JSON.stringify(res.body)}, expected ${JSON.stringify(want.body)}`);
  if (want.bodyContains !== undefined && !res.body.includes(want.bodyContains)) throw new Error(`body ${JSON.stringify(res.body.slice(0, 300))} lacks ${JSON.stringify(want.bodyContains)}`);
  if (c.backend !== undefined) {
    let echo: EchoReply;
    try {
      echo = JSON.parse(res.body) as EchoReply;
    } catch {
      throw new Error(`expected backend ${c.backend.name} to answer, got a non-echo body: ${res.body.slice(0, 200)}`);
    }
    const b = c.backend;
    if (echo.backend !== b.name) throw new Error(`served by ${echo.backend}, expected ${b.name}`);
    if (b.path !== undefined && echo.path !== b.path) throw new Error(`backend saw path ${echo.path}, expected ${b.path}`);
    if (b.method !== undefined && echo.method !== b.method) throw new Error(`backend saw method ${echo.method}, expected ${b.method}`);
    if (b.host !== undefined && echo.host !== b.host) throw new Error(`backend saw host ${echo.host}, expected ${b.host}`);
    for (const [k, v] of Object.entries(b.headers ?? {})) {
      const got = echo.headers[k.toLowerCase()];
      const ok = v.startsWith('/') && v.endsWith('/') && v.length > 1 ? got !== undefined && new RegExp(v.slice(1, -1)).test(got) : got === v;
      if (!ok) throw new Error(`backend saw header ${k}: ${got}, expected ${v}`);
    }
    for (const k of b.absentHeaders ?? []) if (echo.headers[k.toLowerCase()] !== undefined) throw new Error(`backend saw header ${k}: ${echo.headers[k.toLowerCase()]}, expected it absent`);
  }
  if (c.log !== undefined) await env.sluice.waitFor(new RegExp(c.log), 'stdout', 5000);
}

async function checkRaw(env: CaseEnvironment, c: ConformanceCase, port: number): Promise<void> {
  const want = c.rawExpect ?? {};
  const r = c.request;
  const tls = r.scheme === 'https' ? { servername: r.sni ?? (r.host ?? '').split(':')[0]!, ...(env.ca !== undefined ? { ca: env.ca } : {}) } : undefined;
  const res = await rawExchange(port, c.raw!, { ...(tls !== undefined ? { tls } : {}), ...(want.finalResponses !== undefined ? { finalResponses: want.finalResponses } : {}) });
  const shown = JSON.stringify(res.text.slice(0, 600));
  if (want.statuses !== undefined) {
    const got = res.responses.map((x) => x.status);
    if (JSON.stringify(got) !== JSON.stringify(want.statuses)) throw new Error(`statuses ${JSON.stringify(got)}, expected ${JSON.stringify(want.statuses)}; received ${shown}`);
  }
  if (want.closed !== undefined && res.closed !== want.closed) throw new Error(`connection ${res.closed ? 'closed' : 'left open'} by the server, expected ${want.closed ? 'closed' : 'open'}; received ${shown}`);
  for (const t of want.contains ?? []) if (!res.text.includes(t)) throw new Error(`received text lacks ${JSON.stringify(t)}: ${shown}`);
  for (const t of want.absent ?? []) if (res.text.includes(t)) throw new Error(`received text has ${JSON.stringify(t)}: ${shown}`);
  (want.headers ?? []).forEach((hs, i) => {
    for (const [k, v] of Object.entries(hs ?? {})) {
      const got = res.responses[i]?.headers[k.toLowerCase()];
      if (got !== v) throw new Error(`response ${i} header ${k}: ${got}, expected ${v}; received ${shown}`);
    }
  });
  (want.absentHeaders ?? []).forEach((hs, i) => {
    for (const k of hs ?? []) if (res.responses[i]?.headers[k.toLowerCase()] !== undefined) throw new Error(`response ${i} header ${k} should be absent; received ${shown}`);
  });
  (want.bodies ?? []).forEach((b, i) => {
    if (b === null) return;
    const got = res.responses[i]?.body;
    if (got === undefined || !new RegExp(b).test(got)) throw new Error(`response ${i} body ${JSON.stringify(got?.slice(0, 300))} does not match /${b}/`);
  });
  if (c.log !== undefined) await env.sluice.waitFor(new RegExp(c.log), 'stdout', 5000);
}
