import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';

// Backends for TLS/TCP tests and conformance cases, on 127.0.0.1 with OS-chosen ports: a raw
// TCP echo, a TLS echo (passthrough targets), and an HTTPS echo that reports who it is, the SNI
// it saw and the client certificate it was shown.

/** Raw TCP echo server (answers `<name>:` + bytes), for TCP routes. */
export async function startTcpEcho(name: string): Promise<{ port: number; server: NetServer; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createNetServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.on('data', (d) => s.write(`${name}:${d.toString()}`));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, server, close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }) };
}

/** TLS echo server: replies `<name>:<sni>:` + bytes, for passthrough routes. */
export async function startTlsEcho(name: string, cert: string, key: string, extra: { ca?: string; requestCert?: boolean } = {}): Promise<{ port: number; server: TlsServer; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createTlsServer({ cert, key, ...(extra.ca !== undefined ? { ca: extra.ca } : {}), requestCert: extra.requestCert === true, rejectUnauthorized: extra.requestCert === true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.on('data', (d) => s.write(`${name}:${(s as TLSSocket & { servername?: string }).servername ?? ''}:${d.toString()}`));
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, server, close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }) };
}

/** HTTPS/1.1 echo: JSON with backend name, SNI, client certificate subject and request headers. */
export async function startHttpsEcho(name: string, cert: string, key: string, extra: { ca?: string; requestCert?: boolean; alpn?: string[] } = {}): Promise<{ port: number; server: HttpsServer; close(): Promise<void> }> {
  const server = createHttpsServer({ cert, key, ...(extra.ca !== undefined ? { ca: extra.ca } : {}), requestCert: extra.requestCert === true, rejectUnauthorized: extra.requestCert === true, ...(extra.alpn !== undefined ? { ALPNProtocols: extra.alpn } : {}) }, (req, res) => {
    const sock = req.socket as TLSSocket & { servername?: string };
    const peer = sock.getPeerCertificate();
    const headers: Record<string, string> = {};
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const k = req.rawHeaders[i]!.toLowerCase();
      headers[k] = headers[k] === undefined ? req.rawHeaders[i + 1]! : `${headers[k]},${req.rawHeaders[i + 1]}`;
    }
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-backend': name });
      res.end(JSON.stringify({ backend: name, method: req.method, path: req.url, host: req.headers.host ?? '', sni: sock.servername ?? '', clientCn: peer?.subject?.CN ?? '', headers, httpVersion: req.httpVersion }));
    });
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, server, close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

