import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { onRequestHeaders } from '../http/connection-manager.js';
import { getHeader, type HeaderList } from '../http/headers.js';
import { completeStream, httpDate, sendLocalReply } from '../http/local-reply.js';
import { ResponseFlag } from '../http/response-flags.js';
import { HttpStream, type BodySink, type DownstreamCodec, type DownstreamConnection } from '../http/stream.js';
import { isConnectionDraining, limitHttp1Connection } from '../filters/hcm/connection-limits.js';

/** Envoy's defaults: at most 100 request headers and 60 KiB of them, else 431. */
export const MAX_REQUEST_HEADERS = 100;
export const MAX_REQUEST_HEADER_BYTES = 60 * 1024;

export interface Http1Options {
  /** Close a keep-alive connection idle this long (Envoy/Istio idle_timeout, 1 h). */
  idleTimeoutMs: number;
  /** Time allowed to receive a request's headers (slowloris guard). */
  headersTimeoutMs: number;
}

const connections = new WeakMap<Socket, DownstreamConnection>();

/**
 * The reference HTTP/1.1 codec on node:http. The server is never bound: the listener hands it
 * accepted (possibly TLS-terminated) sockets. Requests become HttpStreams; node:http's objects
 * stay inside this file.
 */
export class NodeHttp1Codec implements DownstreamCodec {
  readonly server: Server;
  #draining = false;

  constructor(o: Http1Options) {
    this.server = createServer({
      maxHeaderSize: MAX_REQUEST_HEADER_BYTES,
      requestTimeout: 0,
      headersTimeout: o.headersTimeoutMs,
      // How often node:http checks the headers timeout (its default, 30 s, lets a slowloris
      // client linger half a minute past the limit).
      connectionsCheckingInterval: Math.max(250, Math.min(1000, o.headersTimeoutMs / 2)),
      keepAliveTimeout: o.idleTimeoutMs,
      joinDuplicateHeaders: false,
      requireHostHeader: false,
    });
    // Node caps rawHeaders at maxHeadersCount; one more than the limit lets us see the excess.
    this.server.maxHeadersCount = MAX_REQUEST_HEADERS + 1;
    this.server.on('request', (req: IncomingMessage, res: ServerResponse) => this.#onRequest(req, res));
    this.server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => upgradeCodec.onUpgrade(req, socket, head));
    this.server.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => onConnect(req, socket, head));
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => onClientError(err, socket));
    // The server is never bound, but node:http starts its connection tracking (headersTimeout
    // checks against slowloris, closeIdleConnections for drain) on 'listening'.
    this.server.emit('listening');
  }

  serve(socket: Socket, conn: DownstreamConnection): void {
    connections.set(socket, conn);
    this.server.emit('connection', socket);
    limitHttp1Connection(socket, conn, this.server.keepAliveTimeout);
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    const conn = connections.get(req.socket);
    if (conn === undefined) { res.destroy(); return; }
    const s = new HttpStream(conn, this, conn.proxy.snapshot);
    s.codecRef = res;
    fillHead(s, req);
    res.on('close', () => {
      if (!s.completed) { s.setFlag(ResponseFlag.DC); const a = s.onAbort; if (a !== null) a(); else completeStream(s); }
    });
    if (req.rawHeaders.length / 2 > MAX_REQUEST_HEADERS) {
      sendLocalReply(s, 431, '', 0, 'too_many_headers');
      return;
    }
    onRequestHeaders(s, conn.proxy.snapshot);
  }

  /** Draining: every response asks the client to close; idle keep-alive connections close now. */
  drain(): void {
    this.#draining = true;
    this.server.closeIdleConnections();
  }

  sendHeaders(s: HttpStream, status: number, headers: HeaderList, endStream: boolean): void {
    const res = s.codecRef as ServerResponse;
    if (this.#draining || isConnectionDraining(res.socket ?? res)) headers.push('connection', 'close');
    res.writeHead(status, headers);
    if (endStream) res.end();
  }

  sendData(s: HttpStream, chunk: Buffer): boolean {
    const res = s.codecRef as ServerResponse;
    const ok = res.write(chunk);
    if (!ok) res.once('drain', () => { const d = s.onDrain; if (d !== null) d(); });
    return ok;
  }

  sendEnd(s: HttpStream, trailers: HeaderList | null): void {
    const res = s.codecRef as ServerResponse;
    if (trailers !== null && trailers.length > 0) res.addTrailers(pairs(trailers));
    res.end();
  }

  reset(s: HttpStream): void {
    (s.codecRef as ServerResponse).destroy();
  }

  startBody(s: HttpStream, sink: BodySink): void {
    const req = (s.codecRef as ServerResponse).req;
    req.on('data', (c: Buffer) => sink.onData(c));
    req.on('end', () => sink.onEnd(req.rawTrailers.length > 0 ? req.rawTrailers : null));
    req.on('error', (e) => sink.onError(e));
  }

  pauseBody(s: HttpStream): void {
    (s.codecRef as ServerResponse).req.pause();
  }

  resumeBody(s: HttpStream): void {
    (s.codecRef as ServerResponse).req.resume();
  }

  takeSocket(): { socket: Duplex; head: Buffer } | null {
    return null;
  }
}

function fillHead(s: HttpStream, req: IncomingMessage): void {
  s.method = req.method ?? 'GET';
  s.path = req.url ?? '/';
  s.headers = req.rawHeaders;
  s.authority = getHeader(s.headers, 'host') ?? '';
  // Absolute-form (`GET http://host:port/path`, what clients send to an explicit proxy): the
  // URI's authority wins over Host, as RFC 9112 §3.2.2 and Envoy's allow_absolute_url do.
  if (s.path.charCodeAt(0) !== 47 /* / */) absoluteForm(s);
  s.scheme = s.conn.tls ? 'https' : 'http';
  s.protocol = req.httpVersion === '1.0' ? 'HTTP/1.0' : 'HTTP/1.1';
  const cl = getHeader(s.headers, 'content-length');
  s.hasBody = (cl !== undefined && cl !== '0') || getHeader(s.headers, 'transfer-encoding') !== undefined;
}

/** Absolute-form request target (`http://host:port/path`): authority and path from the URI. */
export function absoluteForm(s: HttpStream): void {
  const p = s.path;
  const scheme = p.length >= 8 ? p.slice(0, 8).toLowerCase() : '';
  const start = scheme.startsWith('http://') ? 7 : scheme === 'https://' ? 8 : -1;
  if (start < 0) return;
  let end = start;
  while (end < p.length) {
    const c = p.charCodeAt(end);
    if (c === 47 /* / */ || c === 63 /* ? */ || c === 35 /* # */) break;
    end++;
  }
  s.authority = p.slice(start, end);
  s.path = end === p.length ? '/' : p.charCodeAt(end) === 63 ? `/${p.slice(end)}` : p.slice(end);
}

/** CONNECT requests (an explicit proxy's tunnels): handed to the registered handler. */
export type ConnectHandler = (conn: DownstreamConnection, req: IncomingMessage, socket: Socket, head: Buffer) => void;
let connectHandler: ConnectHandler | null = null;
export function setConnectHandler(h: ConnectHandler): void {
  connectHandler = h;
}

function onConnect(req: IncomingMessage, socket: Socket, head: Buffer): void {
  dispatchConnect(connections.get(socket), req, socket, head);
}

/** A CONNECT request of either codec: to the registered tunnel handler, else 404 and close. */
export function dispatchConnect(conn: DownstreamConnection | undefined, req: IncomingMessage, socket: Socket, head: Buffer): void {
  socket.on('error', () => {});
  if (conn === undefined || connectHandler === null) {
    socket.end(`HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\ndate: ${httpDate()}\r\nserver: istio-envoy\r\nconnection: close\r\n\r\n`);
    return;
  }
  connectHandler(conn, req, socket, head);
}

function pairs(h: HeaderList): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < h.length; i += 2) out.push([h[i]!, h[i + 1]!]);
  return out;
}

/**
 * Malformed requests: Envoy answers 400 (DPE), 431 for oversized headers, 408 when headers
 * take too long, then closes. The gateway keeps serving everyone else.
 */
export function onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable || (socket as Socket).destroyed) { socket.destroy(); return; }
  let status = 400;
  let text = 'Bad Request';
  if (err.code === 'HPE_HEADER_OVERFLOW') { status = 431; text = 'Request Header Fields Too Large'; }
  else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') { status = 408; text = 'Request Timeout'; }
  else if (err.code === 'ECONNRESET' || err.code === 'EPIPE') { socket.destroy(); return; }
  const body = status === 400 ? 'Bad Request' : '';
  socket.end(`HTTP/1.1 ${status} ${text}\r\ncontent-length: ${body.length}\r\ncontent-type: text/plain\r\ndate: ${httpDate()}\r\nserver: istio-envoy\r\nconnection: close\r\n\r\n${body}`);
  clientErrorHook(status, err.code ?? 'unknown', socket as Socket);
}

/** Telemetry sees wire errors too (no stream exists for them). */
let clientErrorHook: (status: number, code: string, socket: Socket) => void = () => {};
export function setClientErrorHook(h: (status: number, code: string, socket: Socket) => void): void {
  clientErrorHook = h;
}

// ---------------------------------------------------------------- upgrades (WebSocket)

interface UpgradeRef {
  socket: Socket;
  head: Buffer;
  req: IncomingMessage;
  taken: boolean;
}

/**
 * Upgrade requests arrive with the raw socket; responses that are not 101 are written by hand,
 * a 101 hands the socket to the router, which pipes it to the upstream.
 */
class RawUpgradeCodec implements DownstreamCodec {
  onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const conn = connections.get(socket);
    if (conn === undefined) { socket.destroy(); return; }
    const s = new HttpStream(conn, this, conn.proxy.snapshot);
    const ref: UpgradeRef = { socket, head, req, taken: false };
    s.codecRef = ref;
    fillHead(s, req);
    s.upgrade = (getHeader(s.headers, 'upgrade') ?? '').toLowerCase();
    socket.on('error', () => {});
    socket.on('close', () => {
      if (!s.completed && !ref.taken) { s.setFlag(ResponseFlag.DC); const a = s.onAbort; if (a !== null) a(); else completeStream(s); }
    });
    if (s.upgrade !== 'websocket') {
      // Istio enables only the websocket upgrade on its routes.
      sendLocalReply(s, 403, 'upgrade not allowed', 0, 'upgrade_failed');
      return;
    }
    onRequestHeaders(s, conn.proxy.snapshot);
  }

  sendHeaders(s: HttpStream, status: number, headers: HeaderList, endStream: boolean): void {
    const ref = s.codecRef as UpgradeRef;
    let out = `HTTP/1.1 ${status} ${statusText(status)}\r\n`;
    for (let i = 0; i < headers.length; i += 2) out += `${headers[i]}: ${headers[i + 1]}\r\n`;
    if (status !== 101) out += 'connection: close\r\n';
    ref.socket.write(`${out}\r\n`);
    if (endStream && status !== 101) ref.socket.end();
  }

  sendData(s: HttpStream, chunk: Buffer): boolean {
    return (s.codecRef as UpgradeRef).socket.write(chunk);
  }

  sendEnd(s: HttpStream): void {
    const ref = s.codecRef as UpgradeRef;
    if (!ref.taken) ref.socket.end();
  }

  reset(s: HttpStream): void {
    (s.codecRef as UpgradeRef).socket.destroy();
  }

  startBody(_s: HttpStream, sink: BodySink): void {
    sink.onEnd(null);
  }

  pauseBody(): void {}
  resumeBody(): void {}

  takeSocket(s: HttpStream): { socket: Duplex; head: Buffer } | null {
    const ref = s.codecRef as UpgradeRef;
    ref.taken = true;
    return { socket: ref.socket, head: ref.head };
  }
}

const upgradeCodec = new RawUpgradeCodec();

const STATUS_TEXT: Record<number, string> = { 101: 'Switching Protocols', 200: 'OK', 301: 'Moved Permanently', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 426: 'Upgrade Required', 429: 'Too Many Requests', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout' };
function statusText(code: number): string {
  return STATUS_TEXT[code] ?? 'Unknown';
}
