import type { Duplex } from 'node:stream';
import { stripPort } from '../../compile/hosts.js';
import type { ForwardAction, WeightedCluster } from '../../compile/snapshot.js';
import type { ClusterRuntime, HostRuntime } from '../upstream/cluster-manager.js';
import type { Http1Connection, UpstreamExchange, UpstreamResetReason } from '../upstream/http1-connection.js';
import { LENT_DECLINED, LENT_DONE, LENT_PINNED } from '../upstream/http1-connection.js';
import type { Http1Pool, PoolWaiter } from '../upstream/http1-pool.js';
import { h2RequestHeaders, type Http2Pool, type Http2Stream } from '../upstream/http2-pool.js';
import type { OutgoingHttpHeaders } from 'node:http2';
import { pickWeighted } from '../upstream/load-balancer.js';
import { runResponseFilters } from './filter.js';
import { applyHeaderMutation } from './header-ops.js';
import { eqLower, getHeader, type HeaderList } from './headers.js';
import { completeStream, httpDate, sendLocalReply } from './local-reply.js';
import { ResponseFlag } from './response-flags.js';
import { retriableResponse } from './retry-on.js';
import { sendMirrors } from './shadow.js';
import { buildUpstreamHead, frameChunk, LAST_CHUNK, lastChunkWith, lbHashKey } from './upstream-head.js';
import type { BodySink, HttpStream } from './stream.js';

/** Largest request body kept for retries (Envoy's per-connection buffer limit, 1 MiB). */
const RETRY_BUFFER_LIMIT = 1 << 20;

/** Response headers never forwarded (hop-by-hop, and `server`, which the gateway sets): by length first, no allocation. */
function isDroppedResponseHeader(n: string): boolean {
  switch (n.length) {
    case 6: return eqLower(n, 'server');
    case 7: return eqLower(n, 'upgrade') || eqLower(n, 'trailer');
    case 10: return eqLower(n, 'connection') || eqLower(n, 'keep-alive');
    case 16: return eqLower(n, 'proxy-connection');
    case 17: return eqLower(n, 'transfer-encoding');
    default: return false;
  }
}

export function forwardRequest(s: HttpStream, a: ForwardAction): void {
  const wc = chooseDestination(s, a, Math.random());
  if (wc === null) return;
  const cluster = s.conn.proxy.clusters.get(wc.cluster);
  if (cluster === undefined) {
    sendClusterNotFound(s);
    return;
  }
  new UpstreamRequest(s, a, wc, cluster).start();
}

/**
 * The destination of a forward action for one draw in [0, 1) (sets `s.clusterName`), or null
 * after answering 503 NC when the route has no destination at all.
 */
export function chooseDestination(s: HttpStream, a: ForwardAction, draw: number): WeightedCluster | null {
  if (a.clusters.length === 0) {
    sendLocalReply(s, 503, '', ResponseFlag.NC, 'cluster_not_found');
    return null;
  }
  const wc = pickWeighted(a, draw);
  s.clusterName = wc.cluster;
  return wc;
}

/** 503 NC: the route names a cluster this snapshot does not have (unknown host, port or subset). */
export function sendClusterNotFound(s: HttpStream): void {
  sendLocalReply(s, 503, '', ResponseFlag.NC, 'cluster_not_found', null, s.route!.responseHeaders);
}

/** 503 UH: the cluster has no endpoint to send to (none configured, or all ejected). */
export function sendNoHealthyUpstream(s: HttpStream): void {
  sendLocalReply(s, 503, 'no healthy upstream', ResponseFlag.UH, 'no_healthy_upstream', null, s.route!.responseHeaders);
}

/**
 * One request's trip upstream: host choice, pooled connection, request head and streamed
 * body, response streamed back, retries, timeouts. Its methods are the callbacks of the pool
 * (PoolWaiter), the connection (UpstreamExchange) and the downstream body (BodySink), so a
 * request allocates this one object and no closures.
 */
class UpstreamRequest implements PoolWaiter, UpstreamExchange, BodySink {
  readonly noResponseBody: boolean;
  readonly #s: HttpStream;
  readonly #a: ForwardAction;
  readonly #wc: WeightedCluster;
  readonly #cluster: ClusterRuntime;
  #requestLine = '';
  /** Request headers after the host line, each ending in CRLF (no final blank line). */
  #headerBlock = '';
  #authority = '';
  #chunked = false;
  #body: Buffer[] | null = null;
  #trailers: HeaderList | null = null;
  #bodyBytes = 0;
  #bodyStarted = false;
  #bodyDone = false;
  #host: HostRuntime | null = null;
  #tried: HostRuntime[] | null = null;
  #pool: Http1Pool | Http2Pool | null = null;
  #conn: Http1Connection | Http2Stream | null = null;
  /** The upstream speaks HTTP/2 (cluster protocol, h2UpgradePolicy, or useClientProtocol with an h2 client). */
  #h2 = false;
  #h2Headers: OutgoingHttpHeaders | null = null;
  #attempts = 0;
  #retrying = false;
  /** This attempt holds a slot of the cluster's `http2MaxRequests`. */
  #requestSlot = false;
  /** A scheduled retry holds a slot of the cluster's `maxRetries` until it starts. */
  #retrySlot = false;
  #done = false;
  #startMs = 0;
  #timer: NodeJS.Timeout | null = null;
  #tryTimer: NodeJS.Timeout | null = null;
  #lastStatus = 0;

  constructor(s: HttpStream, a: ForwardAction, wc: WeightedCluster, cluster: ClusterRuntime) {
    this.#s = s;
    this.#a = a;
    this.#wc = wc;
    this.#cluster = cluster;
    this.noResponseBody = s.method === 'HEAD';
  }

  start(): void {
    const s = this.#s;
    const proto = this.#cluster.config.protocol;
    // Upgrades (WebSocket) always go over HTTP/1.1.
    this.#h2 = s.upgrade === '' && (proto === 'http2' || (proto === 'auto' && s.protocol === 'HTTP/2'));
    this.#buildHead();
    const mirrors = this.#a.mirrors.length > 0;
    if (s.hasBody && (this.#a.retry !== null || mirrors)) this.#body = [];
    if (mirrors && !s.hasBody) sendMirrors(s.conn.proxy.clusters, this.#a.mirrors, s.method, this.#requestLine, this.#authority, this.#headerBlock, null);
    s.onAbort = this.#onDownstreamAbort;
    if (this.#a.timeoutMs > 0) this.#timer = setTimeout(this.#onGlobalTimeout, this.#a.timeoutMs);
    this.#startMs = performance.now();
    if (!this.#cluster.ready) { this.#cluster.whenReady(this.#attempt); return; }
    this.#attempt();
  }

  #buildHead(): void {
    const u = buildUpstreamHead(this.#s, this.#a, this.#wc);
    this.#requestLine = u.requestLine;
    this.#headerBlock = u.headerBlock;
    this.#authority = u.authority;
    this.#chunked = u.chunked;
    // The HTTP/1.1 head is built for h2 upstreams too: mirrors always speak HTTP/1.1.
    if (this.#h2) this.#buildH2Headers(u.path, u.authority);
  }

  /** The same request as HTTP/2 headers: hop-by-hop headers dropped, no chunked framing. */
  #buildH2Headers(path: string, authority: string): void {
    const s = this.#s;
    const extra: HeaderList = [];
    if (s.originalPath !== '') extra.push('x-envoy-original-path', s.originalPath);
    if (this.#a.timeoutMs > 0) extra.push('x-envoy-expected-rq-timeout-ms', String(this.#a.timeoutMs));
    const cl = getHeader(s.headers, 'content-length');
    const h = h2RequestHeaders(s.method, path, authority, this.#cluster.tls !== null ? 'https' : 'http', s.headers, extra);
    if (cl !== undefined) h['content-length'] = cl;
    this.#h2Headers = h;
  }

  // ---------------------------------------------------------------- attempts

  readonly #attempt = (): void => {
    if (this.#done) return;
    this.#releaseRetry();
    const s = this.#s;
    this.#attempts++;
    s.attemptCount = this.#attempts;
    const cluster = this.#cluster;
    let host: HostRuntime | null;
    if (cluster.config.type === 'original_dst') {
      this.#originalDestination();
      return;
    }
    const exclude = this.#a.retry?.ignorePreviousHosts === true ? this.#tried : null;
    host = cluster.pick(this.#hashKey(), exclude);
    if (host === null) {
      this.#finish();
      sendNoHealthyUpstream(s);
      return;
    }
    this.#useHost(host);
  };

  #useHost(host: HostRuntime): void {
    const s = this.#s;
    this.#host = host;
    (this.#tried ??= []).push(host);
    s.upstreamHost = host.id;
    this.#cluster.stats.upstream_rq_total++;
    // `http2MaxRequests` caps the cluster's active requests, HTTP/1.1 and HTTP/2 alike.
    const rq = this.#cluster.resources.requests;
    if (rq.tryAcquire()) { this.#requestSlot = true; this.#toPool(host); return; }
    rq.acquire((ok) => {
      if (this.#done) { if (ok) rq.release(); return; }
      if (!ok) { this.onPoolFailure('overflow', 'active requests exceed http2MaxRequests'); return; }
      this.#requestSlot = true;
      this.#toPool(host);
    });
  }

  #toPool(host: HostRuntime): void {
    if (this.#h2) {
      const p = host.h2Pool(stripPort(this.#authority));
      this.#pool = p;
      p.acquire(this);
      return;
    }
    const p = host.pool(stripPort(this.#authority));
    this.#pool = p;
    p.acquire(this);
  }

  /** PASSTHROUGH / resolution NONE: the destination is the host the request names. */
  #originalDestination(): void {
    const authority = this.#authority;
    const host = stripPort(authority);
    const portText = authority.length > host.length ? authority.slice(host.length + 1) : '';
    const port = portText !== '' ? Number(portText) : this.#cluster.config.port;
    this.#cluster.resolveName(host.replace(/^\[|\]$/g, ''), (err, addrs) => {
      if (this.#done) return;
      if (err !== null || addrs.length === 0) {
        this.#fail(503, `upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: DNS resolution of ${host} failed`, ResponseFlag.UF, 'upstream_reset_before_response_started{connection_failure}');
        return;
      }
      this.#useHost(this.#cluster.dynamicHost(addrs[0]!, port, host));
    });
  }

  #hashKey(): number | null {
    return lbHashKey(this.#s, this.#cluster.config.lb);
  }

  // ---------------------------------------------------------------- PoolWaiter

  onPoolReady(c: Http1Connection | Http2Stream): void {
    if (this.#done) { (this.#pool as { onConnectionIdle(x: typeof c): void }).onConnectionIdle(c); return; }
    const s = this.#s;
    this.#conn = c;
    this.#host!.activeRequests++;
    s.upstreamLocalAddress = c.localAddress;
    const r = this.#a.retry;
    if (r !== null && r.perTryTimeoutMs > 0) this.#tryTimer = setTimeout(this.#onTryTimeout, r.perTryTimeoutMs);
    if (this.#h2) { this.#dispatchH2(c as Http2Stream); return; }
    const conn = c as Http1Connection;
    const head = `${this.#requestLine}host: ${this.#authority}\r\n${this.#headerBlock}x-envoy-attempt-count: ${this.#attempts}\r\n\r\n`;
    if (!s.hasBody) {
      conn.dispatch(this, head, null, true);
    } else if (this.#bodyDone) {
      // A retry: replay the buffered body.
      conn.dispatch(this, head, this.#replayBody(), true);
    } else {
      conn.dispatch(this, head, null, false);
      if (!this.#bodyStarted) { this.#bodyStarted = true; s.codec.startBody(s, this); }
    }
  }

  #dispatchH2(st: Http2Stream): void {
    const s = this.#s;
    const headers = { ...this.#h2Headers!, 'x-envoy-attempt-count': String(this.#attempts) };
    if (!s.hasBody) {
      st.dispatchHeaders(this, headers, null, true);
    } else if (this.#bodyDone) {
      st.dispatchHeaders(this, headers, this.#replayBody(false), true);
    } else {
      st.dispatchHeaders(this, headers, null, false);
      if (!this.#bodyStarted) { this.#bodyStarted = true; s.codec.startBody(s, this); }
    }
  }

  onPoolFailure(reason: UpstreamResetReason, detail: string): void {
    if (this.#done) return;
    this.#releaseRequest();
    if (reason === 'overflow') {
      this.#cluster.stats.upstream_rq_pending_overflow++;
      this.#fail(503, 'upstream connect error or disconnect/reset before headers. reset reason: overflow', ResponseFlag.UO, 'upstream_reset_before_response_started{overflow}');
      return;
    }
    this.#cluster.stats.upstream_cx_connect_fail++;
    this.#cluster.recordResult(this.#host!, 0, true);
    this.#s.upstreamTransportFailureReason = detail;
    this.#onReset(reason, detail, true);
  }

  // ---------------------------------------------------------------- BodySink (downstream → upstream)

  onData(chunk: Buffer): void {
    const s = this.#s;
    s.bytesReceived += chunk.length;
    if (this.#body !== null) {
      this.#bodyBytes += chunk.length;
      if (this.#bodyBytes > RETRY_BUFFER_LIMIT) this.#body = null;
      else this.#body.push(chunk);
    }
    const conn = this.#conn;
    if (conn === null) return;
    const ok = this.#chunked && !this.#h2 ? conn.writeBody(frameChunk(chunk)) : conn.writeBody(chunk);
    if (!ok) s.codec.pauseBody(s);
  }

  onEnd(trailers: HeaderList | null): void {
    this.#bodyDone = true;
    if (trailers !== null && trailers.length > 0 && this.#chunked && !this.#h2) {
      this.#trailers = trailers;
      this.#conn?.endRequest(lastChunkWith(trailers));
    } else {
      this.#conn?.endRequest(this.#chunked && !this.#h2 ? LAST_CHUNK : null);
    }
    if (this.#a.mirrors.length > 0 && this.#body !== null) {
      const s = this.#s;
      sendMirrors(s.conn.proxy.clusters, this.#a.mirrors, s.method, this.#requestLine, this.#authority, this.#headerBlock, this.#replayBody());
    }
  }

  onError(_err: Error): void {
    this.#onDownstreamAbort();
  }

  onRequestDrain(): void {
    this.#s.codec.resumeBody(this.#s);
  }

  /** The buffered body, chunk-framed when the HTTP/1.1 head says chunked (`framed` false: raw, for HTTP/2). */
  #replayBody(chunked = this.#chunked): Buffer {
    const parts = this.#body ?? [];
    if (!chunked) return Buffer.concat(parts);
    const framed: Buffer[] = [];
    for (const p of parts) framed.push(frameChunk(p));
    framed.push(this.#trailers !== null ? lastChunkWith(this.#trailers) : LAST_CHUNK);
    return Buffer.concat(framed);
  }

  // ---------------------------------------------------------------- UpstreamExchange (upstream → downstream)

  onResponseHeaders(status: number, headers: HeaderList, upgrade: boolean, endStream = false): void {
    if (this.#done) return;
    this.#clearTryTimer();
    const s = this.#s;
    this.#lastStatus = status;
    this.#cluster.recordResult(this.#host!, status, false);
    if (!upgrade && this.#shouldRetryStatus(status, headers)) {
      this.#retrying = true;
      return;
    }
    s.upstreamServiceTimeMs = Math.round(performance.now() - this.#startMs);
    const out: HeaderList = [];
    let hasDate = false;
    for (let i = 0; i < headers.length; i += 2) {
      const n = headers[i]!;
      if (n.length === 4) { if (!hasDate && eqLower(n, 'date')) hasDate = true; }
      else if (isDroppedResponseHeader(n)) continue;
      out.push(n, headers[i + 1]!);
    }
    if (upgrade) out.push('connection', 'Upgrade', 'upgrade', getHeader(headers, 'upgrade') ?? 'websocket');
    out.push('x-envoy-upstream-service-time', String(s.upstreamServiceTimeMs), 'server', 'istio-envoy');
    if (!hasDate) out.push('date', httpDate());
    if (this.#wc.responseHeaders !== null) applyHeaderMutation(out, this.#wc.responseHeaders);
    if (s.route!.responseHeaders !== null) applyHeaderMutation(out, s.route!.responseHeaders);
    runResponseFilters(s, status, out);
    s.responseCode = status;
    s.details = 'via_upstream';
    s.headersSent = true;
    this.#cluster.stats.byClass[(status / 100) | 0]!++;
    s.codec.sendHeaders(s, status, out, endStream);
  }

  onResponseData(chunk: Buffer): void {
    if (this.#retrying || this.#done) return;
    const s = this.#s;
    s.bytesSent += chunk.length;
    if (!s.codec.sendData(s, chunk)) {
      this.#conn?.pauseResponse();
      s.onDrain = this.#onDownstreamDrain;
    }
  }

  onResponseDataLent(chunk: Buffer): number {
    if (this.#retrying || this.#done) return LENT_DONE;
    const s = this.#s;
    const codec = s.codec;
    if (codec.sendDataLent === undefined) return LENT_DECLINED;
    const r = codec.sendDataLent(s, chunk);
    if (r < 0) return LENT_DECLINED;
    s.bytesSent += chunk.length;
    if ((r & 2) !== 0) {
      this.#conn?.pauseResponse();
      s.onDrain = this.#onDownstreamDrain;
    }
    return (r & 1) !== 0 ? LENT_PINNED : LENT_DONE;
  }

  readonly #onDownstreamDrain = (): void => {
    this.#s.onDrain = null;
    this.#conn?.resumeResponse();
  };

  onResponseComplete(trailers: HeaderList | null): void {
    if (this.#done) return;
    this.#releaseHost();
    if (this.#retrying) {
      this.#retrying = false;
      this.#scheduleRetry();
      return;
    }
    const s = this.#s;
    this.#finish();
    s.codec.sendEnd(s, trailers);
    completeStream(s);
  }

  onUpstreamReset(reason: UpstreamResetReason, detail: string): void {
    if (this.#done) return;
    this.#releaseHost();
    this.#s.upstreamTransportFailureReason = detail;
    if (this.#retrying) { this.#retrying = false; this.#scheduleRetry(); return; }
    this.#cluster.recordResult(this.#host!, 0, true);
    this.#onReset(reason, detail, false);
  }

  onUpgrade(socket: Duplex, head: Buffer): void {
    const s = this.#s;
    this.#finish();
    const client = s.codec.takeSocket(s);
    if (client === null) { socket.destroy(); completeStream(s); return; }
    if (head.length > 0) client.socket.write(head);
    if (client.head.length > 0) socket.write(client.head);
    // Bytes counted both ways for the access log; the stream completes when either side closes.
    socket.on('data', (d: Buffer) => { s.bytesSent += d.length; });
    client.socket.on('data', (d: Buffer) => { s.bytesReceived += d.length; });
    socket.pipe(client.socket);
    client.socket.pipe(socket);
    const close = (): void => { socket.destroy(); client.socket.destroy(); completeStream(s); };
    socket.once('close', close);
    client.socket.once('close', close);
    socket.on('error', () => {});
    client.socket.on('error', () => {});
  }

  // ---------------------------------------------------------------- retries and failures

  /** May this request be retried? If so, it holds a slot of `maxRetries` until the retry starts. */
  #canRetry(): boolean {
    const r = this.#a.retry;
    if (r === null || this.#attempts > r.attempts) return false;
    if (this.#s.headersSent) return false;
    if (this.#s.hasBody && (!this.#bodyDone || this.#body === null)) return false;
    if (this.#retrySlot) return true;
    if (!this.#cluster.resources.retries.tryAcquire()) {
      // Envoy: the retry circuit breaker overflowed (UO), the response goes out as it is.
      this.#cluster.stats.upstream_rq_retry_overflow++;
      this.#s.setFlag(ResponseFlag.UO);
      return false;
    }
    this.#retrySlot = true;
    return true;
  }

  /** A retriable failure that will not be retried: URX once attempts ran out (not after a retry overflow). */
  #noRetry(): void {
    const s = this.#s;
    if (this.#attempts > 1 && (s.responseFlags & ResponseFlag.UO) === 0) s.setFlag(ResponseFlag.URX);
  }

  #releaseRetry(): void {
    if (this.#retrySlot) { this.#retrySlot = false; this.#cluster.resources.retries.release(); }
  }

  #releaseRequest(): void {
    if (this.#requestSlot) { this.#requestSlot = false; this.#cluster.resources.requests.release(); }
  }

  #shouldRetryStatus(status: number, headers: HeaderList): boolean {
    const r = this.#a.retry;
    if (r === null || !retriableResponse(r, status, headers)) return false;
    if (!this.#canRetry()) { this.#noRetry(); return false; }
    return true;
  }

  #onReset(reason: UpstreamResetReason, detail: string, beforeRequest: boolean): void {
    const s = this.#s;
    const r = this.#a.retry;
    if (!s.headersSent && r !== null) {
      const on = r.on;
      const retriable =
        (reason === 'connection failure' && (on.connectFailure || on.fiveXx || on.gatewayError || on.reset || on.resetBeforeRequest)) ||
        (reason !== 'connection failure' && (on.reset || on.fiveXx || on.gatewayError || (beforeRequest && on.resetBeforeRequest))) ||
        (reason === 'remote reset' && on.refusedStream);
      if (retriable) {
        if (this.#canRetry()) { this.#scheduleRetry(); return; }
        this.#noRetry();
      }
    }
    const flag = reason === 'connection failure' ? ResponseFlag.UF : reason === 'overflow' ? ResponseFlag.UO : reason === 'remote reset' ? ResponseFlag.UR : ResponseFlag.UC;
    const key = reason.replace(/ /g, '_');
    if (s.headersSent) {
      s.setFlag(flag);
      s.details = `upstream_reset_after_response_started{${key}}`;
      this.#finish();
      s.codec.reset(s);
      completeStream(s);
      return;
    }
    // Envoy's router words the body this way once a retry has happened (is_retry_). Since Envoy
    // 1.27 a failed connect is a "remote connection failure" (or "connection timeout") and the
    // details carry the transport failure reason after a `|`, spaces as underscores.
    const retried = this.#attempts > 1 ? 'retried and the latest ' : '';
    const timeout = reason === 'connection failure' && detail.startsWith('connect timeout');
    const shown = reason !== 'connection failure' ? reason : timeout ? 'connection timeout' : 'remote connection failure';
    const transport = reason === 'connection failure' && !timeout ? detail : '';
    this.#fail(503, `upstream connect error or disconnect/reset before headers. ${retried}reset reason: ${shown}${transport !== '' ? `, transport failure reason: ${transport}` : ''}`, flag, `upstream_reset_before_response_started{${`${shown}${transport !== '' ? `|${transport}` : ''}`.replace(/ /g, '_')}}`);
  }

  #scheduleRetry(): void {
    const r = this.#a.retry!;
    this.#cluster.stats.upstream_rq_retry++;
    // Envoy's backoff: random in [0, base * 2^(n-1)], capped at 10x base.
    const n = this.#attempts;
    const cap = Math.min(r.backoffBaseMs * 2 ** (n - 1), r.backoffMaxMs);
    setTimeout(this.#attempt, Math.random() * cap);
  }

  #fail(status: number, body: string, flag: number, details: string): void {
    const s = this.#s;
    this.#finish();
    sendLocalReply(s, status, body, flag, details, null, s.route!.responseHeaders);
  }

  #releaseHost(): void {
    this.#clearTryTimer();
    this.#releaseRequest();
    if (this.#conn !== null) { this.#host!.activeRequests--; this.#conn = null; }
  }

  /** No more upstream work for this request: timers off, waiter cancelled. */
  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#timer !== null) { clearTimeout(this.#timer); this.#timer = null; }
    this.#clearTryTimer();
    this.#releaseRequest();
    this.#releaseRetry();
    this.#s.onAbort = null;
    this.#cluster.stats.upstream_rq_completed++;
  }

  #clearTryTimer(): void {
    if (this.#tryTimer !== null) { clearTimeout(this.#tryTimer); this.#tryTimer = null; }
  }

  /** Drops the upstream exchange: the connection is not reusable mid-exchange. */
  #abandonUpstream(): void {
    this.#releaseRequest();
    const conn = this.#conn;
    if (conn !== null) { this.#host!.activeRequests--; this.#conn = null; conn.reset(); }
    else if (this.#pool !== null) this.#pool.cancel(this);
  }

  readonly #onDownstreamAbort = (): void => {
    if (this.#done) return;
    const s = this.#s;
    s.setFlag(ResponseFlag.DC);
    s.details = 'downstream_remote_disconnect';
    this.#abandonUpstream();
    this.#finish();
    completeStream(s);
  };

  readonly #onGlobalTimeout = (): void => {
    this.#timer = null;
    if (this.#done) return;
    this.#cluster.stats.upstream_rq_timeout++;
    this.#abandonUpstream();
    const s = this.#s;
    if (s.headersSent) {
      s.setFlag(ResponseFlag.UT);
      s.details = 'upstream_response_timeout';
      this.#finish();
      s.codec.reset(s);
      completeStream(s);
      return;
    }
    this.#fail(504, 'upstream request timeout', ResponseFlag.UT, 'upstream_response_timeout');
  };

  readonly #onTryTimeout = (): void => {
    this.#tryTimer = null;
    if (this.#done) return;
    this.#cluster.stats.upstream_rq_per_try_timeout++;
    this.#abandonUpstream();
    this.#retrying = false;
    const on = this.#a.retry!.on;
    if ((on.fiveXx || on.gatewayError || on.reset) && this.#canRetry()) { this.#scheduleRetry(); return; }
    this.#fail(504, 'upstream request timeout', ResponseFlag.UT, 'upstream_per_try_timeout');
  };
}
