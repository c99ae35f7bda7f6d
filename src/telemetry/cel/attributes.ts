// Envoy's attribute vocabulary (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/advanced/attributes)
// over one finished HTTP stream or TCP session, for CEL expressions in Telemetry resources
// (access-log `filter.expression`, metric `tagOverrides` values).
//
// Each group is a small class whose getters read the stream when an expression asks, so an
// expression pays only for the attributes it names; `Attributes` is the activation (one per
// finished request, shared by every expression evaluated for it). A getter returning
// `undefined` means "attribute absent": CEL then fails with `No such key`, which the callers
// treat as Envoy does (a filter is false, a tag value is `unknown`).
//
// Integers are BigInt (CEL int), as the evaluator expects for fields declared `int`.

import type { Duration } from '@marcbachmann/cel-js/evaluator';
import { celEvaluatorModule } from '../../util/lazy-module.js';
import { eqLower, type HeaderList } from '../../proxy/http/headers.js';
import { HttpStream } from '../../proxy/http/stream.js';
import type { DownstreamConnection } from '../../proxy/http/stream.js';
import type { TcpSession } from '../../proxy/tcp/tcp-session.js';

/** What an expression is evaluated over: a finished HTTP exchange or TCP connection. */
export type Subject = HttpStream | TcpSession;

const empty = (v: string): string | undefined => (v === '' ? undefined : v);

/** `ip:port` as Envoy prints an address (`[ip]:port` for IPv6). */
export function addressString(ip: string, port: number): string | undefined {
  if (ip === '') return undefined;
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** Port of an `ip:port` / `[ip]:port` string, undefined when there is none. */
function portOf(address: string): bigint | undefined {
  const i = address.lastIndexOf(':');
  if (i < 0 || address.endsWith(']')) return undefined;
  const n = Number(address.slice(i + 1));
  return Number.isInteger(n) ? BigInt(n) : undefined;
}

/** A header list as a CEL map<string, string>: lower-case names, repeated values comma-joined. */
function headerMap(h: HeaderList): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i < h.length; i += 2) {
    const k = h[i]!.toLowerCase();
    const prev = m.get(k);
    m.set(k, prev === undefined ? h[i + 1]! : `${prev},${h[i + 1]!}`);
  }
  return m;
}

function headerValue(h: HeaderList, lower: string): string | undefined {
  for (let i = 0; i < h.length; i += 2) if (eqLower(h[i]!, lower)) return h[i + 1];
  return undefined;
}

/** `request.auth`: the verified JWT (Istio's request.auth.* vocabulary), absent without one. */
export class AuthAttributes {
  readonly #s: HttpStream;
  constructor(s: HttpStream) { this.#s = s; }
  /** `iss/sub` of the verified token. */
  get principal(): string | undefined { return empty(this.#s.requestPrincipal); }
  get claims(): Readonly<Record<string, unknown>> | undefined { return this.#s.jwtPayload ?? undefined; }
  get audiences(): string[] | undefined {
    const aud = this.#s.jwtPayload?.aud;
    return typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud.map(String) : undefined;
  }
  get presenter(): string | undefined {
    const azp = this.#s.jwtPayload?.azp;
    return typeof azp === 'string' ? azp : undefined;
  }
}

export class RequestAttributes {
  readonly #s: HttpStream;
  #headers: Map<string, string> | null = null;
  constructor(s: HttpStream) { this.#s = s; }
  /** Path with query, as received (before a rewrite). */
  get path(): string { return this.#s.originalPath !== '' ? this.#s.originalPath : this.#s.path; }
  get url_path(): string {
    const p = this.path;
    const q = p.indexOf('?');
    return q < 0 ? p : p.slice(0, q);
  }
  get host(): string | undefined { return empty(this.#s.authority); }
  get scheme(): string { return this.#s.scheme; }
  get method(): string | undefined { return empty(this.#s.method); }
  get headers(): Map<string, string> { return (this.#headers ??= headerMap(this.#s.headers)); }
  get referer(): string | undefined { return headerValue(this.#s.headers, 'referer'); }
  get useragent(): string | undefined { return headerValue(this.#s.headers, 'user-agent'); }
  get time(): Date { return new Date(this.#s.startWall); }
  get id(): string | undefined { return empty(this.#s.requestId); }
  get protocol(): string { return this.#s.protocol; }
  get duration(): Duration { return celEvaluatorModule().Duration.fromMilliseconds(performance.now() - this.#s.startMs); }
  get size(): bigint { return BigInt(this.#s.bytesReceived); }
  get total_size(): bigint { return BigInt(this.#s.bytesReceived); }
  get query(): string {
    const p = this.path;
    const q = p.indexOf('?');
    return q < 0 ? '' : p.slice(q + 1);
  }
  get auth(): AuthAttributes | undefined {
    return this.#s.requestPrincipal === '' && this.#s.jwtPayload === null ? undefined : new AuthAttributes(this.#s);
  }
}

export class ResponseAttributes {
  readonly #s: Subject;
  constructor(s: Subject) { this.#s = s; }
  get code(): bigint | undefined { return this.#s instanceof HttpStream && this.#s.responseCode > 0 ? BigInt(this.#s.responseCode) : undefined; }
  get code_details(): string | undefined { return empty(this.#s.details); }
  /** Envoy's response flag bits (Sluice keeps them in Envoy's bit order). */
  get flags(): bigint { return BigInt(this.#s.responseFlags); }
  get size(): bigint | undefined { return this.#s instanceof HttpStream ? BigInt(this.#s.bytesSent) : undefined; }
  get total_size(): bigint | undefined { return this.size; }
  get grpc_status(): bigint | undefined {
    if (!(this.#s instanceof HttpStream)) return undefined;
    const ct = headerValue(this.#s.headers, 'content-type');
    return ct !== undefined && ct.startsWith('application/grpc') && this.#s.responseCode === 200 ? 0n : undefined;
  }
}

export class PeerAttributes {
  readonly #conn: DownstreamConnection;
  readonly #local: boolean;
  constructor(conn: DownstreamConnection, local: boolean) { this.#conn = conn; this.#local = local; }
  get address(): string | undefined {
    const c = this.#conn;
    return this.#local ? addressString(c.localAddress, c.localPort) : addressString(c.remoteAddress, c.remotePort);
  }
  get port(): bigint { return BigInt(this.#local ? this.#conn.localPort : this.#conn.remotePort); }
}

export class ConnectionAttributes {
  readonly #s: Subject;
  constructor(s: Subject) { this.#s = s; }
  get mtls(): boolean { return this.#s.conn.tls && this.#s.conn.peerCertPem !== ''; }
  get requested_server_name(): string | undefined { return empty(this.#s.conn.sni); }
  get tls_version(): string | undefined { return empty(this.#s.conn.tlsVersion ?? ''); }
  get subject_peer_certificate(): string | undefined { return empty(this.#s.conn.peerSubject); }
  get uri_san_peer_certificate(): string | undefined { return this.#s.conn.peerUriSans[0]; }
  get dns_san_peer_certificate(): string | undefined { return this.#s.conn.peerDnsSans?.[0]; }
  get sha256_peer_certificate_digest(): string | undefined { return empty(this.#s.conn.peerCertSha256 ?? ''); }
  get termination_details(): string | undefined { return this.#s instanceof HttpStream ? empty(this.#s.connectionTerminationDetails) : undefined; }
}

export class UpstreamAttributes {
  readonly #s: Subject;
  constructor(s: Subject) { this.#s = s; }
  get address(): string | undefined { return empty(this.#s.upstreamHost); }
  get port(): bigint | undefined { return this.#s.upstreamHost === '' ? undefined : portOf(this.#s.upstreamHost); }
  get local_address(): string | undefined { return empty(this.#s.upstreamLocalAddress); }
  get transport_failure_reason(): string | undefined { return empty(this.#s.upstreamTransportFailureReason); }
}

export class XdsAttributes {
  readonly #s: Subject;
  constructor(s: Subject) { this.#s = s; }
  get cluster_name(): string | undefined { return empty(this.#s.clusterName); }
  get route_name(): string | undefined { return this.#s.route?.name; }
  get listener_direction(): bigint { return this.#s.conn.listener.name === 'virtualInbound' ? 1n : 2n; }
  get filter_chain_name(): string { return this.#s.conn.chain.name; }
}

/**
 * The CEL activation for one finished request or connection: `request`, `response`,
 * `connection`, `source`, `destination`, `upstream`, `xds`, each built on first use.
 */
export class Attributes {
  readonly #s: Subject;
  #request: RequestAttributes | undefined | null = null;
  #response: ResponseAttributes | null = null;
  constructor(s: Subject) { this.#s = s; }
  get request(): RequestAttributes | undefined {
    if (this.#request === null) this.#request = this.#s instanceof HttpStream ? new RequestAttributes(this.#s) : undefined;
    return this.#request;
  }
  get response(): ResponseAttributes { return (this.#response ??= new ResponseAttributes(this.#s)); }
  get connection(): ConnectionAttributes { return new ConnectionAttributes(this.#s); }
  get source(): PeerAttributes { return new PeerAttributes(this.#s.conn, false); }
  get destination(): PeerAttributes { return new PeerAttributes(this.#s.conn, true); }
  get upstream(): UpstreamAttributes { return new UpstreamAttributes(this.#s); }
  get xds(): XdsAttributes { return new XdsAttributes(this.#s); }
}
