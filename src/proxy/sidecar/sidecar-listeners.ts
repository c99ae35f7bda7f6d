import type { IncomingMessage } from 'node:http';
import { createServer, type Socket } from 'node:net';
import type { Listener, Snapshot } from '../../compile/snapshot.js';
import { setConnectHandler } from '../codec/node-http1.js';
import type { NodeHttp2Codec } from '../codec/node-http2.js';
import type { DownstreamConnection, Http1ServerCodec, ProxyContext } from '../http/stream.js';
import { closeAll, listenerKey, listenOn, openConnections, reconcileListeners, stopAccepting, type BoundListener } from '../listener/bound-listeners.js';
import type { ConnectionEventLog } from '../listener/listener-manager.js';
import { openTunnel } from './connect-tunnel.js';
import { acceptInbound, stripV4Mapped } from './inbound.js';


/**
 * The sidecar's two listeners, reconciled with each snapshot like the gateway listeners:
 * `--outbound-port`, an explicit HTTP proxy (absolute-form requests through the connection
 * manager, CONNECT tunnels through openTunnel), and `--inbound-port` in front of the
 * application. Connections keep the snapshot they were accepted with.
 */
export class SidecarListeners {
  readonly #proxy: ProxyContext;
  readonly #h1: Http1ServerCodec;
  readonly #h2: NodeHttp2Codec;
  readonly #log: ConnectionEventLog;
  readonly #bound = new Map<string, BoundListener>();

  constructor(proxy: ProxyContext, h1: Http1ServerCodec, h2: NodeHttp2Codec, log: ConnectionEventLog) {
    this.#proxy = proxy;
    this.#h1 = h1;
    this.#h2 = h2;
    this.#log = log;
    setConnectHandler((conn, req, socket, head) => this.#onConnect(conn, req, socket, head));
  }

  async update(snapshot: Snapshot): Promise<string[]> {
    const sc = snapshot.sidecar ?? null;
    const wanted = new Map<string, Listener>();
    if (sc !== null) {
      wanted.set(listenerKey(sc.outbound.listener), sc.outbound.listener);
      if (sc.inbound !== null) wanted.set(listenerKey(sc.inbound.listener), sc.inbound.listener);
    }
    return reconcileListeners(this.#bound, wanted, (l) => this.#bind(l));
  }

  #bind(l: Listener): Promise<BoundListener> {
    const b: BoundListener = { server: createServer({ noDelay: true }), listener: l, sockets: new Set() };
    b.server.on('connection', (socket: Socket) => this.#onConnection(b, socket));
    return listenOn(b);
  }

  #onConnection(b: BoundListener, socket: Socket): void {
    socket.on('error', () => {});
    b.sockets.add(socket);
    socket.once('close', () => b.sockets.delete(socket));
    const snapshot = this.#proxy.snapshot;
    const sc = snapshot.sidecar ?? null;
    if (sc === null) { socket.destroy(); return; }
    if (b.listener.name === sc.outbound.listener.name) {
      const conn: DownstreamConnection = {
        proxy: this.#proxy,
        remoteAddress: stripV4Mapped(socket.remoteAddress ?? ''),
        remotePort: socket.remotePort ?? 0,
        localAddress: stripV4Mapped(socket.localAddress ?? ''),
        localPort: socket.localPort ?? 0,
        listener: sc.outbound.listener,
        chain: sc.outbound.chain,
        sni: '',
        tls: false,
        peerSubject: '',
        peerUriSans: [],
        peerCertPem: '',
        snapshot,
      };
      this.#h1.serve(socket, conn);
      return;
    }
    if (sc.inbound === null) { socket.destroy(); return; }
    acceptInbound(socket, sc.inbound, snapshot, { proxy: this.#proxy, h1: this.#h1, h2: this.#h2, log: this.#log });
  }

  #onConnect(conn: DownstreamConnection, req: IncomingMessage, socket: Socket, head: Buffer): void {
    if (conn.listener.name !== 'virtualOutbound') {
      // Gateways do not tunnel (Envoy answers CONNECT without a CONNECT route with 404).
      socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nserver: istio-envoy\r\nconnection: close\r\n\r\n');
      return;
    }
    openTunnel(conn, req, socket, head, this.#proxy);
  }

  bound(): Map<string, number> {
    const out = new Map<string, number>();
    for (const b of this.#bound.values()) {
      const a = b.server.address();
      if (a !== null && typeof a === 'object') out.set(b.listener.name, a.port);
    }
    return out;
  }

  stopAccepting(): number {
    return stopAccepting(this.#bound);
  }

  openConnections(): number {
    return openConnections(this.#bound);
  }

  closeAll(): void {
    closeAll(this.#bound);
  }
}
