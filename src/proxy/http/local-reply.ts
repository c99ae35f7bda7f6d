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
  if (isGrpc(s)) { sendGrpcLocalReply(s, status, body !== '' ? body : details, extra, mutation); return; }
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

// ---------------------------------------------------------------- gRPC local replies

/** Envoy's Grpc::Utility::httpToGrpcStatus. */
function grpcStatusFor(http: number): number {
  switch (http) {
    case 400: return 13; // INTERNAL
    case 401: return 16; // UNAUTHENTICATED
    case 403: return 7; // PERMISSION_DENIED
    case 404: return 12; // UNIMPLEMENTED
    case 429: case 502: case 503: case 504: return 14; // UNAVAILABLE
    default: return 2; // UNKNOWN
  }
}

function isGrpc(s: HttpStream): boolean {
  const ct = s.header('content-type');
  return ct !== undefined && ct.startsWith('application/grpc');
}

/**
 * A local reply to a gRPC request is a gRPC "trailers-only" response, as Envoy sends it:
 * HTTP 200, the status mapped to grpc-status, the text in grpc-message (percent-encoded).
 */
function sendGrpcLocalReply(s: HttpStream, status: number, message: string, extra: HeaderList | null, mutation: HeaderMutation | null): void {
  s.responseCode = 200;
  const headers: HeaderList = ['content-type', 'application/grpc', 'grpc-status', String(grpcStatusFor(status)), 'grpc-message', encodeURIComponent(message), 'date', httpDate(), 'server', 'istio-envoy'];
  if (extra !== null) for (let i = 0; i < extra.length; i++) headers.push(extra[i]!);
  if (mutation !== null) applyHeaderMutation(headers, mutation);
  s.headersSent = true;
  s.codec.sendHeaders(s, 200, headers, true);
  completeStream(s);
}
