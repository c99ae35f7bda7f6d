import { isPassthrough, isPlainHttp, terminatesTls, type MergedServer } from '../../compile/gateways.js';
import type { Resource } from '../../config/resource.js';
import { resourceRef } from '../../config/resource.js';
import type { AnalysisContext, Analyzer } from '../analyzer.js';
import { newMessage } from '../messages.js';
import { ruleGateways, serverHostsBind, vsHosts } from '../util.js';

function compileReported(ctx: AnalysisContext, code: string, r: Resource): boolean {
  const ref = resourceRef(r);
  return ctx.workloads.some((w) => w.snapshot.diagnostics.some((d) => d.code === code && d.resource === ref));
}

function serverKind(s: MergedServer): 'http' | 'tls' | 'tcp' {
  if (isPlainHttp(s) || (terminatesTls(s) && s.protocol === 'HTTPS')) return 'http';
  if (isPassthrough(s)) return 'tls';
  return 'tcp';
}

function describe(s: MergedServer): string {
  const mode = s.tlsMode === null ? '' : ` tls.mode ${s.tlsMode}${s.server.tls?.mode === undefined && s.tlsMode === 'PASSTHROUGH' ? ' (a tls block without mode means PASSTHROUGH)' : ''}`;
  return `servers[${s.index}] port ${s.port} ${s.protocol}${mode}`;
}

const FIX: Record<string, string> = {
  http: 'http rules need a plain HTTP server or an HTTPS server that terminates TLS (tls.mode SIMPLE, MUTUAL or ISTIO_MUTUAL); for TLS passthrough write `tls:` rules on sniHosts instead',
  tls: '`tls:` rules route PASSTHROUGH servers by SNI; for a server that terminates TLS write `http:` (HTTPS) or `tcp:` (TLS) rules',
  tcp: '`tcp:` rules route TCP servers (and TLS servers that terminate TLS); use `http:` for HTTP servers and `tls:` for passthrough',
};

/**
 * SLU0311 (the seed's mistake (d)): rules of one kind bound to a Gateway whose servers for the
 * VirtualService's hosts only accept another kind — `http:` rules on a passthrough HTTPS server,
 * `tls:` rules on a terminating one. Istio accepts the config; the rules never match. Where
 * compile already reports the case (SLU0209: a passthrough server with only http routes), this
 * analyzer leaves it to compile.
 */
export const ruleKindAnalyzer: Analyzer = {
  name: 'virtualservice.RuleKindAnalyzer',
  description: 'http/tls/tcp rules are bound to servers that can use them',
  inputs: ['VirtualService', 'Gateway'],
  codes: ['SLU0311'],
  analyze(ctx) {
    for (const vs of ctx.list('VirtualService')) {
      const hosts = vsHosts(vs, ctx.domainSuffix);
      for (const kind of ['http', 'tls', 'tcp'] as const) {
        const rules = (vs.spec[kind] ?? []) as { match?: { gateways?: string[] }[] }[];
        if (rules.length === 0) continue;
        const gws = new Set<string>();
        for (const r of rules) for (const g of ruleGateways(vs, r.match as never)) if (g !== 'mesh') gws.add(g);
        for (const ref of gws) {
          const bound = ctx.serversOf(ref).filter((s) => hosts.some((h) => serverHostsBind(s.server.hosts, s.gateway.namespace, h, vs.namespace)));
          if (bound.length === 0 || bound.some((s) => serverKind(s) === kind)) continue;
          // Compile already says it for http rules on a passthrough server without tls routes (SLU0209).
          if (kind === 'http' && compileReported(ctx, 'SLU0209', vs)) continue;
          ctx.report(newMessage('SLU0311', vs, ['spec', kind], `the ${kind} rules of VirtualService ${vs.namespace}/${vs.name} never match at Gateway ${ref}: its server${bound.length > 1 ? 's' : ''} for these hosts (${bound.map(describe).join('; ')}) take${bound.length > 1 ? '' : 's'} ${[...new Set(bound.map(serverKind))].join('/')} traffic only`, FIX[kind]));
        }
      }
    }
  },
};
