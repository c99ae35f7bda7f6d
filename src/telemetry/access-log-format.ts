import { getHeader } from '../proxy/http/headers.js';
import { formatResponseFlags } from '../proxy/http/response-flags.js';
import type { HttpStream } from '../proxy/http/stream.js';
import type { TcpSession } from '../proxy/tcp/tcp-session.js';
import { transportFailureReason } from './access-log.js';

// meshConfig.accessLogFormat: an Envoy text format (`%COMMAND(arg):max%` operators, anything
// else literal), compiled once into a list of field getters; a line is one pass over it.
// Istio's default line uses a fixed set of operators; an auditor's format typically adds
// %DOWNSTREAM_PEER_URI_SAN% (the caller's SPIFFE identity on an mTLS hop), e.g.
//   [%START_TIME%] %DOWNSTREAM_PEER_URI_SAN% "%REQ(:AUTHORITY)%" %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %UPSTREAM_HOST% %REQUESTED_SERVER_NAME%

type Getter<T> = (s: T) => string;

interface Field {
  readonly http: Getter<HttpStream>;
  readonly tcp: Getter<TcpSession>;
  /** How a JSON format types the value when the operator is a label's whole value. */
  readonly json?: 'number' | 'always-string';
}

export interface AccessLogFormat {
  /** The format as configured (JSON formats: their labels as a JSON object). */
  readonly text: string;
  /** Operators Sluice does not know: printed as `-` (reported once when compiled). */
  readonly unknown: readonly string[];
  http(s: HttpStream): string;
  tcp(s: TcpSession): string;
}

const dash = (v: string | undefined | null): string => (v === undefined || v === null || v === '' ? '-' : v);
const addr = (a: string, p: number): string => (a === '' ? '-' : a.includes(':') ? `[${a}]:${p}` : `${a}:${p}`);
const duration = (startMs: number): string => String(Math.round(performance.now() - startMs));
const uriSan = (sans: readonly string[]): string => dash(sans[0]);

function literal(text: string): Field {
  return { http: () => text, tcp: () => text };
}

/** %REQ(X?Y)%: request header X, else Y; pseudo-headers :method, :path, :authority, :scheme. */
function requestHeader(arg: string): Field {
  const names = arg.split('?').map((n) => n.trim().toLowerCase());
  const one = (s: HttpStream, n: string): string | undefined => {
    switch (n) {
      case ':method': return s.method;
      case ':path': return s.path;
      case ':authority': case 'host': return s.authority;
      case ':scheme': return s.scheme;
      case 'x-envoy-original-path': return s.originalPath === '' ? undefined : s.originalPath;
      default: return getHeader(s.headers, n);
    }
  };
  return {
    http: (s) => { for (const n of names) { const v = one(s, n); if (v !== undefined && v !== '') return v; } return '-'; },
    tcp: (s) => (names.includes(':authority') ? dash(s.authority) : '-'),
  };
}

function operator(name: string, arg: string | null): Field | null {
  switch (name) {
    case 'START_TIME': return { http: (s) => new Date(s.startWall).toISOString(), tcp: (s) => new Date(s.startWall).toISOString() };
    case 'REQ': return requestHeader(arg ?? '');
    case 'RESP': return { http: (s) => (arg?.toLowerCase() === 'x-envoy-upstream-service-time' && s.upstreamServiceTimeMs >= 0 ? String(s.upstreamServiceTimeMs) : '-'), tcp: () => '-' };
    case 'PROTOCOL': return { http: (s) => s.protocol, tcp: () => '-' };
    case 'RESPONSE_CODE': return { http: (s) => String(s.responseCode), tcp: () => '0', json: 'number' };
    case 'RESPONSE_FLAGS': return { http: (s) => formatResponseFlags(s.responseFlags), tcp: (s) => formatResponseFlags(s.responseFlags), json: 'always-string' };
    case 'RESPONSE_CODE_DETAILS': return { http: (s) => dash(s.details), tcp: (s) => dash(s.details) };
    case 'CONNECTION_TERMINATION_DETAILS': return { http: (s) => dash(s.connectionTerminationDetails), tcp: () => '-' };
    case 'UPSTREAM_TRANSPORT_FAILURE_REASON': return { http: (s) => transportFailureReason(s.upstreamTransportFailureReason), tcp: (s) => transportFailureReason(s.upstreamTransportFailureReason) };
    case 'BYTES_RECEIVED': return { http: (s) => String(s.bytesReceived), tcp: (s) => String(s.bytesReceived), json: 'number' };
    case 'BYTES_SENT': return { http: (s) => String(s.bytesSent), tcp: (s) => String(s.bytesSent), json: 'number' };
    case 'DURATION': return { http: (s) => duration(s.startMs), tcp: (s) => duration(s.startMs), json: 'number' };
    case 'UPSTREAM_HOST': return { http: (s) => dash(s.upstreamHost), tcp: (s) => dash(s.upstreamHost) };
    case 'UPSTREAM_CLUSTER': case 'UPSTREAM_CLUSTER_RAW': return { http: (s) => dash(s.clusterName), tcp: (s) => dash(s.clusterName) };
    case 'UPSTREAM_LOCAL_ADDRESS': return { http: (s) => dash(s.upstreamLocalAddress), tcp: (s) => dash(s.upstreamLocalAddress) };
    case 'DOWNSTREAM_LOCAL_ADDRESS': return { http: (s) => addr(s.conn.localAddress, s.conn.localPort), tcp: (s) => addr(s.conn.localAddress, s.conn.localPort) };
    case 'DOWNSTREAM_REMOTE_ADDRESS': case 'DOWNSTREAM_DIRECT_REMOTE_ADDRESS': return { http: (s) => addr(s.conn.remoteAddress, s.conn.remotePort), tcp: (s) => addr(s.conn.remoteAddress, s.conn.remotePort) };
    case 'DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT': case 'DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT': return { http: (s) => dash(s.conn.remoteAddress), tcp: (s) => dash(s.conn.remoteAddress) };
    case 'REQUESTED_SERVER_NAME': return { http: (s) => dash(s.conn.sni), tcp: (s) => dash(s.conn.sni) };
    case 'ROUTE_NAME': return { http: (s) => dash(s.route?.name), tcp: (s) => dash(s.route?.name) };
    case 'DOWNSTREAM_PEER_URI_SAN': return { http: (s) => uriSan(s.conn.peerUriSans), tcp: (s) => uriSan(s.conn.peerUriSans) };
    case 'DOWNSTREAM_PEER_SUBJECT': return { http: (s) => dash(s.conn.peerSubject), tcp: (s) => dash(s.conn.peerSubject) };
    case 'DOWNSTREAM_TLS_VERSION': case 'DOWNSTREAM_PEER_CERT': return null;
    case 'REQUEST_DURATION': case 'RESPONSE_DURATION': return { http: (s) => duration(s.startMs), tcp: () => '-', json: 'number' };
    case 'HOSTNAME': { const h = process.env.HOSTNAME ?? 'sluice'; return literal(h); }
    default: return null;
  }
}

function truncate(f: Field, max: number): Field {
  return { http: (s) => f.http(s).slice(0, max), tcp: (s) => f.tcp(s).slice(0, max), ...(f.json !== undefined ? { json: f.json } : {}) };
}

const OPERATOR = /%([A-Z_]+)(?:\(([^)]*)\))?(?::(\d+))?%/y;

interface ParsedFormat {
  readonly fields: Field[];
  readonly unknown: string[];
  /** The field when the format is exactly one operator (JSON typing), else null. */
  readonly sole: Field | null;
}

/** Splits a format into literal and operator fields; unknown operators become `-`. */
function parseFormat(fmt: string): ParsedFormat {
  const fields: Field[] = [];
  const unknown: string[] = [];
  let lit = '';
  let i = 0;
  let operators = 0;
  while (i < fmt.length) {
    const c = fmt[i]!;
    if (c === '%') {
      OPERATOR.lastIndex = i;
      const m = OPERATOR.exec(fmt);
      if (m !== null) {
        if (lit !== '') { fields.push(literal(lit)); lit = ''; }
        let f = operator(m[1]!, m[2] ?? null);
        if (f === null) { unknown.push(m[0]); f = literal('-'); }
        fields.push(m[3] !== undefined ? truncate(f, Number(m[3])) : f);
        operators++;
        i = OPERATOR.lastIndex;
        continue;
      }
    }
    lit += c;
    i++;
  }
  if (lit !== '') fields.push(literal(lit));
  return { fields, unknown, sole: fields.length === 1 && operators === 1 ? fields[0]! : null };
}

/** Compiles an Envoy text format; unknown operators print `-` and are listed in `unknown`. */
export function compileAccessLogFormat(text: string): AccessLogFormat {
  const { fields, unknown } = parseFormat(text.endsWith('\n') ? text : `${text}\n`);
  const httpGetters = fields.map((f) => f.http);
  const tcpGetters = fields.map((f) => f.tcp);
  return {
    text,
    unknown,
    http(s) { let out = ''; for (let k = 0; k < httpGetters.length; k++) out += httpGetters[k]!(s); return out; },
    tcp(s) { let out = ''; for (let k = 0; k < tcpGetters.length; k++) out += tcpGetters[k]!(s); return out; },
  };
}

/**
 * Istio's default JSON access log (meshConfig.accessLogEncoding: JSON without accessLogFormat,
 * or a JSON provider without labels): EnvoyJSONLogFormatIstio.
 */
export const ISTIO_JSON_LABELS: Readonly<Record<string, string>> = Object.freeze({
  start_time: '%START_TIME%',
  route_name: '%ROUTE_NAME%',
  method: '%REQ(:METHOD)%',
  path: '%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%',
  protocol: '%PROTOCOL%',
  response_code: '%RESPONSE_CODE%',
  response_flags: '%RESPONSE_FLAGS%',
  response_code_details: '%RESPONSE_CODE_DETAILS%',
  connection_termination_details: '%CONNECTION_TERMINATION_DETAILS%',
  bytes_received: '%BYTES_RECEIVED%',
  bytes_sent: '%BYTES_SENT%',
  duration: '%DURATION%',
  upstream_service_time: '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%',
  x_forwarded_for: '%REQ(X-FORWARDED-FOR)%',
  user_agent: '%REQ(USER-AGENT)%',
  request_id: '%REQ(X-REQUEST-ID)%',
  authority: '%REQ(:AUTHORITY)%',
  upstream_host: '%UPSTREAM_HOST%',
  upstream_cluster: '%UPSTREAM_CLUSTER_RAW%',
  upstream_local_address: '%UPSTREAM_LOCAL_ADDRESS%',
  downstream_local_address: '%DOWNSTREAM_LOCAL_ADDRESS%',
  downstream_remote_address: '%DOWNSTREAM_REMOTE_ADDRESS%',
  requested_server_name: '%REQUESTED_SERVER_NAME%',
  upstream_transport_failure_reason: '%UPSTREAM_TRANSPORT_FAILURE_REASON%',
});

type JsonValue<T> = (s: T) => string;

/** One label's value as JSON text: a number, null (operator had no value), or a string. */
function jsonValue<T>(p: ParsedFormat, pick: (f: Field) => Getter<T>): JsonValue<T> {
  const sole = p.sole;
  if (sole !== null) {
    const g = pick(sole);
    if (sole.json === 'number') return (s) => { const v = g(s); return v === '-' || v === '' ? 'null' : v; };
    if (sole.json === 'always-string') return (s) => JSON.stringify(g(s));
    return (s) => { const v = g(s); return v === '-' ? 'null' : JSON.stringify(v); };
  }
  const gs = p.fields.map(pick);
  return (s) => { let out = ''; for (let k = 0; k < gs.length; k++) out += gs[k]!(s); return JSON.stringify(out); };
}

/**
 * Compiles a JSON access log format (Envoy json_format / Telemetry `logFormat.labels`): one
 * object per line, keys sorted as Envoy prints a Struct, each value an Envoy text format. A
 * value that is exactly one operator is typed as Envoy types it: numbers for codes, bytes and
 * durations, null when the operator has no value.
 */
export function compileJsonAccessLogFormat(labels: Readonly<Record<string, string>>): AccessLogFormat {
  const keys = Object.keys(labels).sort();
  const unknown: string[] = [];
  const prefixes: string[] = [];
  const http: JsonValue<HttpStream>[] = [];
  const tcp: JsonValue<TcpSession>[] = [];
  keys.forEach((k, i) => {
    const p = parseFormat(String(labels[k]));
    unknown.push(...p.unknown);
    prefixes.push(`${i === 0 ? '{' : ','}${JSON.stringify(k)}:`);
    http.push(jsonValue(p, (f) => f.http));
    tcp.push(jsonValue(p, (f) => f.tcp));
  });
  const close = keys.length === 0 ? '{}\n' : '}\n';
  return {
    text: JSON.stringify(labels),
    unknown,
    http(s) { let out = ''; for (let k = 0; k < http.length; k++) out += prefixes[k]! + http[k]!(s); return out + close; },
    tcp(s) { let out = ''; for (let k = 0; k < tcp.length; k++) out += prefixes[k]! + tcp[k]!(s); return out + close; },
  };
}
