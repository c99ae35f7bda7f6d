// The HTTP connection manager timeouts an EnvoyFilter MERGE can set (the seed's
// `gateway-performance`): `idle_timeout` (close a connection that has had no request for that
// long; Envoy/Istio default 1 h; 0 disables) and `max_connection_duration` (after that long,
// drain: HTTP/1.1 answers the next response with `connection: close` and closes, an idle
// connection closes at once; HTTP/2 sends GOAWAY and closes when its streams are done).

import type { ServerHttp2Session } from 'node:http2';
import type { Socket } from 'node:net';
import { DEFAULT_LISTENER_POLICIES } from '../../../compile/policies.js';
import type { DownstreamConnection } from '../../http/stream.js';

const draining = new WeakSet<object>();

/** An HTTP/1.1 connection past its max_connection_duration: its next response closes it. */
export function isConnectionDraining(socket: object): boolean {
  return draining.has(socket);
}

function onDurationElapsed(socket: Socket): void {
  draining.add(socket);
  // No request in flight: close now (Envoy closes an idle connection on drain).
  if ((socket as Socket & { _httpMessage?: unknown })._httpMessage == null) socket.end();
}

/**
 * Applies the chain's HCM timeouts to an HTTP/1.1 connection served by node:http.
 * `keepAliveMs` is the server-wide keep-alive timeout node:http re-arms between requests; for
 * this socket it is replaced by the chain's idle_timeout.
 */
export function limitHttp1Connection(socket: Socket, conn: DownstreamConnection, keepAliveMs: number): void {
  const p = conn.chain.policies;
  if (p.idleTimeoutMs !== DEFAULT_LISTENER_POLICIES.idleTimeoutMs) {
    const idle = p.idleTimeoutMs;
    const orig = socket.setTimeout;
    socket.setTimeout = function (this: Socket, ms: number, cb?: () => void): Socket {
      // node:http arms keepAliveTimeout (plus a small buffer in Node 20) between requests.
      return orig.call(this, ms >= keepAliveMs && ms <= keepAliveMs + 5000 ? idle : ms, cb);
    } as Socket['setTimeout'];
    // Not armed here: node:http arms it once a response is done and disarms it when the next
    // request starts, so a long request is never cut by the idle timeout (as in Envoy).
  }
  if (p.maxConnectionDurationMs > 0) {
    const t = setTimeout(onDurationElapsed, p.maxConnectionDurationMs, socket);
    t.unref();
    socket.once('close', () => clearTimeout(t));
  }
}

/** The same for an HTTP/2 session: idle = no frames for idle_timeout; duration → GOAWAY. */
export function limitHttp2Session(session: ServerHttp2Session, conn: DownstreamConnection): void {
  const p = conn.chain.policies;
  if (p.idleTimeoutMs !== DEFAULT_LISTENER_POLICIES.idleTimeoutMs) session.setTimeout(p.idleTimeoutMs, () => session.close());
  if (p.maxConnectionDurationMs > 0) {
    const t = setTimeout(() => { if (!session.closed) { session.goaway(); session.close(); } }, p.maxConnectionDurationMs);
    t.unref();
    session.once('close', () => clearTimeout(t));
  }
}
