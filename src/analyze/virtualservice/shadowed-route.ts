import type { Condition } from '../../compile/match/route-match.js';
import type { Route } from '../../compile/snapshot.js';
import { displayPath } from '../../trace/format.js';
import type { Analyzer } from '../analyzer.js';
import { newMessage } from '../messages.js';

/** Does condition `a` hold for every request that satisfies condition `b`? */
function implies(b: Condition, a: Condition): boolean {
  if (a.kind !== b.kind || a.name !== b.name) return false;
  if (a.kind === 'without_header') return a.op === b.op && a.value === b.value;
  const fold = (s: string): string => (a.ignoreCase ? s.toLowerCase() : s);
  if (b.ignoreCase && !a.ignoreCase && b.op !== 'any') return false;
  switch (a.op) {
    case 'any': return true; // presence: any value-match of the same header implies presence
    case 'exact': return b.op === 'exact' && fold(b.value) === fold(a.value);
    case 'prefix': return (b.op === 'exact' || b.op === 'prefix') && fold(b.value).startsWith(fold(a.value));
    case 'regex': return b.op === 'regex' && b.value === a.value;
  }
}

/** Does route `a` (earlier) match every request route `b` (later) matches? */
export function shadows(a: Route, b: Route): boolean {
  return a.match.conditions.every((ca) => b.match.conditions.some((cb) => implies(cb, ca)));
}

function label(r: Route): string {
  return `${r.source.resource} http[${r.source.rule}]${r.source.match >= 0 ? `.match[${r.source.match}]` : ''}`;
}

/** Pairs IST0130/IST0131 already report (same VirtualService: identical matches, or a second catch-all). */
function reportedByIstio(a: Route, b: Route): boolean {
  if (a.source.resource !== b.source.resource || a.source.file !== b.source.file) return false;
  const same = a.match.conditions.length === b.match.conditions.length && a.match.conditions.every((c, i) => c.describe === b.match.conditions[i]!.describe);
  return same;
}

/**
 * SLU0301: in each compiled virtual host (VirtualServices for one host merged, oldest first,
 * as the data plane sees them), a route no request can reach because an earlier route matches
 * everything it matches — a catch-all rule, a broader prefix, or the same match in an older
 * VirtualService. Istio's IST0130/0131 only compare identical matches inside one resource.
 */
export const shadowedRouteAnalyzer: Analyzer = {
  name: 'virtualservice.ShadowedRouteAnalyzer',
  description: 'Routes that an earlier route of the same virtual host always takes first',
  inputs: ['VirtualService', 'Gateway'],
  codes: ['SLU0301'],
  analyze(ctx) {
    const done = new Set<string>();
    for (const w of ctx.workloads) {
      for (const rc of w.snapshot.routeConfigs.values()) {
        for (const v of rc.virtualHosts) {
          const routes = v.routes;
          for (let j = 1; j < routes.length; j++) {
            const b = routes[j]!;
            const key = `${b.source.resource}|${b.source.rule}|${b.source.match}`;
            if (done.has(key)) continue;
            for (let i = 0; i < j; i++) {
              const a = routes[i]!;
              if (a === b || !shadows(a, b) || reportedByIstio(a, b)) continue;
              done.add(key);
              const [ns, name] = b.source.resource.replace(/^VirtualService /, '').split('/') as [string, string];
              const vs = ctx.get('VirtualService', ns, name);
              if (vs === undefined) break;
              const path = ['spec', 'http', b.source.rule, ...(b.source.match >= 0 ? ['match', b.source.match] : [])];
              const why = a.match.conditions.length === 0 ? 'which has no match and takes every request' : `whose match (${a.match.conditions.map((c) => c.describe).join(' AND ')}) covers this one`;
              const other = a.source.resource !== b.source.resource ? ` (an older VirtualService merged first for host ${v.domains.join(', ')})` : '';
              ctx.report(newMessage('SLU0301', vs, path,
                `${label(b)} can never match on virtual host ${v.name}: ${label(a)}${other} at ${displayPath(a.source.file)}:${a.source.line} comes first, ${why}`,
                a.source.resource !== b.source.resource
                  ? `merge the rules into one VirtualService with the specific rule first, or narrow ${label(a)}`
                  : `move this rule before ${a.source.rule < b.source.rule ? `http[${a.source.rule}]` : 'the broader one'}, or remove it`));
              break;
            }
          }
        }
      }
    }
  },
};
