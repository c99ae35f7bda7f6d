import { mkdtempSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect as h2connect } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { createTestCa, issueCert, writeCredential, type IssuedCert, type TestCa } from '../support/certs.js';
import { startHttpsEcho, startTcpEcho, startTlsEcho } from '../support/tls-backends.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { startEchoBackend, type EchoReply } from '../support/echo-backend.js';
import { rawExchange, type RawStep } from '../support/raw-http.js';
import { startSluice, type SluiceProcess } from '../support/sluice-process.js';
import { makeKey, signToken, startJwksServer, type JwksServer, type SigningKey } from '../support/jwks-server.js';
import { freePort } from '../support/ports.js';
import { compareTrace, type Expectation } from '../../src/trace/expect.js';
import type { Trace } from '../../src/trace/types.js';

// Data-driven end-to-end cases (Gateway API conformance style): each folder holds
// config.yaml (Istio YAML; `${backend.NAME}` stands for the port of echo backend NAME) and
// cases.yaml (request → what the backend saw → response). Optional run.yaml: { args, ports,
// certificates, clientCertificates, backends } — see RunSpec.

export interface CaseRequest {
  scheme?: 'http' | 'https';
  /** `tcp` / `tls`: open a raw connection, send `send`, compare what comes back with response.body. */
  protocol?: 'http' | 'tcp' | 'tls';
  send?: string;
  /** HTTP/2: ALPN h2 on https, prior knowledge (h2c) on http. */
  http2?: boolean;
  /** Present this client certificate (run.yaml clientCertificates name). */
  clientCert?: string;
  /** TLS server name (default: host). */
  sni?: string;
  method?: string;
  host?: string;
  path?: string;
  port?: number;
  headers?: Record<string, string>;
  body?: string;
  /**
   * Sign a JWT with a key of the case's JWKS server (run.yaml `jwks`) and send it as
   * `Authorization: Bearer` (or in `header`, after `prefix`).
   */
  jwt?: { kid: string; claims: Record<string, unknown>; expiresIn?: number; header?: string; prefix?: string };
}

export interface ConformanceCase {
  name: string;
  request: CaseRequest;
  /** The request must reach this echo backend, which saw this. */
  backend?: { name: string; path?: string; method?: string; host?: string; headers?: Record<string, string>; absentHeaders?: string[]; /** TLS backends: the SNI and client certificate CN they saw. */ sni?: string; clientCn?: string };
  response?: { status?: number; headers?: Record<string, string>; absentHeaders?: string[]; body?: string; bodyContains?: string; refused?: boolean };
  /** Send `repeat` times and check each backend's share. */
  repeat?: number;
  distribution?: Record<string, [number, number]>;
  /** A line of the access log must match this regex. */
  log?: string;
  /**
   * No access-log line may match this regex. Checked when a later case's `log` line has
   * appeared (lines are written in order), so follow such a case with one that logs.
   */
  noLog?: string;
  /** After the request, each regex must match a line of /stats/prometheus. */
  metrics?: string[];
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
  /** A line of the operational log (stderr) must match this regex. */
  stderr?: string;
  /** A copy of the request must reach this (mirror) backend. */
  mirrored?: { name: string; path?: string; host?: string };
  /**
   * What `sluice trace` says about the request, asked of the running gateway (/debug/trace):
   * Istio-style names (`routeConfig: http.80`, `vhost: "example.com:80"`, `cluster: outbound|..`)
   * or any `sluice test` expectation key. `listener: 0.0.0.0_<gateway port>` is mapped to the
   * port the test bound.
   */
  trace?: Expectation & { vhost?: string };
}

/** run.yaml: how to start the case. */
export interface RunSpec {
  args?: string[];
  /** Gateway ports to bind on free local ports (default: every Gateway server port); `${port.N}` in config.yaml is the local port of N. */
  ports?: number[];
  /** A JWKS server with these keys per path; `${jwks/PATH}` in config.yaml is its URL. */
  jwks?: { path: string; keys: { kid: string; alg: string }[] }[];
  /**
   * Server/client certificates signed by the case CA. `as`: `credentials` (default; written to
   * --credentials DIR/<name>/ with ca.crt), `secret-tls` or `secret-generic` (a Secret in the
   * config, keys tls.crt/tls.key/ca.crt as `kubectl create secret ... --from-file` makes them).
   */
  certificates?: { name: string; hosts: string[]; as?: 'credentials' | 'secret-tls' | 'secret-generic'; namespace?: string; client?: boolean }[];
  /** Client certificates for requests (`clientCert:`); `rogue: true` = signed by another CA. */
  clientCertificates?: { name: string; sans: string[]; cn?: string; rogue?: boolean }[];
  /** Backends other than the HTTP echo: `https`, `mtls-https` (needs a client cert), `tls` (echo), `tcp` (echo). */
  backends?: { name: string; kind: 'https' | 'mtls-https' | 'tls' | 'tcp'; hosts?: string[] }[];
}

interface ClientTls {
  ca?: string;
  cert?: string;
  key?: string;
}

/** A raw TCP or TLS exchange: send bytes, collect the reply until the peer closes or `want` bytes came. */
export function sendRaw(port: number, r: CaseRequest, tls: ClientTls | null, want: number): Promise<{ refused: boolean; body: string; error: string }> {
  return new Promise((resolve) => {
    const sock = tls === null
      ? netConnect(port, '127.0.0.1')
      : tlsConnect({ host: '127.0.0.1', port, servername: r.sni ?? r.host ?? '', ...(tls.ca !== undefined ? { ca: tls.ca } : { rejectUnauthorized: false }), ...(tls.cert !== undefined ? { cert: tls.cert, key: tls.key } : {}) });
    let body = '';
    let ready = false;
    let done = false;
    const finish = (error: string): void => {
      if (done) return;
      done = true;
      sock.destroy();
      resolve({ refused: !ready || (error !== '' && body === ''), body, error });
    };
    sock.once(tls === null ? 'connect' : 'secureConnect', () => { ready = true; sock.write(r.send ?? ''); });
    sock.on('data', (d: Buffer) => { body += d.toString(); if (body.length >= want) finish(''); });
    sock.on('error', (e) => finish(e.message));
    sock.on('close', () => finish(''));
  });
}

function sendH2(port: number, r: CaseRequest, tls: ClientTls | null): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const host = r.host ?? 'localhost';
    const session = tls === null
      ? h2connect(`http://127.0.0.1:${port}`)
      : h2connect(`https://127.0.0.1:${port}`, { servername: r.sni ?? host.split(':')[0], ...(tls.ca !== undefined ? { ca: tls.ca } : { rejectUnauthorized: false }), ...(tls.cert !== undefined ? { cert: tls.cert, key: tls.key } : {}) });
    session.on('error', reject);
    const req = session.request({ ':method': r.method ?? 'GET', ':path': r.path ?? '/', ':authority': host, ...(r.headers ?? {}) });
    const chunks: Buffer[] = [];
    let status = 0;
    const headers: Record<string, string> = {};
    req.on('response', (h) => {
      status = Number(h[':status']);
      for (const [k, v] of Object.entries(h)) if (!k.startsWith(':') && v !== undefined) headers[k] = Array.isArray(v) ? v.join(',') : String(v);
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => { session.close(); resolve({ status, headers, body: Buffer.concat(chunks).toString('utf8') }); });
    req.on('error', (e) => { session.close(); reject(e); });
    req.end(r.body);
  });
}

export interface HttpResult {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export function sendRequest(port: number, r: CaseRequest, ca?: string, client?: { cert: string; key: string }): Promise<HttpResult> {
  if (r.http2 === true) return sendH2(port, r, r.scheme === 'https' ? { ...(ca !== undefined ? { ca } : {}), ...(client ?? {}) } : null);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...(r.headers ?? {}) };
    if (r.host !== undefined) headers.host = r.host;
    const opts = { host: '127.0.0.1', port, method: r.method ?? 'GET', path: r.path ?? '/', headers, agent: false };
    const send = r.scheme === 'https'
      ? (cb: (res: IncomingMessage) => void) => httpsRequest({ ...opts, servername: r.sni ?? (r.host ?? '').split(':')[0], ...(ca !== undefined ? { ca } : { rejectUnauthorized: false }), ...(client ?? {}) }, cb)
      : (cb: (res: IncomingMessage) => void) => httpRequest(opts, cb);
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
  /** Local port a Gateway server port is bound on. */
  port(servicePort: number): number;
  /** Keys of the case's JWKS server, by kid. */
  jwtKeys: Map<string, SigningKey>;
  /** CA that signed the case's server certificates (run.yaml `certificates`). */
  ca?: string;
  /** Client certificates by run.yaml name. */
  clients: Map<string, IssuedCert>;
  /** By name; HTTP echo backends also list the requests they `seen`. */
  backends: Map<string, { port: number; close(): Promise<void>; seen?: EchoReply[] }>;
  cases: ConformanceCase[];
  /** `noLog` expectations waiting for a later access-log line. */
  absentLogs: { re: RegExp; name: string }[];
  close(): Promise<void>;
}

/** Both downstream HTTP/1.1 codecs run every case: node:http (the reference) and the fast one. */
export const CODECS = ['node', 'fast'] as const;
export type Codec = (typeof CODECS)[number];

/** Starts the echo backends a case folder names and Sluice on its config (`codec`: `--codec`). */
export async function startCase(dir: string, codec?: Codec): Promise<CaseEnvironment> {
  const raw = readFileSync(join(dir, 'config.yaml'), 'utf8');
  const run: RunSpec = existsSync(join(dir, 'run.yaml')) ? (parse(readFileSync(join(dir, 'run.yaml'), 'utf8')) as RunSpec) : {};
  const needsCa = run.certificates !== undefined || run.clientCertificates !== undefined || run.backends !== undefined;
  const ca: TestCa | null = needsCa ? createTestCa() : null;
  const names = [...new Set([...raw.matchAll(/\$\{backend\.([a-z0-9-]+)\}/g)].map((m) => m[1]!))];
  const backends = new Map<string, { port: number; close(): Promise<void>; seen?: EchoReply[] }>();
  for (const n of names) {
    const spec = run.backends?.find((b) => b.name === n);
    if (spec === undefined) { backends.set(n, await startEchoBackend(n)); continue; }
    const hosts = spec.hosts ?? [`${n}.example.com`];
    const leaf = spec.kind === 'tcp' ? null : issueCert(ca!, hosts[0]!, hosts);
    backends.set(n, spec.kind === 'tcp' ? await startTcpEcho(n)
      : spec.kind === 'tls' ? await startTlsEcho(n, leaf!.cert, leaf!.key)
      : await startHttpsEcho(n, leaf!.cert, leaf!.key, spec.kind === 'mtls-https' ? { ca: ca!.certPem, requestCert: true } : {}));
  }
  // Gateway ports are bound on free local ports chosen here, so config.yaml can name them.
  const ports = run.ports ?? gatewayPorts(raw);
  const portMap = new Map<number, number>();
  for (const p of ports) portMap.set(p, await freePort());
  let jwksServer: JwksServer | null = null;
  const jwtKeys = new Map<string, SigningKey>();
  if (run.jwks !== undefined) {
    jwksServer = await startJwksServer();
    for (const set of run.jwks) {
      const ks: SigningKey[] = [];
      for (const k of set.keys) { const key = await makeKey(k.alg, k.kid); ks.push(key); jwtKeys.set(k.kid, key); }
      jwksServer.publish(ks, set.path);
    }
  }
  let text = raw
    .replace(/\$\{backend\.([a-z0-9-]+)\}/g, (_, n: string) => String(backends.get(n)!.port))
    .replace(/\$\{port\.(\d+)\}/g, (_, n: string) => String(portMap.get(Number(n)) ?? n))
    .replace(/\$\{jwks(\/[^}]*)\}/g, (_, path: string) => jwksServer!.url(path));
  const work = mkdtempSync(join(tmpdir(), 'sluice-conf-'));
  const args = ['--resolve', 'localhost=127.0.0.1', ...(codec !== undefined ? ['--codec', codec] : []), ...(run.args ?? [])];
  if (portMap.size > 0) args.push('--port-map', [...portMap].map(([a, b]) => `${a}=${b}`).join(','));
  const caFile = join(work, 'case-ca.crt');
  if (ca !== null) writeFileSync(caFile, ca.certPem);
  args.forEach((a, i) => { args[i] = a.replace('${caFile}', caFile); });
  text = text.replace(/\$\{caFile\}/g, caFile);
  if (run.certificates !== undefined) {
    const creds = join(work, 'credentials');
    let usesDir = false;
    for (const c of run.certificates) {
      const leaf = issueCert(ca!, c.hosts[0]!, c.hosts, { client: c.client === true });
      if ((c.as ?? 'credentials') === 'credentials') {
        writeCredential(creds, c.name, { cert: leaf.cert, key: leaf.key, ca: ca!.certPem });
        usesDir = true;
        continue;
      }
      const b64 = (v: string): string => Buffer.from(v).toString('base64');
      text += `\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: ${c.name}, namespace: ${c.namespace ?? 'istio-system'}}\ntype: ${c.as === 'secret-tls' ? 'kubernetes.io/tls' : 'Opaque'}\ndata:\n  tls.crt: ${b64(leaf.cert)}\n  tls.key: ${b64(leaf.key)}\n  ca.crt: ${b64(ca!.certPem)}\n`;
    }
    if (usesDir) args.push('--credentials', creds);
  }
  writeFileSync(join(work, 'config.yaml'), text);
  const clients = new Map<string, IssuedCert>();
  let rogue: TestCa | null = null;
  for (const c of run.clientCertificates ?? []) {
    const signer = c.rogue === true ? (rogue ??= createTestCa('Rogue CA')) : ca!;
    clients.set(c.name, issueCert(signer, c.cn ?? c.name, c.sans, { client: true }));
  }
  const caPem = ca?.certPem;
  const proc = await startSluice({ config: [join(work, 'config.yaml')], ports: [], args });
  // The ports were chosen here: answer for them.
  const sluice: SluiceProcess = { ...proc, port: (p) => portMap.get(p) ?? proc.port(p) };
  const cases = parse(readFileSync(join(dir, 'cases.yaml'), 'utf8')) as ConformanceCase[];
  return {
    sluice,
    port: (p) => portMap.get(p) ?? p,
    jwtKeys,
    ...(caPem !== undefined ? { ca: caPem } : {}),
    clients,
    backends,
    cases,
    absentLogs: [],
    close: async () => {
      await sluice.stop();
      for (const b of backends.values()) await b.close();
      await jwksServer?.close();
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

/** The request as sent: a signed token added where `jwt` says. */
async function withToken(env: CaseEnvironment, r: CaseRequest): Promise<CaseRequest> {
  if (r.jwt === undefined) return r;
  const key = env.jwtKeys.get(r.jwt.kid);
  if (key === undefined) throw new Error(`no JWKS key ${r.jwt.kid} in run.yaml`);
  const token = await signToken(key, r.jwt.claims, r.jwt.expiresIn !== undefined ? { expiresIn: r.jwt.expiresIn } : {});
  const header = r.jwt.header ?? 'authorization';
  const prefix = r.jwt.prefix ?? (header === 'authorization' ? 'Bearer ' : '');
  return { ...r, headers: { ...(r.headers ?? {}), [header]: `${prefix}${token}` } };
}

/** The running gateway's trace of the case's request, compared with `trace:`. */
async function checkTrace(env: CaseEnvironment, c: ConformanceCase, r: CaseRequest): Promise<void> {
  const scheme = r.scheme ?? 'http';
  const port = r.port ?? 80;
  const hostHeader = r.host ?? 'localhost';
  const host = hostHeader.split(':')[0]!;
  const q = new URLSearchParams({ method: r.method ?? 'GET', url: `${scheme}://${host}:${port}${r.path ?? '/'}`, format: 'json' });
  q.append('header', `host:${hostHeader}`); // what the client sends, port or not
  for (const [k, v] of Object.entries(r.headers ?? {})) q.append('header', `${k}:${v}`);
  if (r.sni !== undefined) q.set('sni', r.sni);
  if (r.body !== undefined) q.set('data', '1');
  if (r.clientCert !== undefined) q.set('client-cert', env.clients.get(r.clientCert)?.cert ?? '');
  const res = await env.sluice.admin(`/debug/trace?${q}`);
  if (res.status !== 200) throw new Error(`/debug/trace answered ${res.status}: ${await res.text()}`);
  const trace = (await res.json()) as Trace;
  const { vhost, ...want } = c.trace!;
  if (vhost !== undefined) want.virtualHost = vhost;
  const l = /^0\.0\.0\.0_(\d+)$/.exec(want.listener ?? '');
  if (l !== null) want.listener = `0.0.0.0_${env.port(Number(l[1]))}`;
  const diffs = compareTrace(trace, want);
  if (diffs.length > 0) throw new Error(`trace: ${diffs.map((d) => `${d.key} expected ${d.expected}, got ${d.actual}`).join('; ')}`);
}

/**
 * The case's access-log line (`log`), then the `noLog` lines of earlier cases: the access log
 * is written in order, so once a later line is there an earlier one would be too.
 */
async function awaitLog(env: CaseEnvironment, c: ConformanceCase): Promise<void> {
  if (c.log === undefined) return;
  await env.sluice.waitFor(new RegExp(c.log), 'stdout', 5000);
  const pending = env.absentLogs.splice(0);
  for (const a of pending) {
    const hit = env.sluice.stdout.find((l) => a.re.test(l));
    if (hit !== undefined) throw new Error(`case "${a.name}" should not have been logged, but the access log has: ${hit}`);
  }
}

/** Each `metrics` regex must match a line of /stats/prometheus. */
async function checkMetrics(env: CaseEnvironment, c: ConformanceCase): Promise<void> {
  if (c.metrics === undefined) return;
  const lines = (await (await env.sluice.admin('/stats/prometheus')).text()).split('\n');
  for (const m of c.metrics) {
    const re = new RegExp(m);
    if (lines.some((l) => re.test(l))) continue;
    const name = /^[a-z_]+/.exec(m)?.[0] ?? '';
    throw new Error(`no /stats/prometheus line matches ${m}; ${name} lines:\n${lines.filter((l) => name !== '' && l.startsWith(name)).join('\n')}`);
  }
}

/** Checks one case; throws an Error describing the first mismatch. */
export async function checkCase(env: CaseEnvironment, c: ConformanceCase): Promise<void> {
  const request = await withToken(env, c.request);
  // The trace is asked first: it must not change what the request then gets (no token taken).
  if (c.trace !== undefined) await checkTrace(env, c, request);
  const port = env.port(c.request.port ?? 80);
  if (c.raw !== undefined) { await checkRaw(env, c, port); return; }
  let client: { cert: string; key: string } | undefined;
  if (c.request.clientCert !== undefined) {
    const cc = env.clients.get(c.request.clientCert);
    if (cc === undefined) throw new Error(`run.yaml has no clientCertificates entry ${c.request.clientCert}`);
    client = { cert: cc.cert, key: cc.key };
  }
  if (c.request.protocol === 'tcp' || c.request.protocol === 'tls') {
    const want = c.response?.body ?? '';
    const res = await sendRaw(port, c.request, c.request.protocol === 'tls' ? { ...(env.ca !== undefined ? { ca: env.ca } : {}), ...(client ?? {}) } : null, Math.max(want.length, 1));
    if (c.response?.refused === true) {
      if (!res.refused) throw new Error(`expected the connection to be refused, got ${JSON.stringify(res.body)}`);
    } else {
      if (res.refused) throw new Error(`connection refused: ${res.error}`);
      if (c.response?.body !== undefined && res.body !== want) throw new Error(`reply ${JSON.stringify(res.body)}, expected ${JSON.stringify(want)}`);
      if (c.response?.bodyContains !== undefined && !res.body.includes(c.response.bodyContains)) throw new Error(`reply ${JSON.stringify(res.body)} lacks ${JSON.stringify(c.response.bodyContains)}`);
    }
    await awaitLog(env, c);
    if (c.stderr !== undefined) await env.sluice.waitFor(new RegExp(c.stderr), 'stderr', 5000);
    return;
  }
  if (c.response?.refused === true) {
    const err = await sendRequest(port, request, env.ca, client).then((r) => new Error(`expected the connection to be refused, got status ${r.status}`), (e: Error) => e);
    if (err.message.startsWith('expected the connection')) throw err;
    if (c.stderr !== undefined) await env.sluice.waitFor(new RegExp(c.stderr), 'stderr', 5000);
    await awaitLog(env, c);
    return;
  }
  if (c.repeat !== undefined) {
    const counts: Record<string, number> = {};
    for (let i = 0; i < c.repeat; i++) {
      const res = await sendRequest(port, request, env.ca, client);
      const who = res.status === 200 ? (JSON.parse(res.body) as EchoReply).backend : `status ${res.status}`;
      counts[who] = (counts[who] ?? 0) + 1;
    }
    for (const [name, [lo, hi]] of Object.entries(c.distribution ?? {})) {
      const share = (counts[name] ?? 0) / c.repeat;
      if (share < lo || share > hi) throw new Error(`${name} served ${share.toFixed(3)} of requests, expected ${lo}..${hi} (counts ${JSON.stringify(counts)})`);
    }
    if (c.stderr !== undefined) await env.sluice.waitFor(new RegExp(c.stderr), 'stderr', 5000);
    return;
  }
  const res = await sendRequest(port, request, env.ca, client);
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
    const tlsView = echo as EchoReply & { sni?: string; clientCn?: string };
    if (b.sni !== undefined && tlsView.sni !== b.sni) throw new Error(`backend saw SNI ${tlsView.sni}, expected ${b.sni}`);
    if (b.clientCn !== undefined && tlsView.clientCn !== b.clientCn) throw new Error(`backend saw client certificate CN ${tlsView.clientCn}, expected ${b.clientCn}`);
    for (const [k, v] of Object.entries(b.headers ?? {})) {
      const got = echo.headers[k.toLowerCase()];
      const ok = v.startsWith('/') && v.endsWith('/') && v.length > 1 ? got !== undefined && new RegExp(v.slice(1, -1)).test(got) : got === v;
      if (!ok) throw new Error(`backend saw header ${k}: ${got}, expected ${v}`);
    }
    for (const k of b.absentHeaders ?? []) if (echo.headers[k.toLowerCase()] !== undefined) throw new Error(`backend saw header ${k}: ${echo.headers[k.toLowerCase()]}, expected it absent`);
  }
  if (c.noLog !== undefined) env.absentLogs.push({ re: new RegExp(c.noLog), name: c.name });
  await awaitLog(env, c);
  await checkMetrics(env, c);
  if (c.stderr !== undefined) await env.sluice.waitFor(new RegExp(c.stderr), 'stderr', 5000);
  if (c.mirrored !== undefined) {
    const m = c.mirrored;
    const b = env.backends.get(m.name);
    if (b === undefined || b.seen === undefined) throw new Error(`no HTTP echo backend ${m.name} in config.yaml`);
    const seen = b.seen;
    const deadline = Date.now() + 5000;
    const hit = (e: EchoReply): boolean => (m.path === undefined || e.path === m.path) && (m.host === undefined || e.host === m.host);
    while (!seen.some(hit)) {
      if (Date.now() > deadline) throw new Error(`mirror backend ${m.name} never saw ${JSON.stringify(m)}; it saw ${JSON.stringify(seen.map((e) => [e.path, e.host]))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
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
