import { stripPort } from '../../compile/hosts.js';
import type { DirectResponseAction, RedirectAction } from '../../compile/snapshot.js';
import { sendLocalReply } from './local-reply.js';
import type { HttpStream } from './stream.js';

// A route's own answers: redirects and direct responses (Envoy's redirect and
// direct_response route actions), sent by the router after the filters.

const DEFAULT_PORT: Record<string, string> = { http: '80', https: '443' };

export function sendRedirect(s: HttpStream, a: RedirectAction): void {
  const scheme = a.scheme ?? s.scheme;
  let host = a.authority ?? s.authority;
  let port = '';
  const bare = stripPort(host);
  const hostPort = host.length > bare.length ? host.slice(bare.length + 1) : '';
  host = bare;
  if (a.port !== null) port = String(a.port);
  else if (a.derivePort === 'FROM_REQUEST_PORT') port = String(s.conn.listener.port);
  else if (a.derivePort === 'FROM_PROTOCOL_DEFAULT') port = '';
  else if (hostPort !== '' && !(a.scheme !== null && a.scheme !== s.scheme && hostPort === DEFAULT_PORT[s.scheme])) port = hostPort;
  if (port === DEFAULT_PORT[scheme]) port = '';
  let path = s.path;
  if (a.uri !== null) {
    const q = s.path.indexOf('?');
    path = a.uri.includes('?') || q < 0 ? a.uri : a.uri + s.path.slice(q);
  }
  const location = `${scheme}://${host}${port !== '' ? `:${port}` : ''}${path}`;
  sendLocalReply(s, a.code, '', 0, 'direct_response', ['location', location], s.route!.responseHeaders);
}

export function sendDirectResponse(s: HttpStream, a: DirectResponseAction): void {
  sendLocalReply(s, a.status, a.body, 0, 'direct_response', null, s.route!.responseHeaders);
}
