import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEchoBackend, type EchoBackend, type EchoReply } from '../support/echo-backend.js';
import { startSluice, type SluiceProcess } from '../support/sluice-process.js';
import { docs, gatewayYaml, serviceEntryYaml, virtualServiceYaml } from '../support/yaml.js';

/** Sends raw bytes, returns everything the gateway answered until it closed (or timeout). */
function raw(port: number, bytes: string | Buffer, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => s.write(bytes));
    let out = '';
    s.on('data', (d: Buffer) => { out += d.toString('latin1'); });
    const t = setTimeout(() => { s.destroy(); resolve(out); }, timeoutMs);
    s.on('close', () => { clearTimeout(t); resolve(out); });
    s.on('error', () => {});
  });
}

function okRequest(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/ok', headers: { host: 'wire.test' }, agent: false }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); }).on('error', reject).end();
  });
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0);
}

describe('bad wire input and large bodies', () => {
  let backend: EchoBackend;
  let sluice: SluiceProcess;
  let port: number;

  beforeAll(async () => {
    backend = await startEchoBackend('echo');
    const dir = mkdtempSync(join(tmpdir(), 'sluice-wire-'));
    writeFileSync(join(dir, 'config.yaml'), docs(
      gatewayYaml(['*']),
      virtualServiceYaml('vs', ['*'], '  - route: [{destination: {host: echo.default.svc.cluster.local}}]'),
      serviceEntryYaml('echo', backend.port),
    ));
    sluice = await startSluice({ config: [dir], ports: [80], args: ['--request-headers-timeout', '1'] });
    port = sluice.port(80);
  });
  afterAll(async () => {
    await sluice?.stop();
    await backend?.close();
  });

  it('answers 400 to a malformed request line and closes', async () => {
    const out = await raw(port, 'GARBAGE\r\n\r\n');
    expect(out).toMatch(/^HTTP\/1\.1 400 Bad Request/);
    expect(await okRequest(port)).toBe(200);
  });

  it('answers 400 to conflicting Content-Length and Transfer-Encoding (request smuggling)', async () => {
    const out = await raw(port, 'POST / HTTP/1.1\r\nHost: wire.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
    expect(out).toMatch(/^HTTP\/1\.1 400/);
  });

  it('answers 400 to invalid chunk framing', async () => {
    const out = await raw(port, 'POST / HTTP/1.1\r\nHost: wire.test\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n0\r\n\r\n');
    expect(out).toMatch(/HTTP\/1\.1 400/);
  });

  it('answers 431 to more than 60 KiB of headers', async () => {
    const out = await raw(port, `GET / HTTP/1.1\r\nHost: wire.test\r\nX-Big: ${'a'.repeat(70 * 1024)}\r\n\r\n`);
    expect(out).toMatch(/^HTTP\/1\.1 431/);
  });

  it('answers 431 to more than 100 headers', async () => {
    const many = Array.from({ length: 120 }, (_, i) => `X-H${i}: v`).join('\r\n');
    const out = await raw(port, `GET / HTTP/1.1\r\nHost: wire.test\r\n${many}\r\n\r\n`, 1000);
    expect(out).toMatch(/^HTTP\/1\.1 431/);
  });

  it('closes a slowloris client after the headers timeout while serving everyone else', async () => {
    const s = connect(port, '127.0.0.1');
    s.on('error', () => {});
    let out = '';
    s.on('data', (d: Buffer) => { out += d.toString(); });
    const closed = new Promise<void>((r) => s.on('close', () => r()));
    const header = 'GET / HTTP/1.1\r\nHost: wire.test\r\nX-Slow: ';
    let i = 0;
    const drip = setInterval(() => { if (!s.destroyed) s.write(header[i++ % header.length]!); }, 100);
    // Meanwhile normal clients are served.
    for (let k = 0; k < 5; k++) expect(await okRequest(port)).toBe(200);
    await closed;
    clearInterval(drip);
    expect(out === '' || /^HTTP\/1\.1 408/.test(out)).toBe(true);
    expect(await okRequest(port)).toBe(200);
  });

  it('streams a 100 MB upload to the backend with constant memory', async () => {
    const pid = sluice.child.pid!;
    const before = rssKb(pid);
    const total = 100 * 1024 * 1024;
    const chunk = Buffer.alloc(256 * 1024, 97);
    const hash = createHash('sha256');
    let peak = 0;
    const reply = await new Promise<EchoReply>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/upload', headers: { host: 'wire.test', 'content-type': 'application/octet-stream' } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => { body += c.toString(); });
        res.on('end', () => resolve(JSON.parse(body) as EchoReply));
      });
      req.on('error', reject);
      let sent = 0;
      const pump = (): void => {
        while (sent < total) {
          sent += chunk.length;
          hash.update(chunk);
          if (sent % (8 * 1024 * 1024) === 0) peak = Math.max(peak, rssKb(pid));
          if (!req.write(chunk)) { req.once('drain', pump); return; }
        }
        req.end();
      };
      pump();
    });
    expect(reply.bodyBytes).toBe(total);
    expect(reply.bodySha256).toBe(hash.digest('hex'));
    expect(reply.headers['transfer-encoding']).toBe('chunked');
    // Streaming, not buffering: memory grows far less than the body.
    expect(peak - before).toBeLessThan(60 * 1024);
  });

  it('streams a 100 MB download with constant memory', async () => {
    const pid = sluice.child.pid!;
    const before = rssKb(pid);
    let peak = 0;
    let bytes = 0;
    await new Promise<void>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path: `/bytes/${100 * 1024 * 1024}`, headers: { host: 'wire.test' } }, (res) => {
        res.on('data', (c: Buffer) => { bytes += c.length; if (bytes % (8 << 20) < c.length) peak = Math.max(peak, rssKb(pid)); });
        res.on('end', () => resolve());
      }).on('error', reject).end();
    });
    expect(bytes).toBe(100 * 1024 * 1024);
    expect(peak - before).toBeLessThan(60 * 1024);
  });
});
