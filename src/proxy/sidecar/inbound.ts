import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { InboundConfig } from '../../compile/sidecar-snapshot.js';
import type { FilterChain, ServerTls, Snapshot } from '../../compile/snapshot.js';
import type { NodeHttp2Codec } from '../codec/node-http2.js';
import type { DownstreamConnection, Http1ServerCodec, ProxyContext } from '../http/stream.js';
import { MAX_CLIENT_HELLO, parseClientHello, PeekResult } from '../listener/client-hello.js';
import type { ConnectionEventLog } from '../listener/listener-manager.js';
import { buildServerTls, checkPeer, type PeerIdentity, type ServerTlsContext } from '../listener/tls-server.js';
import { proxyTcp } from '../tcp/tcp-proxy.js';

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** Envoy's listener_filters_timeout: the first bytes must come within this. */
const FIRST_BYTES_TIMEOUT_MS = 15_000;
// An HTTP/1 request line starts with a method token and a space.
const HTTP1_START = /^(GET|POST|PUT|DELETE|HEAD|OPTIONS|PATCH|TRACE|CONNECT|PRI) /;

export interface InboundDeps {
  readonly proxy: ProxyContext;
  readonly h1: Http1ServerCodec;
  readonly h2: NodeHttp2Codec;
  readonly log: ConnectionEventLog;
}

const serverTls = new WeakMap<ServerTls, ServerTlsContext | string>();

function tlsContextFor(tls: ServerTls, snapshot: Snapshot): ServerTlsContext | string {
  let c = serverTls.get(tls);
  if (c === undefined) serverTls.set(tls, (c = buildServerTls(tls, snapshot.secrets)));
  return c;
}

/**
 * One connection on the sidecar's inbound port: mesh mTLS is terminated (the caller's SPIFFE
 * identity goes on the connection, where authorization reads it) unless PeerAuthentication
 * says DISABLE; plaintext is accepted under PERMISSIVE and DISABLE and refused under STRICT.
 * Then HTTP goes through the connection manager to `inbound|<port>||`, anything else is
 * proxied as TCP to the application.
 */
export function acceptInbound(socket: Socket, cfg: InboundConfig, snapshot: Snapshot, d: InboundDeps): void {
  firstBytes(socket, (buf) => {
    if (buf === null) { d.log.connectionRefused(cfg.listener, socket, 'no data within the listener timeout', ''); socket.destroy(); return; }
    const hello = parseClientHello(buf);
    const isTls = hello !== PeekResult.NotTls;
    socket.unshift(buf);
    if (!isTls || cfg.mode === 'DISABLE') {
      if (cfg.mode === 'STRICT') {
        d.log.connectionRefused(cfg.listener, socket, `plaintext refused: mTLS mode STRICT on port ${cfg.appPort}${cfg.modeFrom !== null ? ` (${cfg.modeFrom})` : ''}`, '');
        socket.destroy();
        return;
      }
      serve(socket, cfg, snapshot, d, conn(socket, cfg, cfg.httpChain, snapshot, d, '', false, null), conn(socket, cfg, cfg.tcpChain, snapshot, d, '', false, null), buf, false);
      return;
    }
    const sni = typeof hello === 'object' ? hello.serverName : '';
    const tlsCfg = cfg.httpChain.tls;
    const ctx = tlsCfg === null ? 'this proxy has no mesh certificate (--mesh-ca-dir)' : tlsContextFor(tlsCfg, snapshot);
    if (typeof ctx === 'string') {
      d.log.connectionRefused(cfg.listener, socket, `mTLS not available: ${ctx}`, sni);
      socket.destroy();
      return;
    }
    const tls = new TLSSocket(socket, { isServer: true, secureContext: ctx.secureContext, requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['h2', 'http/1.1'] });
    tls.on('error', (e: Error) => {
      d.log.connectionRefused(cfg.listener, socket, `mTLS handshake failed: ${e.message}`, sni);
      socket.destroy();
    });
    tls.once('secure', () => {
      const peer = checkPeer(ctx, tls);
      if (typeof peer === 'string' || peer === null) {
        d.log.connectionRefused(cfg.listener, socket, typeof peer === 'string' ? peer : 'client certificate required', sni);
        tls.destroy();
        return;
      }
      (tls as TLSSocket & { secureConnecting: boolean }).secureConnecting = false;
      const httpConn = conn(socket, cfg, cfg.httpChain, snapshot, d, sni, true, peer);
      if (tls.alpnProtocol === 'h2') { d.h2.serve(tls as unknown as Socket, httpConn); return; }
      const tcpConn = conn(socket, cfg, cfg.tcpChain, snapshot, d, sni, true, peer);
      if (cfg.protocol !== '') { serve(tls as unknown as Socket, cfg, snapshot, d, httpConn, tcpConn, null, true); return; }
      firstBytes(tls as unknown as Socket, (inner) => {
        if (inner === null) { tls.destroy(); return; }
        tls.unshift(inner);
        serve(tls as unknown as Socket, cfg, snapshot, d, httpConn, tcpConn, inner, true);
      });
    });
  });
}

/** HTTP (h1 or h2c) through the connection manager, or TCP to the application. */
function serve(s: Socket, cfg: InboundConfig, _snapshot: Snapshot, d: InboundDeps, httpConn: DownstreamConnection, tcpConn: DownstreamConnection, first: Buffer | null, overTls: boolean): void {
  const head = first === null ? '' : first.subarray(0, 16).toString('latin1');
  const h2 = first !== null && first.length >= 3 && first.compare(H2_PREFACE, 0, Math.min(first.length, H2_PREFACE.length), 0, Math.min(first.length, H2_PREFACE.length)) === 0;
  const http = cfg.protocol === 'http' || (cfg.protocol === '' && (h2 || HTTP1_START.test(head)));
  // proxyTcp pipes once the application's port is connected; the unshifted bytes wait in the socket.
  if (!http) { proxyTcp(s, null, tcpConn, d.proxy, d.log); return; }
  if (h2 && !overTls) { d.h2.serve(s, httpConn); return; }
  d.h1.serve(s, httpConn);
  s.resume();
}

function firstBytes(s: Socket, cb: (buf: Buffer | null) => void): void {
  let buf: Buffer = Buffer.alloc(0);
  let done = false;
  const finish = (b: Buffer | null): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    s.removeListener('data', onData);
    s.removeListener('close', onClose);
    s.pause();
    cb(b);
  };
  const onData = (chunk: Buffer): void => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    // A TLS record header says how much ClientHello to wait for; anything else decides at once.
    if (buf[0] === 0x16 && parseClientHello(buf) === PeekResult.Incomplete && buf.length <= MAX_CLIENT_HELLO) return;
    finish(buf);
  };
  const onClose = (): void => finish(null);
  const timer = setTimeout(() => finish(null), FIRST_BYTES_TIMEOUT_MS);
  s.on('data', onData);
  s.once('close', onClose);
}

function conn(socket: Socket, cfg: InboundConfig, chain: FilterChain, snapshot: Snapshot, d: InboundDeps, sni: string, tls: boolean, peer: PeerIdentity | null): DownstreamConnection {
  return {
    proxy: d.proxy,
    remoteAddress: stripV4Mapped(socket.remoteAddress ?? ''),
    remotePort: socket.remotePort ?? 0,
    localAddress: stripV4Mapped(socket.localAddress ?? ''),
    localPort: socket.localPort ?? 0,
    listener: cfg.listener,
    chain,
    sni,
    tls,
    peerSubject: peer?.subject ?? '',
    peerUriSans: peer?.uriSans ?? [],
    peerCertPem: peer?.pem ?? '',
    snapshot,
  };
}

export function stripV4Mapped(a: string): string {
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}
