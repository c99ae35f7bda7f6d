import { isLogEnabled, log } from '../../../util/log.js';
import type { DownstreamConnection } from '../../http/stream.js';
import type { TcpSession } from '../../tcp/tcp-session.js';
import { AuthzView, denial, firstMatch } from './engine.js';

/**
 * Envoy's network RBAC filter (Istio: enforcement ONE_TIME_ON_FIRST_BYTE) for TCP and TLS
 * passthrough chains. Returns false when the connection must be closed; the reason goes to
 * the session for the access log (`rbac_access_denied_matched_policy[...]`).
 */
export function allowConnection(conn: DownstreamConnection, s: TcpSession): boolean {
  const c = conn.chain.policies.networkRbac;
  if (c === null) return true;
  const v = new AuthzView(conn, null, c.numTrustedProxies);
  if (c.audit !== null) {
    const m = firstMatch(c.audit, v);
    if (m !== null) log('info', 'rbac', `AUDIT connection from ${conn.remoteAddress} to port ${conn.localPort} matched ${m}`);
  }
  if (c.shadowDeny !== null) {
    const m = firstMatch(c.shadowDeny, v);
    if (m !== null) log('info', 'rbac', `dry-run: connection from ${conn.remoteAddress} would be denied by ${m} (not enforced)`);
  }
  if (c.shadowAllow !== null && firstMatch(c.shadowAllow, v) === null) {
    log('info', 'rbac', `dry-run: connection from ${conn.remoteAddress} would be denied: no dry-run ALLOW rule matches (not enforced)`);
  }
  const denied = denial(c, v);
  if (denied === null) return true;
  s.details = `rbac_access_denied_matched_policy[${denied}]`;
  if (isLogEnabled('debug')) log('debug', 'rbac', `connection from ${conn.remoteAddress} to port ${conn.localPort} closed: ${s.details}`);
  return false;
}
