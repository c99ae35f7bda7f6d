import { Agent, request, type IncomingMessage } from 'node:http';
import { log } from '../../../util/log.js';
import { continueFilters } from '../../http/connection-manager.js';
import { FilterStatus, watchResponse, type HttpFilter } from '../../http/filter.js';
import { setHeader, type HeaderList } from '../../http/headers.js';
import { sendLocalReply } from '../../http/local-reply.js';
import { ResponseFlag } from '../../http/response-flags.js';
import type { HttpStream } from '../../http/stream.js';
import { counter } from '../stats.js';
import { matchAnyPattern, type ExtAuthzProvider, type StringPattern } from '../rbac/config.js';
import { anyMatch, AuthzView } from '../rbac/engine.js';
import { explainExtAuthz } from '../rbac/explain.js';
import type { ClusterRuntime, HostRuntime } from '../../upstream/cluster-manager.js';
import { checkOverGrpc, checkRequestFor, headerOption, type CheckRequest, type CheckResponse } from './grpc.js';
import { BufferedBody } from './body.js';

/** The request body read for the check (`includeRequestBodyInCheck`): all of it, or its first maxRequestBytes (`partial`). */
interface CheckBody {
  readonly bytes: Buffer;
  readonly partial: boolean;
}

/** Headers Envoy always forwards to an HTTP authorization service. */
const ALWAYS = new Set(['authorization', 'host', ':method', ':path']);
/** Never copied from the service's answer to the client (the proxy writes them). */
const NOT_TO_CLIENT = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'date', 'server']);
const agent = new Agent({ keepAlive: true, maxSockets: 64 });

const stats = { ok: counter('http.ext_authz.ok'), denied: counter('http.ext_authz.denied'), error: counter('http.ext_authz.error'), failureModeAllowed: counter('http.ext_authz.failure_mode_allowed') };

function matches(ps: readonly StringPattern[], name: string): boolean {
  return ps.length > 0 && matchAnyPattern(ps, name);
}

function checkHeaders(s: HttpStream, p: ExtAuthzProvider, body: CheckBody | null = null): Record<string, string> {
  const out: Record<string, string> = { host: s.authority, 'content-length': String(body?.bytes.length ?? 0) };
  const h = s.headers;
  for (let i = 0; i < h.length; i += 2) {
    const n = h[i]!.toLowerCase();
    if (n === 'host' || n === 'content-length') continue;
    if (ALWAYS.has(n) || matches(p.includeRequestHeaders, n)) out[n] = out[n] === undefined ? h[i + 1]! : `${out[n]},${h[i + 1]}`;
  }
  for (const [k, v] of p.includeAdditionalHeaders) out[k] = v;
  if (body !== null) out['x-envoy-auth-partial-body'] = String(body.partial);
  return out;
}

interface AllowHeaders {
  readonly headers: HeaderList;
}

const responseHeadersFilter: HttpFilter = {
  name: 'envoy.filters.http.ext_authz.response',
  onRequest: () => FilterStatus.Continue,
  onResponseHeaders(s, _status, headers) {
    const a = s.filterState?.extAuthzResponseHeaders as AllowHeaders | undefined;
    if (a !== undefined) for (let i = 0; i < a.headers.length; i += 2) setHeader(headers, a.headers[i]!, a.headers[i]!, a.headers[i + 1]!);
  },
};

function onError(s: HttpStream, p: ExtAuthzProvider, why: string): void {
  stats.error.inc();
  if (p.failOpen) {
    stats.failureModeAllowed.inc();
    log('warn', 'ext_authz', `provider ${p.name}: ${why}; request allowed (failOpen)`);
    s.headers.push('x-envoy-auth-failure-mode-allowed', 'true');
    continueFilters(s);
    return;
  }
  log('warn', 'ext_authz', `provider ${p.name}: ${why}; answering ${p.statusOnError}`);
  sendLocalReply(s, p.statusOnError, '', ResponseFlag.UAEX, 'ext_authz_error');
}

function onAnswer(s: HttpStream, p: ExtAuthzProvider, res: IncomingMessage, body: string): void {
  const status = res.statusCode ?? 0;
  const raw = res.rawHeaders;
  if (status >= 500) { onError(s, p, `the service answered ${status}`); return; }
  if (status === 200) {
    stats.ok.inc();
    let toClient: HeaderList | null = null;
    const remove: string[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      const n = raw[i]!.toLowerCase();
      const v = raw[i + 1]!;
      if (n === 'x-envoy-auth-headers-to-remove') { for (const x of v.split(',')) if (x.trim() !== '') remove.push(x.trim().toLowerCase()); continue; }
      if (matches(p.headersToUpstreamOnAllow, n)) setHeader(s.headers, n, n, v);
      if (matches(p.headersToDownstreamOnAllow, n)) (toClient ??= []).push(n, v);
    }
    for (const n of remove) for (let i = s.headers.length - 2; i >= 0; i -= 2) if (s.headers[i]!.toLowerCase() === n) s.headers.splice(i, 2);
    if (toClient !== null) { (s.filterState ??= {}).extAuthzResponseHeaders = { headers: toClient } satisfies AllowHeaders; watchResponse(s, responseHeadersFilter); }
    continueFilters(s);
    return;
  }
  stats.denied.inc();
  const extra: HeaderList = [];
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i]!.toLowerCase();
    if (NOT_TO_CLIENT.has(n) || n === 'content-type') continue;
    // Envoy: with headersToDownstreamOnDeny empty, every header of the answer but Host goes to the client.
    if (p.headersToDownstreamOnDeny.length === 0 || matchAnyPattern(p.headersToDownstreamOnDeny, n)) extra.push(n, raw[i + 1]!);
  }
  sendLocalReply(s, status, body, ResponseFlag.UAEX, 'ext_authz_denied', extra);
}

/** The gRPC check (Envoy's CheckRequest): every request header, the peers, the request line. */
function checkRequest(s: HttpStream, p: ExtAuthzProvider, body: CheckBody | null): CheckRequest {
  const headers: Record<string, string> = { ':authority': s.authority, ':method': s.method, ':path': s.path };
  const h = s.headers;
  for (let i = 0; i < h.length; i += 2) {
    const n = h[i]!.toLowerCase();
    if (n === 'host') continue;
    headers[n] = headers[n] === undefined ? h[i + 1]! : `${headers[n]},${h[i + 1]}`;
  }
  if (body !== null) headers['x-envoy-auth-partial-body'] = String(body.partial);
  const cl = headers['content-length'];
  return checkRequestFor(s.conn, {
    id: s.requestId, method: s.method, headers, path: s.path, host: s.authority, scheme: s.scheme, protocol: s.protocol,
    size: cl !== undefined && /^\d+$/.test(cl) ? Number(cl) : -1,
    // packAsBytes: the body as bytes (raw_body), else as UTF-8 text (body).
    ...(body !== null ? (p.packAsBytes ? { rawBody: body.bytes } : { body: body.bytes.toString('utf8') }) : {}),
  });
}

/**
 * Envoy's gRPC ext_authz answer: status OK allows — `ok_response.headers` set (or appended)
 * on the upstream request, `headers_to_remove` removed, `response_headers_to_add` added to
 * the response; any other status denies with `denied_response` (status, default 403;
 * headers; body).
 */
function onGrpcAnswer(s: HttpStream, r: CheckResponse): void {
  if ((r.status?.code ?? 0) === 0) {
    stats.ok.inc();
    const ok = r.okResponse;
    for (const o of ok?.headers ?? []) {
      const h = headerOption(o);
      if (h === null) continue;
      if (h.append) s.headers.push(h.name, h.value);
      else setHeader(s.headers, h.name, h.name, h.value);
    }
    for (const n of ok?.headersToRemove ?? []) {
      const name = n.toLowerCase();
      for (let i = s.headers.length - 2; i >= 0; i -= 2) if (s.headers[i]!.toLowerCase() === name) s.headers.splice(i, 2);
    }
    let toClient: HeaderList | null = null;
    for (const o of ok?.responseHeadersToAdd ?? []) { const h = headerOption(o); if (h !== null) (toClient ??= []).push(h.name, h.value); }
    if (toClient !== null) { (s.filterState ??= {}).extAuthzResponseHeaders = { headers: toClient } satisfies AllowHeaders; watchResponse(s, responseHeadersFilter); }
    continueFilters(s);
    return;
  }
  stats.denied.inc();
  const d = r.deniedResponse;
  const extra: HeaderList = [];
  for (const o of d?.headers ?? []) { const h = headerOption(o); if (h !== null && !NOT_TO_CLIENT.has(h.name)) extra.push(h.name, h.value); }
  const code = d?.status?.code ?? 0;
  sendLocalReply(s, code >= 200 && code <= 599 ? code : 403, d?.body ?? '', ResponseFlag.UAEX, 'ext_authz_denied', extra);
}

function checkGrpc(s: HttpStream, p: ExtAuthzProvider, cluster: ClusterRuntime, host: HostRuntime, body: CheckBody | null): void {
  checkOverGrpc({ cluster, host, authority: p.authority }, checkRequest(s, p, body), p.timeoutMs).then(
    (r) => { if (!s.completed) onGrpcAnswer(s, r); },
    (e: Error) => { if (!s.completed) onError(s, p, e.message); },
  );
}

function check(s: HttpStream, p: ExtAuthzProvider): void {
  const cluster = s.conn.proxy.clusters.get(p.cluster);
  if (cluster === undefined) { onError(s, p, `cluster ${p.cluster} does not exist (is the provider's service in the registry?)`); return; }
  if (p.maxRequestBytes > 0 && s.hasBody) {
    // includeRequestBodyInCheck: read the body (up to maxRequestBytes) first, as Envoy buffers it.
    const buffered = new BufferedBody(s, p.maxRequestBytes, (partial) => {
      if (s.completed) return;
      if (partial && !p.allowPartialMessage) {
        sendLocalReply(s, 413, 'Payload Too Large', 0, 'request_payload_too_large');
        return;
      }
      buffered.handOn();
      sendCheck(s, p, cluster, { bytes: buffered.forCheck(), partial });
    });
    buffered.start();
    return;
  }
  sendCheck(s, p, cluster, null);
}

function sendCheck(s: HttpStream, p: ExtAuthzProvider, cluster: ClusterRuntime, body: CheckBody | null): void {
  const send = (): void => {
    if (s.completed) return;
    const host = cluster.pick(null, null);
    if (host === null) { onError(s, p, `no healthy endpoint in ${p.cluster}`); return; }
    if (p.protocol === 'grpc') { checkGrpc(s, p, cluster, host, body); return; }
    const req = request({ host: host.address, port: host.port, method: s.method, path: `${p.pathPrefix}${s.path}`, headers: checkHeaders(s, p, body), agent, timeout: p.timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let n = 0;
      res.on('data', (c: Buffer) => { n += c.length; if (n <= 64 * 1024) chunks.push(c); });
      res.on('end', () => { if (!s.completed) onAnswer(s, p, res, Buffer.concat(chunks).toString('utf8')); });
      res.on('error', (e) => { if (!s.completed) onError(s, p, e.message); });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${p.timeoutMs} ms`)));
    req.on('error', (e) => { if (!s.completed) onError(s, p, e.message); });
    req.end(body?.bytes);
  };
  if (!cluster.ready) cluster.whenReady(send);
  else send();
}

/**
 * Envoy's ext_authz as Istio configures it for CUSTOM policies: requests a CUSTOM rule matches
 * are checked by the provider. `envoyExtAuthzHttp`: an HTTP request (method, path with
 * pathPrefix, Host, Authorization and the configured headers; the body with
 * includeRequestBodyInCheck); 200 allows (copying
 * headersToUpstreamOnAllow), any other status below 500 denies with the service's status, body
 * and headers. `envoyExtAuthzGrpc`: Authorization/Check (see onGrpcAnswer). Either way 5xx,
 * unreachable or timeout is an error (statusOnError, or allowed with failOpen); flag UAEX.
 */
export const extAuthzFilter: HttpFilter = {
  name: 'envoy.filters.http.ext_authz',
  onRequest(s) {
    const c = s.conn.chain.policies.rbac;
    if (c === null || c.custom === null) return FilterStatus.Continue;
    if (!anyMatch(c.custom, new AuthzView(s.conn, s, c.numTrustedProxies))) return FilterStatus.Continue;
    check(s, c.customProvider!);
    return FilterStatus.Stop;
  },
  explain: (s) => explainExtAuthz(s, checkHeaders),
};
