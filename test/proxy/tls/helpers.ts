import { createServer as createHttp2Server, createSecureServer, type Http2Server, type Http2SecureServer } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { request as httpsRequest } from 'node:https';
import { startSluice, type SluiceProcess } from '../../support/sluice-process.js';
import { configFile } from '../../support/yaml.js';
export { startHttpsEcho, startTcpEcho, startTlsEcho } from '../../support/tls-backends.js';

export async function startGateway(docs: string, ports: number[], args: string[] = []): Promise<SluiceProcess & { configFile: string }> {
  const file = configFile(docs);
  const p = await startSluice({ config: [file], ports, args });
  return Object.assign(p, { configFile: file });
}

/** A ServiceEntry putting `host:port` on 127.0.0.1:`target`. */
export function serviceEntry(name: string, host: string, port: number, protocol: string, target: number): string {
  return `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: default}
spec:
  hosts: [${host}]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{number: ${port}, name: p${port}, protocol: ${protocol}}]
  endpoints: [{address: 127.0.0.1, ports: {p${port}: ${target}}}]
`;
}

export interface TlsResult {
  ok: boolean;
  error: string;
  socket: TLSSocket | null;
  /** Subject CN of the certificate the server presented. */
  serverCn: string;
  alpn: string;
  protocol: string;
}

/** Opens a TLS connection and reports how the handshake went (never throws). */
export function tlsHandshake(port: number, o: ConnectionOptions): Promise<TlsResult> {
  return new Promise((resolve) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ...o });
    let done = false;
    const finish = (r: TlsResult): void => { if (!done) { done = true; resolve(r); } };
    s.once('secureConnect', () => {
      const cert = s.getPeerCertificate();
      finish({ ok: true, error: '', socket: s, serverCn: [cert?.subject?.CN ?? ''].flat()[0] ?? '', alpn: s.alpnProtocol || '', protocol: s.getProtocol() ?? '' });
    });
    s.once('error', (e) => finish({ ok: false, error: `${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}`, socket: null, serverCn: '', alpn: '', protocol: '' }));
    s.once('close', () => finish({ ok: false, error: 'closed', socket: null, serverCn: '', alpn: '', protocol: '' }));
  });
}

export interface HttpsResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTPS/1.1 request with full TLS options (client certificates, CA, SNI). */
export function httpsGet(port: number, host: string, path: string, tls: ConnectionOptions & { headers?: Record<string, string> } = {}): Promise<HttpsResult> {
  return new Promise((resolve, reject) => {
    const { headers, ...rest } = tls;
    const req = httpsRequest({ host: '127.0.0.1', port, path, method: 'GET', headers: { host, ...(headers ?? {}) }, servername: host, agent: false, ...rest }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** HTTP/2 echo (h2c or TLS h2): JSON with backend name, protocol and headers; counts sessions and peak concurrent streams. */
export interface H2Echo {
  port: number;
  server: Http2Server | Http2SecureServer;
  readonly sessions: number;
  readonly peakStreams: number;
  readonly active: number;
  /** Answers every request held on `/hold`. */
  release(): void;
  close(): Promise<void>;
}

export async function startH2Echo(name: string, tls?: { cert: string; key: string }): Promise<H2Echo> {
  const server = tls !== undefined ? createSecureServer({ cert: tls.cert, key: tls.key, allowHTTP1: false }) : createHttp2Server();
  const state = { sessions: 0, peakStreams: 0, active: 0 };
  const held: (() => void)[] = [];
  const sessions = new Set<import('node:http2').ServerHttp2Session>();
  server.on('session', (s) => { state.sessions++; sessions.add(s); s.on('close', () => sessions.delete(s)); });
  server.on('stream', (stream, headers) => {
    state.active++;
    state.peakStreams = Math.max(state.peakStreams, state.active);
    stream.on('close', () => { state.active--; });
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const path = String(headers[':path']);
      const wait = /^\/delay\/(\d+)/.exec(path);
      const reply = (): void => {
        if (stream.destroyed) return;
        stream.respond({ ':status': 200, 'content-type': 'application/json', 'x-backend': name });
        stream.end(JSON.stringify({ backend: name, protocol: 'HTTP/2', path, method: headers[':method'], authority: headers[':authority'], scheme: headers[':scheme'], headers, bodyBytes: Buffer.concat(chunks).length }));
      };
      if (path === '/hold') held.push(reply);
      else if (wait !== null) setTimeout(reply, Number(wait[1]));
      else reply();
    });
    stream.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    server,
    get sessions() { return state.sessions; },
    get peakStreams() { return state.peakStreams; },
    get active() { return state.active; },
    release: () => { for (const r of held.splice(0)) r(); },
    close: () => new Promise<void>((r) => { for (const s of sessions) s.destroy(); server.close(() => r()); }),
  };
}

/** Sends `data` over a fresh TCP or TLS connection and collects the reply until `expect` bytes arrived or it closes. */
export function exchange(socket: Socket | TLSSocket, data: string, minBytes: number): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const done = (): void => { socket.destroy(); resolve(got); };
    socket.on('data', (d: Buffer) => { got += d.toString(); if (got.length >= minBytes) done(); });
    socket.on('close', () => resolve(got));
    socket.on('error', () => resolve(got));
    socket.write(data);
  });
}

/** Waits until `check` resolves true, polling (reloads, rotation), up to `ms`. */
export async function eventually(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}
