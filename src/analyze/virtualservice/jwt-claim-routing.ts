import { selectorMatches } from '../../compile/visibility.js';
import type { Analyzer } from '../analyzer.js';
import { newMessage } from '../messages.js';
import { labelsText, ruleGateways } from '../util.js';

const CLAIM_PREFIX = '@request.auth.claims.';

/**
 * IST0149: a rule routes on JWT claims (`headers: {"@request.auth.claims.group": ...}`) at a
 * gateway to which no RequestAuthentication applies: the claims are never set, so the rule
 * never matches.
 */
export const jwtClaimRoutingAnalyzer: Analyzer = {
  name: 'virtualservice.JWTClaimRouteAnalyzer',
  description: 'JWT claim routing has a RequestAuthentication on the gateway',
  inputs: ['VirtualService', 'Gateway', 'RequestAuthentication'],
  codes: ['IST0149'],
  analyze(ctx) {
    const ras = ctx.list('RequestAuthentication');
    for (const vs of ctx.list('VirtualService')) {
      (vs.spec.http ?? []).forEach((rule, i) => {
        (rule.match ?? []).forEach((m, j) => {
          const key = [...Object.keys(m.headers ?? {}), ...Object.keys(m.withoutHeaders ?? {})].find((k) => k.startsWith(CLAIM_PREFIX));
          if (key === undefined) return;
          for (const ref of ruleGateways(vs, [m])) {
            if (ref === 'mesh') continue;
            const [ns, name] = ref.split('/') as [string, string];
            const gw = ctx.get('Gateway', ns, name);
            if (gw === undefined) continue;
            const labels = gw.spec.selector ?? {};
            const applies = ras.some((ra) => {
              const sel = ra.spec.selector?.matchLabels;
              if (ra.namespace !== gw.namespace && ra.namespace !== ctx.rootNamespace) return false;
              return sel === undefined || selectorMatches(sel, labels);
            });
            if (applies) continue;
            ctx.report(newMessage('IST0149', vs, ['spec', 'http', i, 'match', j, m.headers?.[key] !== undefined ? 'headers' : 'withoutHeaders', key], `The virtual service uses the JWT claim based routing (key: ${key}) but found no request authentication for the gateway (${ref}) pod (${labelsText(labels)}). The request authentication must first be applied for the gateway pods to validate the JWT token and make the claims available for routing.`, `add a RequestAuthentication in namespace ${gw.namespace} with selector ${labelsText(labels)}`));
          }
        });
      });
    }
  },
};
