import type { HeaderMutation } from '../../compile/header-mutation.js';
import type { HeaderList } from './headers.js';
import { applyHeaderMutation } from './header-ops.js';
import type { HttpStream } from './stream.js';

/** Marks the stream complete exactly once and reports it to telemetry. */
export function completeStream(s: HttpStream): void {
  if (s.completed) return;
  s.completed = true;
  s.onDrain = null;
  s.onAbort = null;
  s.conn.proxy.onStreamComplete(s);
}

// The date header is formatted once per second, not per response.
let dateSecond = 0;
let dateValue = '';
export function httpDate(): string {
  const now = Date.now();
  const sec = (now / 1000) | 0;
  if (sec !== dateSecond) { dateSecond = sec; dateValue = new Date(now).toUTCString(); }
  return dateValue;
}

/**
 * A response made by the proxy itself (Envoy's sendLocalReply): status, text body, response
 * flag and details, with the route's response header changes applied as Envoy does.
 */
export function sendLocalReply(s: HttpStream, status: number, body: string, flag: number, details: string, extra: HeaderList | null = null, mutation: HeaderMutation | null = null): void {
  if (s.completed) return;
  s.responseFlags |= flag;
  s.details = details;
  if (s.headersSent) {
    // Too late for a status: the client already has headers. Abort the stream.
    s.codec.reset(s);
    completeStream(s);
    return;
  }
  s.responseCode = status;
  const headers: HeaderList = [];
  const bodyBuf = body === '' ? null : Buffer.from(body, 'utf8');
  if (bodyBuf !== null) headers.push('content-type', 'text/plain', 'content-length', String(bodyBuf.length));
  else if (status !== 204 && status !== 304 && !(status >= 100 && status < 200)) headers.push('content-length', '0');
  headers.push('date', httpDate(), 'server', 'istio-envoy');
  if (extra !== null) for (let i = 0; i < extra.length; i++) headers.push(extra[i]!);
  if (mutation !== null) applyHeaderMutation(headers, mutation);
  s.headersSent = true;
  const noBody = bodyBuf === null || s.method === 'HEAD';
  s.codec.sendHeaders(s, status, headers, noBody);
  if (!noBody) {
    s.bytesSent += bodyBuf!.length;
    s.codec.sendData(s, bodyBuf!);
    s.codec.sendEnd(s, null);
  }
  completeStream(s);
}
