import type { ForwardAction, LoadBalancer, WeightedCluster } from '../../compile/snapshot.js';
import { rewritePath } from '../../compile/route-action.js';
import { hash32 } from '../upstream/load-balancer.js';
import { applyHeaderMutation } from './header-ops.js';
import type { HeaderList } from './headers.js';
import type { HttpStream } from './stream.js';

// The request as it goes upstream over HTTP/1.1: its head, built once per request (the router
// writes it per attempt), its chunk framing, and the consistent-hash key of its load balancer.

const CRLF = '\r\n';
export const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');

// Request headers never forwarded as received: hop-by-hop ones, and those the router writes.
const DROP_REQUEST = new Set(['host', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'upgrade', 'expect', 'http2-settings', 'content-length', 'trailer']);

/** The request head as it goes upstream, and how its body is framed. */
export interface UpstreamHead {
  /** `METHOD path HTTP/1.1` CRLF. */
  readonly requestLine: string;
  /**
   * Request headers after the host line, each ending in CRLF (no final blank line): the
   * attempt writes `requestLine`, `host: <authority>`, this, x-envoy-attempt-count, CRLF.
   */
  readonly headerBlock: string;
  readonly path: string;
  readonly authority: string;
  readonly chunked: boolean;
}

/**
 * Builds the upstream request head: the route's rewrite (path, authority), then the route's
 * and the destination's request header changes (Envoy's order), hop-by-hop headers dropped,
 * Envoy's x-envoy-* headers added. Mutates `s.headers` and sets `s.originalPath`. `sluice
 * trace` calls this to show the request exactly as it would be sent.
 */
export function buildUpstreamHead(s: HttpStream, a: ForwardAction, wc: WeightedCluster): UpstreamHead {
  const route = s.route!;
  const rw = a.rewrite;
  let path = s.path;
  let authority = s.authority;
  if (rw !== null) {
    const next = rewritePath(rw, path);
    if (next !== path) { s.originalPath = path; path = next; }
    if (rw.authority !== null) authority = rw.authority;
  }
  const h = s.headers;
  if (route.requestHeaders !== null) applyHeaderMutation(h, route.requestHeaders);
  if (wc.requestHeaders !== null) {
    applyHeaderMutation(h, wc.requestHeaders);
    if (wc.requestHeaders.authority !== null) authority = wc.requestHeaders.authority;
  }
  const requestLine = `${s.method} ${path} HTTP/1.1\r\n`;
  let head = '';
  let contentLength: string | undefined;
  let teTrailers = false;
  let upgrade = '';
  let chunked = false;
  for (let i = 0; i < h.length; i += 2) {
    const n = h[i]!;
    const lower = n.length <= 17 ? n.toLowerCase() : '';
    if (lower !== '' && DROP_REQUEST.has(lower)) {
      if (lower === 'content-length') contentLength = h[i + 1];
      else if (lower === 'te' && h[i + 1]!.toLowerCase().includes('trailers')) teTrailers = true;
      else if (lower === 'upgrade') upgrade = h[i + 1]!;
      continue;
    }
    head += `${n}: ${h[i + 1]}\r\n`;
  }
  if (s.originalPath !== '') head += `x-envoy-original-path: ${s.originalPath}\r\n`;
  if (a.timeoutMs > 0) head += `x-envoy-expected-rq-timeout-ms: ${a.timeoutMs}\r\n`;
  if (teTrailers) head += 'te: trailers\r\n';
  if (upgrade !== '' && s.upgrade !== '') head += `connection: Upgrade\r\nupgrade: ${upgrade}\r\n`;
  if (contentLength !== undefined) head += `content-length: ${contentLength}\r\n`;
  else if (s.hasBody) { head += 'transfer-encoding: chunked\r\n'; chunked = true; }
  return { requestLine, headerBlock: head, path, authority, chunked };
}

/** The consistent-hash input of a request for a cluster's LB (null: no hash policy or no value). */
export function lbHashKey(s: HttpStream, lb: LoadBalancer): number | null {
  const hp = lb.hash;
  if (hp === null) return null;
  let key: string | undefined;
  if (hp.header !== undefined) key = s.header(hp.header);
  else if (hp.sourceIp === true) key = s.conn.remoteAddress;
  else if (hp.queryParameter !== undefined) key = s.queryParam(hp.queryParameter);
  else if (hp.cookie !== undefined) key = cookieValue(s.header('cookie'), hp.cookie.name);
  return key === undefined ? null : hash32(key);
}

/** The last chunk of a chunked request with its trailers (HTTP/1.1 trailers pass through). */
export function lastChunkWith(trailers: HeaderList): Buffer {
  let t = '0\r\n';
  for (let i = 0; i < trailers.length; i += 2) t += `${trailers[i]}: ${trailers[i + 1]}\r\n`;
  return Buffer.from(`${t}\r\n`, 'latin1');
}

export function frameChunk(chunk: Buffer): Buffer {
  return Buffer.concat([Buffer.from(chunk.length.toString(16) + CRLF, 'latin1'), chunk, Buffer.from(CRLF, 'latin1')]);
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
