import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { RequestView } from '../../compile/match/request-view.js';
import type { FilterChain, Listener, Route, RouteConfiguration, Snapshot, VirtualHost } from '../../compile/snapshot.js';
import { getHeaderJoined, type HeaderList } from './headers.js';
import { ResponseFlag } from './response-flags.js';
import type { HttpFilter } from './filter.js';
import type { ClusterManager } from '../upstream/cluster-manager.js';
import type { TcpSession } from '../tcp/tcp-session.js';
import type { ActiveSpan } from '../../telemetry/tracing/context.js';

/** The process-wide pieces a stream needs: current config, upstreams, telemetry. */
export interface ProxyContext {
  /** The snapshot serving new requests now. */
  readonly snapshot: Snapshot;
  readonly clusters: ClusterManager;
  /** Called once per stream when its response is done or aborted (access log, metrics). */
  onStreamComplete(s: HttpStream): void;
  /** Called once per proxied TCP connection when it closes. */
  onTcpComplete(s: TcpSession): void;
}

/** What a downstream connection knows about itself; shared by its streams. */
export interface DownstreamConnection {
  readonly proxy: ProxyContext;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly listener: Listener;
  readonly chain: FilterChain;
  /** SNI from the ClientHello ('' for plaintext). */
  readonly sni: string;
  readonly tls: boolean;
  /** Verified client certificate identity (mTLS), '' when none. */
  readonly peerSubject: string;
  readonly peerUriSans: readonly string[];
  readonly peerDnsSans?: readonly string[];
  /** Hex SHA-256 of the client certificate, '' when none. */
  readonly peerCertSha256?: string;
  readonly peerCertPem: string;
  /** This connection's x-forwarded-client-cert element ('' or absent without a client certificate). */
  readonly xfcc?: string;
  /** Negotiated TLS version (`TLSv1.3`), '' for plaintext. */
  readonly tlsVersion?: string;
  /** Snapshot current when the connection was accepted (fallback when its listener is gone). */
  readonly snapshot: Snapshot;
}

/** Receives a request body from the downstream codec. */
export interface BodySink {
  onData(chunk: Buffer): void;
  onEnd(trailers: HeaderList | null): void;
  onError(err: Error): void;
}

/**
 * The codec side of a stream: how the connection manager and router write a response and
 * read a request body, whatever the wire protocol (node:http, node:http2, the llhttp codec).
 */
export interface DownstreamCodec {
  sendHeaders(s: HttpStream, status: number, headers: HeaderList, endStream: boolean): void;
  /** false = the client is slow: stop until `s.onDrain` is called. */
  sendData(s: HttpStream, chunk: Buffer): boolean;
  /**
   * Optional: sendData of a chunk that is valid only during the call (a slice of a shared read
   * buffer). Returns -1 when not taken (the caller copies it and calls sendData), else bit 0 =
   * a pending write still refers to the chunk, bit 1 = the client is slow (as sendData's false).
   */
  sendDataLent?(s: HttpStream, chunk: Buffer): number;
  sendEnd(s: HttpStream, trailers: HeaderList | null): void;
  /** Abort the stream (h2 RST_STREAM, h1 connection close). */
  reset(s: HttpStream): void;
  startBody(s: HttpStream, sink: BodySink): void;
  pauseBody(s: HttpStream): void;
  resumeBody(s: HttpStream): void;
  /** For an upgrade (WebSocket) after the upstream answered 101: the raw client socket. */
  takeSocket(s: HttpStream): { socket: Duplex; head: Buffer } | null;
}

/** An HTTP/1.1 server codec the listener hands accepted (possibly TLS-terminated) sockets to. */
export interface Http1ServerCodec {
  serve(socket: Socket, conn: DownstreamConnection): void;
  /** Graceful drain: responses ask clients to close; idle connections close now. */
  drain(): void;
}

/**
 * One request/response exchange as filters and the router see it: a lean object with a
 * stable shape (every field set here), never node:http's IncomingMessage/ServerResponse.
 */
export class HttpStream implements RequestView {
  // Request head, set by the codec.
  method = '';
  /** Path with query, as received (origin-form). */
  path = '';
  authority = '';
  scheme: 'http' | 'https' = 'http';
  protocol = 'HTTP/1.1';
  headers: HeaderList = [];
  /** Request has a body (content-length > 0 or chunked or h2 without END_STREAM). */
  hasBody = false;
  /** Upgrade requested (WebSocket, h2c is refused). */
  upgrade = '';

  readonly conn: DownstreamConnection;
  /** Replaced only when a filter read the request body first (ext_authz with the body). */
  codec: DownstreamCodec;
  /** Per-request handle of the codec (res for node:http, the h2 stream, ...). */
  codecRef: unknown;

  // Timing: ms since process start, high resolution; wall clock for the log.
  readonly startMs: number;
  readonly startWall: number;

  // Routing results.
  snapshot: Snapshot;
  routeConfig: RouteConfiguration | null = null;
  vhost: VirtualHost | null = null;
  route: Route | null = null;
  clusterName = '';
  upstreamHost = '';
  upstreamLocalAddress = '';
  upstreamTransportFailureReason = '';
  /** Path before a rewrite (x-envoy-original-path), '' when not rewritten. */
  originalPath = '';
  requestId = '';

  // Response state.
  responseCode = 0;
  responseFlags = 0;
  details = '';
  connectionTerminationDetails = '';
  bytesReceived = 0;
  bytesSent = 0;
  upstreamServiceTimeMs = -1;
  headersSent = false;
  completed = false;
  attemptCount = 0;
  /** Identity from a verified JWT (`iss/sub`), for authorization and the log. */
  requestPrincipal = '';
  /** Claims of the verified JWT (request.auth.claims), null when none. */
  jwtPayload: Readonly<Record<string, unknown>> | null = null;
  /** Extra fields filters expose to authorization / logging. */
  filterState: Record<string, unknown> | null = null;
  /** Position in the filter chain (a paused filter resumes from here). */
  filterIndex = 0;
  /** Filters that asked to see the response headers. */
  responseFilters: HttpFilter[] | null = null;
  /** The request's tracing span (Telemetry tracing), null when not traced. */
  span: ActiveSpan | null = null;

  /** Called by the codec when a blocked sendData may continue. */
  onDrain: (() => void) | null = null;
  /** Called by the codec when the client goes away before the response completed. */
  onAbort: (() => void) | null = null;

  #pathOnly: string | null = null;
  #query: URLSearchParams | null = null;

  constructor(conn: DownstreamConnection, codec: DownstreamCodec, snapshot: Snapshot) {
    this.conn = conn;
    this.codec = codec;
    this.codecRef = null;
    this.snapshot = snapshot;
    this.startMs = performance.now();
    this.startWall = Date.now();
  }

  // ---------------------------------------------------------------- RequestView

  get pathOnly(): string {
    if (this.#pathOnly === null) {
      const q = this.path.indexOf('?');
      this.#pathOnly = q < 0 ? this.path : this.path.slice(0, q);
    }
    return this.#pathOnly;
  }

  header(lowerName: string): string | undefined {
    return getHeaderJoined(this.headers, lowerName);
  }

  queryParam(name: string): string | undefined {
    if (this.#query === null) {
      const q = this.path.indexOf('?');
      this.#query = new URLSearchParams(q < 0 ? '' : this.path.slice(q + 1));
    }
    return this.#query.get(name) ?? undefined;
  }

  /** After a rewrite the cached derived views must be recomputed. */
  setPath(path: string): void {
    this.path = path;
    this.#pathOnly = null;
    this.#query = null;
  }

  get port(): number {
    return this.conn.listener.port;
  }

  setFlag(flag: number): void {
    this.responseFlags |= flag;
  }

  hasFlag(flag: number): boolean {
    return (this.responseFlags & flag) !== 0;
  }

  get downstreamClosed(): boolean {
    return (this.responseFlags & ResponseFlag.DC) !== 0;
  }
}
