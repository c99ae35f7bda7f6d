import { intersectHosts, normalizeHost, splitServerHost } from '../../compile/hosts.js';
import { isPassthrough, isPlainHttp, terminatesTls, type MergedServer } from '../../compile/gateways.js';
import { isVisible } from '../../compile/visibility.js';
import type { Analyzer } from '../analyzer.js';
import { newMessage } from '../messages.js';
import { ruleGateways, serverAdmits } from '../util.js';

function ruleKind(s: MergedServer): 'http' | 'tls' | 'tcp' {
  if (isPlainHttp(s) || (terminatesTls(s) && s.protocol === 'HTTPS')) return 'http';
  return isPassthrough(s) ? 'tls' : 'tcp';
}

/**
 * SLU0305: a host a Gateway server accepts but no VirtualService routes there — every request
 * for it gets 404 NR (or, for TLS/TCP, the connection is closed). Servers with httpsRedirect
 * need no VirtualService. Istio reports nothing.
 */
export const hostWithoutVirtualServiceAnalyzer: Analyzer = {
  name: 'gateway.HostWithoutVirtualServiceAnalyzer',
  description: 'Every Gateway server host is routed by some VirtualService',
  inputs: ['Gateway', 'VirtualService'],
  codes: ['SLU0305'],
  analyze(ctx) {
    const vss = ctx.list('VirtualService');
    const done = new Set<string>();
    for (const w of ctx.workloads) {
      for (const servers of w.servers.values()) {
        for (const s of servers) {
          const key = `${s.ref}|${s.index}`;
          if (done.has(key)) continue;
          done.add(key);
          if (s.server.tls?.httpsRedirect === true && isPlainHttp(s)) continue;
          const kind = ruleKind(s);
          s.server.hosts.forEach((raw, hi) => {
            const e = splitServerHost(raw);
            const routed = vss.some((vs) => {
              if (!isVisible(vs.spec.exportTo ?? [], vs.namespace, w.namespace)) return false;
              if (!serverAdmits(e.namespace, s.gateway.namespace, vs.namespace)) return false;
              if (!(vs.spec.hosts ?? []).some((h) => intersectHosts(normalizeHost(h, vs.namespace, ctx.domainSuffix), e.host) !== null)) return false;
              const rules = (vs.spec[kind] ?? []) as { match?: { gateways?: string[] }[] }[];
              return rules.some((r) => ruleGateways(vs, r.match as never).has(s.ref));
            });
            if (routed) return;
            const outcome = kind === 'http' ? 'every request for it gets 404 (NR)' : 'connections for it are closed (no route)';
            ctx.report(newMessage('SLU0305', s.gateway, ['spec', 'servers', s.index, 'hosts', hi], `no VirtualService with ${kind} rules routes host ${raw} at Gateway ${s.ref} port ${s.port}: ${outcome}`, `add a VirtualService with hosts [${e.host}], gateways [${s.ref}] and ${kind} rules, or remove the host from the server`));
          });
        }
      }
    }
  },
};
