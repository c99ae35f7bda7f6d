import { getHeader } from '../proxy/http/headers.js';
import { formatResponseFlags } from '../proxy/http/response-flags.js';
import type { HttpStream } from '../proxy/http/stream.js';
import type { TcpSession } from '../proxy/tcp/tcp-session.js';

// meshConfig.accessLogFormat: an Envoy text format (`%COMMAND(arg):max%` operators, anything
// else literal), compiled once into a list of field getters; a line is one pass over it.
// Istio's default line uses a fixed set of operators; an auditor's format typically adds
// %DOWNSTREAM_PEER_URI_SAN% (the caller's SPIFFE identity on an mTLS hop), e.g.
//   [%START_TIME%] %DOWNSTREAM_PEER_URI_SAN% "%REQ(:AUTHORITY)%" %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %UPSTREAM_HOST% %REQUESTED_SERVER_NAME%

type Getter<T> = (s: T) => string;

interface Field {
  readonly http: Getter<HttpStream>;
  readonly tcp: Getter<TcpSession>;
}

export interface AccessLogFormat {
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
    case 'RESPONSE_CODE': return { http: (s) => String(s.responseCode), tcp: () => '0' };
    case 'RESPONSE_FLAGS': return { http: (s) => formatResponseFlags(s.responseFlags), tcp: (s) => formatResponseFlags(s.responseFlags) };
    case 'RESPONSE_CODE_DETAILS': return { http: (s) => dash(s.details), tcp: (s) => dash(s.details) };
    case 'CONNECTION_TERMINATION_DETAILS': return { http: (s) => dash(s.connectionTerminationDetails), tcp: () => '-' };
    case 'UPSTREAM_TRANSPORT_FAILURE_REASON': return { http: (s) => dash(s.upstreamTransportFailureReason), tcp: (s) => dash(s.upstreamTransportFailureReason) };
    case 'BYTES_RECEIVED': return { http: (s) => String(s.bytesReceived), tcp: (s) => String(s.bytesReceived) };
    case 'BYTES_SENT': return { http: (s) => String(s.bytesSent), tcp: (s) => String(s.bytesSent) };
    case 'DURATION': return { http: (s) => duration(s.startMs), tcp: (s) => duration(s.startMs) };
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
    case 'REQUEST_DURATION': case 'RESPONSE_DURATION': return { http: (s) => duration(s.startMs), tcp: () => '-' };
    case 'HOSTNAME': { const h = process.env.HOSTNAME ?? 'sluice'; return literal(h); }
    default: return null;
  }
}

function truncate(f: Field, max: number): Field {
  return { http: (s) => f.http(s).slice(0, max), tcp: (s) => f.tcp(s).slice(0, max) };
}

const OPERATOR = /%([A-Z_]+)(?:\(([^)]*)\))?(?::(\d+))?%/y;

/** Compiles an Envoy text format; unknown operators print `-` and are listed in `unknown`. */
export function compileAccessLogFormat(text: string): AccessLogFormat {
  const fields: Field[] = [];
  const unknown: string[] = [];
  let lit = '';
  let i = 0;
  const fmt = text.endsWith('\n') ? text : `${text}\n`;
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
        i = OPERATOR.lastIndex;
        continue;
      }
    }
    lit += c;
    i++;
  }
  if (lit !== '') fields.push(literal(lit));
  const httpGetters = fields.map((f) => f.http);
  const tcpGetters = fields.map((f) => f.tcp);
  return {
    text,
    unknown,
    http(s) { let out = ''; for (let k = 0; k < httpGetters.length; k++) out += httpGetters[k]!(s); return out; },
    tcp(s) { let out = ''; for (let k = 0; k < tcpGetters.length; k++) out += tcpGetters[k]!(s); return out; },
  };
}
