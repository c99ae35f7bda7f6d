import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { createServer as createTcp, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

/** What an external server saw of one request: enough to tell which hop reached it and how. */
export interface ExternalSeen {
  server: string;
  method: string;
  path: string;
  host: string;
  /** TLS server name ('' for plain HTTP). */
  sni: string;
  /** The connecting address: the egress gateway's source address. */
  remoteAddress: string;
  headers: Record<string, string | string[] | undefined>;
}

export interface ExternalServer {
  readonly name: string;
  readonly port: number;
  readonly seen: ExternalSeen[];
  close(): Promise<void>;
}

/** A stand-in for an external HTTP(S) API on 127.0.0.1: answers JSON with what it saw. */
export async function startExternalHttp(name: string, tls?: { cert: string; key: string }): Promise<ExternalServer> {
  const seen: ExternalSeen[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const s: ExternalSeen = {
      server: name,
      method: req.method ?? '',
      path: req.url ?? '',
      host: req.headers.host ?? '',
      sni: ((req.socket as TLSSocket).servername as string | false | undefined) || '',
      remoteAddress: (req.socket.remoteAddress ?? '').replace(/^::ffff:/, ''),
      headers: req.headers,
    };
    seen.push(s);
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-external-server': name });
      res.end(JSON.stringify(s));
    });
  };
  const server: Server = tls !== undefined ? createHttps({ cert: tls.cert, key: tls.key }, handler) : createHttp(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    name,
    port: (server.address() as AddressInfo).port,
    seen,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/** A database-like TCP server: "db: <line>" per line, "whoami" answers the client address. */
export async function startExternalTcp(name: string): Promise<ExternalServer & { clients: string[] }> {
  const clients: string[] = [];
  const sockets = new Set<Socket>();
  const server: NetServer = createTcp((s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    clients.push((s.remoteAddress ?? '').replace(/^::ffff:/, ''));
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i).trim();
        buf = buf.slice(i + 1);
        s.write(line === 'whoami' ? `${name}: you are ${(s.remoteAddress ?? '').replace(/^::ffff:/, '')}\n` : `${name}: ${line}\n`);
      }
    });
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    name,
    port: (server.address() as AddressInfo).port,
    seen: [],
    clients,
    close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}
