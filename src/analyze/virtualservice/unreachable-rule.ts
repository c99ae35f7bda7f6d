import type { Analyzer } from '../analyzer.js';
import { newMessage } from '../messages.js';
import type { Path, VS } from '../util.js';

/** JSON with object keys sorted at every level, so equal matches compare equal. */
function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
}

/** A match block as routing sees it: its name does not route. */
function matchKey(m: unknown): string {
  if (m === null || typeof m !== 'object') return canonical(m);
  const { name: _n, ...rest } = m as Record<string, unknown>;
  return canonical(rest);
}

function ruleLabel(vs: VS, kind: string, i: number): string {
  const name = kind === 'http' ? vs.spec.http?.[i]?.name : undefined;
  return name !== undefined ? `${kind}[${i}] (${name})` : `${kind}[${i}]`;
}

/**
 * Istio's analyzeUnreachable{HTTP,TCP,TLS}Rules within one VirtualService: IST0130 for a rule
 * that can never be used (a second rule without matches, or every match a duplicate), IST0131
 * for a match block identical to an earlier one. Shadowing across VirtualServices and by
 * broader matches is SLU0301 (virtualservice.ShadowedRouteAnalyzer).
 */
export const unreachableRuleAnalyzer: Analyzer = {
  name: 'virtualservice.UnreachableRuleAnalyzer',
  description: 'Rules and matches of a VirtualService that earlier ones make unused',
  inputs: ['VirtualService'],
  codes: ['IST0130', 'IST0131'],
  analyze(ctx) {
    for (const vs of ctx.list('VirtualService')) {
      for (const kind of ['http', 'tcp', 'tls'] as const) {
        const rules = (vs.spec[kind] ?? []) as { match?: unknown[] }[];
        const seen = new Map<string, number>();
        let emptySeen = -1;
        rules.forEach((rule, i) => {
          const path: Path = ['spec', kind, i];
          const matches = rule.match ?? [];
          if (matches.length === 0) {
            if (emptySeen >= 0) {
              ctx.report(newMessage('IST0130', vs, path, `VirtualService rule ${ruleLabel(vs, kind, i)} not used (only the last rule can have no matches; ${ruleLabel(vs, kind, emptySeen)} already matches every request).`, `remove the rule, or give it a match and move it before ${ruleLabel(vs, kind, emptySeen)}`));
            }
            emptySeen = i;
            return;
          }
          let dups = 0;
          matches.forEach((m, j) => {
            const key = matchKey(m);
            const prev = seen.get(key);
            if (prev !== undefined) {
              dups++;
              ctx.report(newMessage('IST0131', vs, [...path, 'match', j], `VirtualService rule ${ruleLabel(vs, kind, i)} match ${j} is not used (duplicate/overlapping match in rule ${ruleLabel(vs, kind, prev)}).`, 'remove the duplicate match block'));
            } else seen.set(key, i);
          });
          if (dups === matches.length) {
            ctx.report(newMessage('IST0130', vs, path, `VirtualService rule ${ruleLabel(vs, kind, i)} not used (all matches used by prior rules).`, 'remove the rule, or change its matches'));
          }
        });
      }
    }
  },
};
