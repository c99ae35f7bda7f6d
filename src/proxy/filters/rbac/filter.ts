import { isLogEnabled, log } from '../../../util/log.js';
import { FilterStatus, type HttpFilter } from '../../http/filter.js';
import { sendLocalReply } from '../../http/local-reply.js';
import type { HttpStream } from '../../http/stream.js';
import type { CompiledPolicy, RbacConfig } from './config.js';
import { AuthzView, firstMatch } from './engine.js';
import { explainRbac } from './explain.js';

/** Envoy's RBAC filter denial: 403, this body, the matched policy in RESPONSE_CODE_DETAILS. */
export const RBAC_DENIED_BODY = 'RBAC: access denied';

function describe(s: HttpStream): string {
  return `${s.method} ${s.authority}${s.pathOnly} from ${s.conn.remoteAddress}${s.requestPrincipal !== '' ? ` (principal ${s.requestPrincipal})` : ''}`;
}

/** AUDIT and dry-run policies: evaluated, logged, never enforced (Envoy's shadow engine). */
function shadow(s: HttpStream, c: RbacConfig, v: AuthzView): void {
  if (c.audit !== null) {
    const m = firstMatch(c.audit, v);
    if (m !== null) log('info', 'rbac', `AUDIT ${describe(s)} matched ${m}`);
  }
  if (c.shadowDeny !== null) {
    const m = firstMatch(c.shadowDeny, v);
    if (m !== null) log('info', 'rbac', `dry-run: ${describe(s)} would be denied by ${m} (istio.io/dry-run, not enforced)`);
  }
  if (c.shadowAllow !== null) {
    const m = firstMatch(c.shadowAllow, v);
    if (m === null) log('info', 'rbac', `dry-run: ${describe(s)} would be denied: no dry-run ALLOW rule of ${names(c.shadowAllow)} matches (istio.io/dry-run, not enforced)`);
    else if (isLogEnabled('debug')) log('debug', 'rbac', `dry-run: ${describe(s)} would be allowed by ${m}`);
  }
}

function names(ps: readonly CompiledPolicy[]): string {
  return ps.map((p) => p.id).join(', ');
}

/**
 * Envoy's RBAC HTTP filter with Istio's policies: any matching DENY rule denies; when ALLOW
 * policies exist, a request no ALLOW rule matches is denied; otherwise it passes. A denial is
 * 403 `RBAC: access denied` with `rbac_access_denied_matched_policy[...]` in the access log.
 */
export const rbacFilter: HttpFilter = {
  name: 'envoy.filters.http.rbac',
  onRequest(s) {
    const c = s.conn.chain.policies.rbac;
    if (c === null) return FilterStatus.Continue;
    const v = new AuthzView(s.conn, s, c.numTrustedProxies);
    if (c.audit !== null || c.shadowDeny !== null || c.shadowAllow !== null) shadow(s, c, v);
    if (c.deny !== null) {
      const m = firstMatch(c.deny, v);
      if (m !== null) {
        if (isLogEnabled('debug')) log('debug', 'rbac', `denied ${describe(s)}: matched DENY ${m}`);
        sendLocalReply(s, 403, RBAC_DENIED_BODY, 0, `rbac_access_denied_matched_policy[${m}]`);
        return FilterStatus.Stop;
      }
    }
    if (c.allow !== null) {
      const m = firstMatch(c.allow, v);
      if (m === null) {
        if (isLogEnabled('debug')) log('debug', 'rbac', `denied ${describe(s)}: no ALLOW rule of ${names(c.allow)} matches`);
        sendLocalReply(s, 403, RBAC_DENIED_BODY, 0, 'rbac_access_denied_matched_policy[none]');
        return FilterStatus.Stop;
      }
      if (isLogEnabled('debug')) log('debug', 'rbac', `allowed ${describe(s)} by ${m}`);
    }
    return FilterStatus.Continue;
  },
  explain: explainRbac,
};
