import type { Duplex } from 'node:stream';
import type { Mirror } from '../../compile/snapshot.js';
import type { ClusterManager } from '../upstream/cluster-manager.js';
import type { Http1Connection, UpstreamExchange, UpstreamResetReason } from '../upstream/http1-connection.js';
import type { Http1Pool, PoolWaiter } from '../upstream/http1-pool.js';
import type { HeaderList } from './headers.js';

/**
 * A mirrored request (Envoy's request shadowing): fire and forget to the mirror cluster with
 * `-shadow` appended to the host; the response is read and dropped, failures are ignored.
 */
class ShadowRequest implements PoolWaiter, UpstreamExchange {
  readonly noResponseBody: boolean;
  readonly #head: Buffer;
  readonly #body: Buffer | null;
  #pool: Http1Pool | null = null;

  constructor(method: string, head: Buffer, body: Buffer | null) {
    this.noResponseBody = method === 'HEAD';
    this.#head = head;
    this.#body = body;
  }

  start(pool: Http1Pool): void {
    this.#pool = pool;
    pool.acquire(this);
  }

  onPoolReady(conn: Http1Connection): void {
    conn.dispatch(this, this.#head, this.#body, true);
  }

  onPoolFailure(_r: UpstreamResetReason, _d: string): void {}
  onResponseHeaders(_s: number, _h: HeaderList, _u: boolean): void {}
  onResponseData(_c: Buffer): void {}
  onResponseComplete(_t: HeaderList | null): void {}
  onUpstreamReset(_r: UpstreamResetReason, _d: string): void {}
  onUpgrade(socket: Duplex): void {
    socket.destroy();
  }
  onRequestDrain(): void {}
}

/** `features.test:8080` → `features.test-shadow:8080`. */
export function shadowHost(authority: string): string {
  const colon = authority.lastIndexOf(':');
  if (colon > 0 && authority.indexOf(':') === colon) return `${authority.slice(0, colon)}-shadow${authority.slice(colon)}`;
  return `${authority}-shadow`;
}

/**
 * Sends copies per the route's mirror policies. `requestLine` and `headerBlock` are the
 * request head without its host line; `body` is the whole body (already framed) or null.
 */
export function sendMirrors(clusters: ClusterManager, mirrors: readonly Mirror[], method: string, requestLine: string, authority: string, headerBlock: string, body: Buffer | null): void {
  for (const m of mirrors) {
    if (m.fractionPerMillion < 1_000_000 && Math.random() * 1_000_000 >= m.fractionPerMillion) continue;
    const cluster = clusters.get(m.cluster);
    if (cluster === undefined || !cluster.ready) continue;
    const host = cluster.pick(null, null);
    if (host === null) continue;
    const head = Buffer.from(`${requestLine}host: ${shadowHost(authority)}\r\n${headerBlock}x-envoy-attempt-count: 1\r\n\r\n`, 'latin1');
    new ShadowRequest(method, head, body).start(host.pool(authority));
  }
}
