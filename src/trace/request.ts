import type { TraceRequest, TraceScheme } from './types.js';

export interface TraceRequestOptions {
  method: string;
  url: string;
  /** `name: value` or `name:value` strings, as curl's -H. */
  headers?: readonly string[];
  sni?: string;
  sourceIp?: string;
  clientCertPem?: string | null;
  /** Bearer token sent as `authorization: Bearer <jwt>`. */
  jwt?: string;
  http2?: boolean;
  draw?: number;
  hasBody?: boolean;
}

const DEFAULT_PORT: Record<TraceScheme, number | null> = { http: 80, https: 443, tls: 443, tcp: null };

/** A user error in the request given to trace (bad URL, header, draw). */
export class TraceRequestError extends Error {}

/**
 * `METHOD URL` plus options → TraceRequest. The URL is split by hand, not with `new URL`,
 * so the path reaches the matchers exactly as written (no dot-segment or percent normalising,
 * which Envoy does not do by default either).
 */
export function parseTraceRequest(o: TraceRequestOptions): TraceRequest {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)([^#]*)/.exec(o.url.trim());
  if (m === null) throw new TraceRequestError(`${o.url}: expected a URL like https://api.example.com/path (schemes http, https, tls, tcp)`);
  const scheme = m[1]!.toLowerCase();
  if (scheme !== 'http' && scheme !== 'https' && scheme !== 'tls' && scheme !== 'tcp') {
    throw new TraceRequestError(`${o.url}: scheme ${scheme} is not traced; use http, https, tls (TLS passthrough by SNI) or tcp`);
  }
  const authorityPart = m[2]!;
  if (authorityPart === '') throw new TraceRequestError(`${o.url}: the URL has no host`);
  const { host, port: explicitPort } = splitHostPort(authorityPart, o.url);
  const port = explicitPort ?? DEFAULT_PORT[scheme];
  if (port === null) throw new TraceRequestError(`${o.url}: a tcp:// URL needs a port (tcp://db.example.com:5432)`);
  let path = m[3]!;
  if (path === '') path = '/';
  else if (path.startsWith('?')) path = `/${path}`;
  const headers: [string, string][] = [];
  let authority = authorityPart;
  for (const raw of o.headers ?? []) {
    const i = raw.indexOf(':', raw.startsWith(':') ? 1 : 0);
    if (i <= 0) throw new TraceRequestError(`-H ${raw}: expected name:value`);
    const name = raw.slice(0, i).trim();
    const value = raw.slice(i + 1).trim();
    if (name === '' || /[\s:]/.test(name.replace(/^:/, ''))) throw new TraceRequestError(`-H ${raw}: "${name}" is not a header name`);
    const lower = name.toLowerCase();
    if (lower === 'host' || lower === ':authority') { authority = value; continue; }
    headers.push([name, value]);
  }
  if (o.jwt !== undefined && o.jwt !== '') headers.push(['authorization', `Bearer ${o.jwt}`]);
  const draw = o.draw ?? 0;
  if (!(draw >= 0 && draw < 1)) throw new TraceRequestError(`--draw ${draw}: expected a number in [0, 1)`);
  return Object.freeze({
    method: o.method.toUpperCase(),
    scheme,
    host: host.toLowerCase(),
    port,
    path,
    authority,
    headers: Object.freeze(headers.map((h) => Object.freeze(h) as readonly [string, string])),
    sni: (o.sni ?? (scheme === 'https' || scheme === 'tls' ? host : '')).toLowerCase(),
    sourceIp: o.sourceIp ?? '127.0.0.1',
    clientCertPem: o.clientCertPem ?? null,
    http2: o.http2 === true,
    draw,
    hasBody: o.hasBody === true,
  });
}

function splitHostPort(a: string, url: string): { host: string; port: number | null } {
  let host = a;
  let portText = '';
  if (a.startsWith('[')) {
    const end = a.indexOf(']');
    host = a.slice(0, end + 1);
    if (a.charAt(end + 1) === ':') portText = a.slice(end + 2);
  } else {
    const i = a.lastIndexOf(':');
    if (i >= 0) { host = a.slice(0, i); portText = a.slice(i + 1); }
  }
  if (portText === '') return { host, port: null };
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new TraceRequestError(`${url}: port ${portText} is not a port number`);
  return { host, port };
}

/** `GET https://x/y -H a:b` as a one-line command, for reports. */
export function describeRequest(r: TraceRequest): string {
  const defaultPort = DEFAULT_PORT[r.scheme];
  const hostPart = r.port === defaultPort ? r.host : `${r.host}:${r.port}`;
  const parts = [`${r.method} ${r.scheme}://${hostPart}${r.scheme === 'http' || r.scheme === 'https' ? r.path : ''}`];
  if (r.authority !== hostPart && r.authority !== r.host) parts.push(`-H host:${r.authority}`);
  for (const [n, v] of r.headers) parts.push(`-H ${n}:${v}`);
  if ((r.scheme === 'https' || r.scheme === 'tls') && r.sni !== r.host) parts.push(`--sni ${r.sni}`);
  return parts.join(' ');
}
