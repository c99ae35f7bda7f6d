import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request, type Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSluice, type SluiceProcess } from '../support/sluice-process.js';
import { docs, gatewayYaml, serviceEntryYaml, virtualServiceYaml } from '../support/yaml.js';

// Response bodies must reach every client intact and in order while the gateway reuses its
// upstream read buffers: many concurrent responses of distinct content (16 KiB – 1 MiB,
// Content-Length and chunked, written by the origin in uneven pieces) through one gateway, on
// few upstream connections, each checked by SHA-256 — with two clients that stop reading a
// 16 MiB body, one Content-Length, one chunked (more than loopback's socket buffers hold, so the gateway's writes to them stay
// pending) until all the others are done: pending writes must keep their bytes.

/** Deterministic distinct content for request `id` (xorshift32). */
function content(id: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = (id * 2654435761) >>> 0 || 1;
  let i = 0;
  for (; i + 4 <= size; i += 4) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b.writeUInt32LE(x, i);
  }
  for (; i < size; i++) b[i] = (id + i) & 0xff;
  return b;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function startOrigin(): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const m = /^\/blob\/(\d+)\/(\d+)(\/chunked)?$/.exec(req.url ?? '');
    if (m === null) { res.writeHead(404).end(); return; }
    const id = Number(m[1]);
    const body = content(id, Number(m[2]));
    if (m[3] === undefined) res.setHeader('content-length', body.length);
    res.setHeader('x-id', String(id));
    // Uneven pieces, some after a pause, so reads split bodies at varying offsets.
    let off = 0;
    let k = id;
    const next = (): void => {
      while (off < body.length) {
        k = (k * 1103515245 + 12345) >>> 0;
        const n = Math.min(body.length - off, 1 + (k % 70000));
        const more = res.write(body.subarray(off, off + n));
        off += n;
        if (k % 5 === 0) { setImmediate(next); return; }
        if (!more) { res.once('drain', next); return; }
      }
      res.end();
    };
    next();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port })));
}

function get(port: number, agent: Agent, path: string): Promise<{ status: number; id: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, agent, headers: { host: 'blob.test' } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, id: String(res.headers['x-id']), body: Buffer.concat(parts) }));
      res.on('error', reject);
    }).on('error', reject).end();
  });
}

/** A raw client that sends the request, reads nothing until `release` resolves, then reads everything. */
function slowGet(port: number, path: string, release: Promise<void>): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    const parts: Buffer[] = [];
    s.on('connect', () => {
      s.write(`GET ${path} HTTP/1.1\r\nHost: blob.test\r\nConnection: close\r\n\r\n`);
      s.pause();
      void release.then(() => s.resume());
    });
    s.on('data', (c: Buffer) => parts.push(c));
    s.on('end', () => resolve(Buffer.concat(parts)));
    s.on('error', reject);
  });
}

/** The data of a complete chunked body (no trailers expected). */
function dechunk(b: Buffer): Buffer {
  const parts: Buffer[] = [];
  let off = 0;
  for (;;) {
    const eol = b.indexOf('\r\n', off);
    const n = parseInt(b.subarray(off, eol).toString('latin1'), 16);
    if (!(n > 0)) return Buffer.concat(parts);
    parts.push(b.subarray(eol + 2, eol + 2 + n));
    off = eol + 2 + n + 2;
  }
}

describe.each(['fast', 'node'])('response bodies stay intact under concurrency and a slow reader (--codec %s)', (codec) => {
  let origin: { server: Server; port: number };
  let sluice: SluiceProcess;
  let port: number;

  beforeAll(async () => {
    origin = await startOrigin();
    const dir = mkdtempSync(join(tmpdir(), 'sluice-integrity-'));
    writeFileSync(join(dir, 'config.yaml'), docs(
      gatewayYaml(['*']),
      virtualServiceYaml('vs', ['*'], '  - route: [{destination: {host: blob.default.svc.cluster.local}}]'),
      serviceEntryYaml('blob', origin.port),
    ));
    sluice = await startSluice({ config: [dir], ports: [80], args: ['--codec', codec] });
    port = sluice.port(80);
  });
  afterAll(async () => {
    await sluice?.stop();
    await new Promise((r) => origin?.server.close(r));
  });

  it('checksums every body of many concurrent 16 KiB – 1 MiB responses while two clients stall 16 MiB ones', async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => { release = r; });
    const slowSize = 16 * 1024 * 1024;
    const slow = slowGet(port, `/blob/100000/${slowSize}`, released);
    const slow2 = slowGet(port, `/blob/100001/${slowSize}/chunked`, released);

    const agent = new Agent({ keepAlive: true, maxSockets: 24 });
    const want = new Map<number, string>();
    const jobs: Promise<{ status: number; id: string; body: Buffer }>[] = [];
    for (let id = 1; id <= 240; id++) {
      // Mostly around 16 KiB (the bench body), some up to 1 MiB; every fourth chunked.
      const size = id % 6 === 0 ? 16 * 1024 + ((id * 7919) % (1024 * 1024 - 16 * 1024)) : 16 * 1024 + ((id * 131) % 4096) - 2048;
      want.set(id, sha(content(id, size)));
      jobs.push(get(port, agent, `/blob/${id}/${size}${id % 4 === 0 ? '/chunked' : ''}`));
    }
    const got = await Promise.all(jobs);
    release();
    agent.destroy();
    const bad: string[] = [];
    for (const r of got) {
      expect(r.status).toBe(200);
      if (sha(r.body) !== want.get(Number(r.id))) bad.push(`${r.id} (${r.body.length} bytes)`);
    }
    expect(bad).toEqual([]);
    expect(got.map((r) => Number(r.id)).sort((a, b) => a - b)).toEqual([...want.keys()]);

    for (const [id, p] of [[100000, slow], [100001, slow2]] as const) {
      const raw = await p;
      const headEnd = raw.indexOf('\r\n\r\n');
      expect(raw.subarray(0, 12).toString('latin1')).toBe('HTTP/1.1 200');
      const head = raw.subarray(0, headEnd).toString('latin1');
      const body = /\r\ntransfer-encoding: chunked/i.test(head) ? dechunk(raw.subarray(headEnd + 4)) : raw.subarray(headEnd + 4);
      expect(body.length).toBe(slowSize);
      expect(sha(body)).toBe(sha(content(id, slowSize)));
    }
  });
});
