import { createServer, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { FilterChain, Listener, Snapshot } from '../../compile/snapshot.js';
import { closeAll, listenerKey, listenOn, openConnections, reconcileListeners, stopAccepting, type BoundListener } from './bound-listeners.js';
import type { NodeHttp2Codec } from '../codec/node-http2.js';
import type { DownstreamConnection, Http1ServerCodec, ProxyContext } from '../http/stream.js';
import { proxyTcp } from '../tcp/tcp-proxy.js';
import { MAX_CLIENT_HELLO, parseClientHello, PeekResult } from './client-hello.js';
import { buildServerTls, checkPeer, xfccElement, type PeerIdentity, type ServerTlsContext } from './tls-server.js';

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** Time allowed for a ClientHello: Envoy's listener_filters_timeout default (15 s). */
export const DEFAULT_LISTENER_FILTERS_TIMEOUT_MS = 15_000;

/** Why a connection was closed before any stream existed. */
export type RefusalKind = 'no_filter_chain' | 'tls_handshake' | 'client_cert' | 'timeout' | 'not_tls' | 'tls_config';

export interface ConnectionEventLog {
  /** A connection refused before any stream existed (TLS failure, no filter chain, ...). */
  connectionRefused(listener: Listener, socket: Socket, reason: string, sni: string, kind?: RefusalKind): void;
}

export interface ListenerOptions {
  /**
   * Time from accept until the ClientHello is read, and again until the TLS handshake is
   * done (`--listener-filters-timeout`); a slow or half-sent ClientHello is closed after it.
   */
  listenerFiltersTimeoutMs?: number;
}


/**
 * Binds one server per snapshot listener and routes each accepted connection: TLS inspection
 * (SNI) picks the filter chain, which terminates TLS or passes it through, then the HTTP codec
 * (h2c / ALPN h2 or HTTP/1.1) or the TCP proxy takes over. Listeners are reconciled with each
 * snapshot; a listener's connections keep their chain, new ones get the new one. TLS contexts
 * are cached by the fingerprint of their material, so a reload that rotates a certificate
 * serves it on the next handshake while open connections keep theirs.
 */
export class ListenerManager {
  readonly #proxy: ProxyContext;
  readonly #h1: Http1ServerCodec;
  readonly #h2: NodeHttp2Codec;
  readonly #log: ConnectionEventLog;
  readonly #bound = new Map<string, BoundListener>();
  readonly #tls = new Map<string, ServerTlsContext | string>();
  readonly #timeoutMs: number;
  #tlsSnapshot: Snapshot | null = null;
  #draining = false;

  constructor(proxy: ProxyContext, h1: Http1ServerCodec, h2: NodeHttp2Codec, log: ConnectionEventLog, o: ListenerOptions = {}) {
    this.#proxy = proxy;
    this.#h1 = h1;
    this.#h2 = h2;
    this.#log = log;
    this.#timeoutMs = o.listenerFiltersTimeoutMs ?? DEFAULT_LISTENER_FILTERS_TIMEOUT_MS;
  }

/** Binds new listeners, rebinds changed addresses, closes removed ones. Resolves when bound. */
  async update(snapshot: Snapshot): Promise<string[]> {
    return reconcileListeners(this.#bound, new Map(snapshot.listeners.map((l) => [listenerKey(l), l])), (l) => this.#bind(l));
  }

  #bind(l: Listener): Promise<BoundListener> {
    const b: BoundListener = { server: createServer({ noDelay: true, pauseOnConnect: false }), listener: l, sockets: new Set() };
    b.server.on('connection', (socket: Socket) => this.#onConnection(b, socket));
    return listenOn(b);
  }

  /** Actual bound ports (for `--port-map P=0` in tests). */
  boundPorts(): Map<string, number> {
    const out = new Map<string, number>();
    for (const b of this.#bound.values()) {
      const a = b.server.address();
      if (a !== null && typeof a === 'object') out.set(b.listener.name, a.port);
    }
    return out;
  }

  #onConnection(b: BoundListener, socket: Socket): void {
    socket.on('error', () => {});
    b.sockets.add(socket);
    socket.once('close', () => b.sockets.delete(socket));
    const l = b.listener;
    if (!l.inspectsTls) {
      const chain = plaintextChain(l)!;
      if (chain.kind === 'tcp') { proxyTcp(socket, null, this.#conn(l, chain, socket, '', null, null), this.#proxy, this.#log); return; }
      this.#detectPlaintext(l, chain, socket);
      return;
    }
    this.#inspectTls(l, socket);
  }

  /** Plain HTTP port: HTTP/1.1, or HTTP/2 with prior knowledge (Envoy's auto codec). */
  #detectPlaintext(l: Listener, chain: FilterChain, socket: Socket): void {
    socket.once('data', (first: Buffer) => {
      socket.pause();
      socket.unshift(first);
      const conn = this.#conn(l, chain, socket, '', null, null);
      const n = Math.min(first.length, H2_PREFACE.length);
      // node:http2 reads the socket's handle itself (a resume here would steal its bytes);
      // node:http reads through the stream and needs the socket flowing again.
      if (first.length >= 3 && first.compare(H2_PREFACE, 0, n, 0, n) === 0) this.#h2.serve(socket, conn);
      else { this.#h1.serve(socket, conn); socket.resume(); }
    });
  }

  #refuse(l: Listener, socket: Socket, reason: string, sni: string, kind: RefusalKind): void {
    this.#log.connectionRefused(l, socket, reason, sni, kind);
    socket.destroy();
  }

  /** Envoy's tls_inspector: read the whole ClientHello record (not consuming it), then pick a chain. */
  #inspectTls(l: Listener, socket: Socket): void {
    let buf: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.removeListener('data', onData);
      this.#refuse(l, socket, buf.length === 0 ? `no data within ${this.#timeoutMs} ms (listener filters timeout)` : `incomplete TLS ClientHello (${buf.length} bytes) within ${this.#timeoutMs} ms (listener filters timeout)`, '', 'timeout');
    }, this.#timeoutMs);
    // A client that leaves first needs no refusal (and no log line).
    const onClose = (): void => clearTimeout(timer);
    socket.once('close', onClose);
    const onData = (d: Buffer): void => {
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      const hello = parseClientHello(buf);
      if (hello === PeekResult.Incomplete) {
        if (buf.length > MAX_CLIENT_HELLO) { clearTimeout(timer); socket.removeListener('data', onData); this.#refuse(l, socket, 'TLS ClientHello larger than 16 KiB', '', 'not_tls'); }
        return;
      }
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('close', onClose);
      socket.pause();
      if (hello === PeekResult.NotTls) {
        // Plaintext on a TLS port: no filter chain matches (NR) — unless a plaintext chain exists.
        const plain = plaintextChain(l);
        if (plain !== null) { socket.unshift(buf); this.#detectPlaintext(l, plain, socket); socket.resume(); return; }
        this.#refuse(l, socket, 'not a TLS ClientHello (plaintext on a TLS port?): no filter chain matches', '', 'not_tls');
        return;
      }
      const chain = selectChain(l, hello.serverName);
      if (chain === null) {
        const names = [...new Set(l.filterChains.flatMap((c) => c.serverNames))];
        const why = hello.serverName === '' ? 'the client sent no SNI' : `SNI "${hello.serverName}"`;
        this.#refuse(l, socket, `no filter chain for ${why} (this port serves: ${names.join(', ') || 'nothing'})`, hello.serverName, 'no_filter_chain');
        return;
      }
      if (chain.kind === 'tls_passthrough') {
        // The socket stays paused: the TCP proxy resumes it once the upstream is connected.
        proxyTcp(socket, buf, this.#conn(l, chain, socket, hello.serverName, null, null), this.#proxy, this.#log);
        return;
      }
      socket.unshift(buf);
      this.#terminate(l, chain, socket, hello.serverName);
    };
    socket.on('data', onData);
  }

  /** The chain's TLS context: reused while its material is unchanged, rebuilt when it rotates. */
  #serverTls(chain: FilterChain): ServerTlsContext | string {
    const snap = this.#proxy.snapshot;
    const cfg = chain.tls!;
    if (this.#tlsSnapshot !== snap) {
      // Keep the contexts the new snapshot still uses (TLS session tickets stay valid).
      const live = new Set<string>();
      for (const l of snap.listeners) for (const c of l.filterChains) if (c.tls !== null) live.add(tlsKey(c, snap));
      for (const k of this.#tls.keys()) if (!live.has(k)) this.#tls.delete(k);
      this.#tlsSnapshot = snap;
    }
    const key = tlsKey(chain, snap);
    let t = this.#tls.get(key);
    if (t === undefined) {
      t = buildServerTls(cfg, snap.secrets);
      this.#tls.set(key, t);
    }
    return t;
  }

  #terminate(l: Listener, chain: FilterChain, socket: Socket, sni: string): void {
    const ctx = this.#serverTls(chain);
    if (typeof ctx === 'string') {
      this.#refuse(l, socket, `TLS not available for chain ${chain.name}: ${ctx}`, sni, 'tls_config');
      return;
    }
    const tls = new TLSSocket(socket, {
      isServer: true,
      secureContext: ctx.secureContext,
      requestCert: ctx.requestCert,
      rejectUnauthorized: ctx.requireCert,
      ALPNProtocols: [...ctx.config.alpn],
    });
    let secured = false;
    const timer = setTimeout(() => {
      this.#log.connectionRefused(l, socket, `TLS handshake not completed within ${this.#timeoutMs} ms`, sni, 'timeout');
      tls.destroy();
      socket.destroy();
    }, this.#timeoutMs);
    socket.once('close', () => clearTimeout(timer));
    tls.on('error', (e: NodeJS.ErrnoException) => {
      if (secured) return;
      clearTimeout(timer);
      this.#log.connectionRefused(l, socket, `TLS handshake failed: ${handshakeReason(e)}`, sni, e.code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE' ? 'client_cert' : 'tls_handshake');
      socket.destroy();
    });
    tls.once('secure', () => {
      clearTimeout(timer);
      secured = true;
      const peer = checkPeer(ctx, tls);
      if (typeof peer === 'string') {
        this.#log.connectionRefused(l, socket, peer, sni, 'client_cert');
        tls.destroy();
        return;
      }
      const conn = this.#conn(l, chain, socket, sni, tls, peer === null ? null : { identity: peer, local: ctx.localUriSans });
      if (chain.kind === 'tcp') { proxyTcp(tls, null, conn, this.#proxy, this.#log); return; }
      // A hand-made server TLSSocket never emits 'secureConnect'; node:http2 waits for it
      // while `secureConnecting` is set, so mark the handshake done.
      (tls as TLSSocket & { secureConnecting: boolean }).secureConnecting = false;
      if (tls.alpnProtocol === 'h2') this.#h2.serve(tls, conn);
      else this.#h1.serve(tls, conn);
    });
    // No socket.resume(): the TLS socket now reads the handle; JS reads would steal its bytes.
  }

  #conn(l: Listener, chain: FilterChain, socket: Socket, sni: string, tls: TLSSocket | null, peer: { identity: PeerIdentity; local: readonly string[] } | null): DownstreamConnection {
    const id = peer?.identity;
    return {
      proxy: this.#proxy,
      remoteAddress: stripV4Mapped(socket.remoteAddress ?? ''),
      remotePort: socket.remotePort ?? 0,
      localAddress: stripV4Mapped(socket.localAddress ?? ''),
      localPort: socket.localPort ?? 0,
      listener: l,
      chain,
      sni,
      tls: tls !== null,
      peerSubject: id?.subject ?? '',
      peerUriSans: id?.uriSans ?? [],
      peerDnsSans: id?.dnsSans ?? [],
      peerCertSha256: id?.sha256 ?? '',
      peerCertPem: id?.pem ?? '',
      xfcc: id !== undefined && chain.kind === 'http' ? xfccElement(peer!.local, id) : '',
      tlsVersion: tls?.getProtocol() ?? '',
      snapshot: this.#proxy.snapshot,
    };
  }

  /** Stops accepting; returns the number of connections still open. */
  stopAccepting(): number {
    this.#draining = true;
    return stopAccepting(this.#bound);
  }

  openConnections(): number {
    return openConnections(this.#bound);
  }

  get draining(): boolean {
    return this.#draining;
  }

  closeAll(): void {
    closeAll(this.#bound);
  }
}

/**
 * The chain for a connection that sent no TLS ClientHello: a listener without TLS has one
 * chain (HTTP or TCP); on a TLS listener only a plaintext HTTP chain can take it (else NR).
 */
export function plaintextChain(l: Listener): FilterChain | null {
  if (!l.inspectsTls) return l.filterChains[0] ?? null;
  return l.filterChains.find((c) => c.tls === null && c.kind === 'http') ?? null;
}

/** Filter chain by SNI: exact server name, then wildcard, then the chain without names. */
export function selectChain(l: Listener, sni: string): FilterChain | null {
  let wildcard: FilterChain | null = null;
  let wildLen = -1;
  let fallback: FilterChain | null = null;
  for (const c of l.filterChains) {
    if (c.serverNames.length === 0) { fallback ??= c; continue; }
    for (const n of c.serverNames) {
      if (n === sni) return c;
      if (n.startsWith('*') && sni.endsWith(n.slice(1)) && sni.length > n.length - 1 && n.length > wildLen) { wildcard = c; wildLen = n.length; }
    }
  }
  return wildcard ?? fallback;
}

/** Context cache key: the material's fingerprint, else (no fingerprint compiled) per chain and snapshot. */
function tlsKey(c: FilterChain, snap: Snapshot): string {
  return c.tls?.fingerprint ?? `${c.name}@${snap.version}`;
}

/** OpenSSL's reason, without the library prefix noise (`...:SSL routines:...:tlsv1 alert unknown ca`). */
function handshakeReason(e: NodeJS.ErrnoException): string {
  const m = /SSL routines:[^:]*:([^:\n]+)/.exec(e.message);
  const text = m !== null ? m[1]!.trim() : e.message;
  return e.code !== undefined && e.code !== '' ? `${text} (${e.code})` : text;
}

function stripV4Mapped(a: string): string {
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}
