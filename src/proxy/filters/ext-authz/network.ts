import { log } from '../../../util/log.js';
import type { DownstreamConnection, ProxyContext } from '../../http/stream.js';
import { ResponseFlag } from '../../http/response-flags.js';
import type { TcpSession } from '../../tcp/tcp-session.js';
import { AuthzView, firstMatch } from '../rbac/engine.js';
import { checkOverGrpc, checkRequestFor } from './grpc.js';

/**
 * Envoy's network ext_authz, as Istio configures it for a CUSTOM policy with an
 * `envoyExtAuthzGrpc` provider on a TCP port: a connection a CUSTOM rule matches is checked
 * once, before anything is proxied (Authorization/Check with the peers' addresses and
 * principal, no HTTP attributes). OK proxies it; any other status closes it (flag UAEX,
 * `ext_authz_denied`); an error, timeout or unreachable service closes it too
 * (`ext_authz_error`) unless the provider has `failOpen`.
 *
 * Returns false when no check is needed (`proceed` is not called); otherwise calls
 * `proceed(allowed)` once the answer is in.
 */
export function checkConnection(conn: DownstreamConnection, s: TcpSession, proxy: ProxyContext, proceed: (allowed: boolean) => void): boolean {
  const c = conn.chain.policies.networkRbac;
  const p = c?.customProvider ?? null;
  if (c === null || c.custom === null || p === null || p.protocol !== 'grpc') return false;
  const rule = firstMatch(c.custom, new AuthzView(conn, null, c.numTrustedProxies));
  if (rule === null) return false;
  const fail = (why: string): void => {
    if (p.failOpen) { log('warn', 'ext_authz', `provider ${p.name}: ${why}; connection allowed (failOpen)`); proceed(true); return; }
    log('warn', 'ext_authz', `provider ${p.name}: ${why}; connection from ${conn.remoteAddress} closed`);
    s.responseFlags |= ResponseFlag.UAEX;
    s.details = 'ext_authz_error';
    proceed(false);
  };
  const cluster = proxy.clusters.get(p.cluster);
  if (cluster === undefined) { fail(`cluster ${p.cluster} does not exist (is the provider's service in the registry?)`); return true; }
  const ask = (): void => {
    const host = cluster.pick(null, null);
    if (host === null) { fail(`no healthy endpoint in ${p.cluster}`); return; }
    checkOverGrpc({ cluster, host, authority: p.authority }, checkRequestFor(conn, null), p.timeoutMs).then((r) => {
      if ((r.status?.code ?? 0) === 0) { proceed(true); return; }
      s.responseFlags |= ResponseFlag.UAEX;
      s.details = 'ext_authz_denied';
      proceed(false);
    }, (e: Error) => fail(e.message));
  };
  if (!cluster.ready) cluster.whenReady(ask);
  else ask();
  return true;
}
