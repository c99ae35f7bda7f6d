import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** What an echo backend answers: who it is and what it saw, as the Gateway API echo server. */
export interface EchoReply {
  backend: string;
  method: string;
  path: string;
  host: string;
  headers: Record<string, string>;
  rawHeaderNames: string[];
  bodyBytes: number;
  bodySha256: string;
  /** Request trailers (chunked bodies), lower-case names. */
  trailers: Record<string, string>;
}

export interface EchoBackend {
  readonly name: string;
  readonly port: number;
  readonly server: Server;
  /** Requests seen, newest last. */
  readonly seen: EchoReply[];
  close(): Promise<void>;
}

/**
 * An HTTP/1.1 echo server. Paths ending in `/status/NNN` answer that status, `/delay/MS` wait,
 * `/bytes/N` stream N bytes, `/trailers` answers chunked with a trailer, `/drip/N/MS` send N chunks MS apart, `/ws` speaks WebSocket
 * (echoes text frames). Every other path echoes the request as JSON.
 */
export async function startEchoBackend(name: string, port = 0): Promise<EchoBackend> {
  const seen: EchoReply[] = [];
  const upgraded = new Set<Socket>();
  const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => handle(name, seen, req, res));
  server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    upgrade(name, req, socket);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  const p = (server.address() as AddressInfo).port;
  return {
    name,
    port: p,
    server,
    seen,
    close: () => new Promise((r) => {
      for (const s of upgraded) s.destroy();
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

function handle(name: string, seen: EchoReply[], req: IncomingMessage, res: ServerResponse): void {
  const hash = createHash('sha256');
  let bytes = 0;
  req.on('data', (c: Buffer) => { bytes += c.length; hash.update(c); });
  req.on('end', () => {
    const url = req.url ?? '/';
    const headers: Record<string, string> = {};
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const k = req.rawHeaders[i]!.toLowerCase();
      headers[k] = headers[k] === undefined ? req.rawHeaders[i + 1]! : `${headers[k]},${req.rawHeaders[i + 1]}`;
    }
    const reply: EchoReply = {
      backend: name,
      method: req.method ?? '',
      path: url,
      host: req.headers.host ?? '',
      headers,
      rawHeaderNames: req.rawHeaders.filter((_, i) => i % 2 === 0),
      bodyBytes: bytes,
      bodySha256: hash.digest('hex'),
      trailers: Object.fromEntries(Object.entries(req.trailers).map(([k, v]) => [k, String(v)])),
    };
    seen.push(reply);
    const pathOnly = url.split('?')[0]!;
    let m: RegExpExecArray | null;
    if ((m = /\/status\/(\d{3})$/.exec(pathOnly)) !== null) {
      res.writeHead(Number(m[1]), { 'content-type': 'application/json', 'x-backend': name });
      res.end(JSON.stringify(reply));
      return;
    }
    if ((m = /\/delay\/(\d+)$/.exec(pathOnly)) !== null) {
      setTimeout(() => { res.writeHead(200, { 'content-type': 'application/json', 'x-backend': name }); res.end(JSON.stringify(reply)); }, Number(m[1]));
      return;
    }
    if (pathOnly === '/trailers') {
      // A chunked response with a trailer (HTTP/1.1 trailers pass through the proxy).
      res.writeHead(200, { 'content-type': 'text/plain', 'x-backend': name, trailer: 'x-echo-trailer' });
      res.write('with trailers');
      res.addTrailers({ 'x-echo-trailer': 'done' });
      res.end();
      return;
    }
    if ((m = /\/bytes\/(\d+)$/.exec(pathOnly)) !== null) {
      streamBytes(res, Number(m[1]), name);
      return;
    }
    if ((m = /\/drip\/(\d+)\/(\d+)$/.exec(pathOnly)) !== null) {
      const n = Number(m[1]);
      const every = Number(m[2]);
      res.writeHead(200, { 'content-type': 'text/plain', 'x-backend': name });
      let i = 0;
      const t = setInterval(() => {
        if (res.destroyed) { clearInterval(t); return; }
        res.write(`chunk ${i}\n`);
        if (++i === n) { clearInterval(t); res.end(); }
      }, every);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'x-backend': name });
    res.end(JSON.stringify(reply));
  });
}

function streamBytes(res: ServerResponse, total: number, name: string): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total), 'x-backend': name });
  const chunk = Buffer.alloc(64 * 1024, 120);
  let left = total;
  const pump = (): void => {
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      left -= n;
      if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) { res.once('drain', pump); return; }
    }
    res.end();
  };
  pump();
}

// ---------------------------------------------------------------- minimal WebSocket echo (RFC 6455)

function upgrade(name: string, req: IncomingMessage, socket: Socket): void {
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || (req.headers.upgrade ?? '').toLowerCase() !== 'websocket') { socket.destroy(); return; }
  const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\nx-backend: ${name}\r\n\r\n`);
  let buf = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      const f = readFrame(buf);
      if (f === null) break;
      buf = buf.subarray(f.size);
      if (f.opcode === 8) { socket.end(frame(8, Buffer.alloc(0))); return; }
      if (f.opcode === 9) { socket.write(frame(10, f.payload)); continue; }
      if (f.opcode === 1 || f.opcode === 2) socket.write(frame(f.opcode, Buffer.from(`${name}:${f.payload.toString()}`)));
    }
  });
  socket.on('error', () => {});
  // node:http servers allow half-open sockets: close ours when the proxy closes its side,
  // or server.close() would wait for it forever.
  socket.on('end', () => socket.end());
}

function readFrame(b: Buffer): { opcode: number; payload: Buffer; size: number } | null {
  if (b.length < 2) return null;
  const opcode = b[0]! & 0x0f;
  const masked = (b[1]! & 0x80) !== 0;
  let len = b[1]! & 0x7f;
  let p = 2;
  if (len === 126) { if (b.length < 4) return null; len = b.readUInt16BE(2); p = 4; }
  else if (len === 127) { if (b.length < 10) return null; len = Number(b.readBigUInt64BE(2)); p = 10; }
  const maskLen = masked ? 4 : 0;
  if (b.length < p + maskLen + len) return null;
  const payload = Buffer.from(b.subarray(p + maskLen, p + maskLen + len));
  if (masked) { const mask = b.subarray(p, p + 4); for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i % 4]!; }
  return { opcode, payload, size: p + maskLen + len };
}

function frame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, len]) : Buffer.from([0x80 | opcode, 126, len >> 8, len & 0xff]);
  return Buffer.concat([head, payload]);
}
