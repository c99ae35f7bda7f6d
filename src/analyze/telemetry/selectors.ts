import type { Resource } from '../../config/resource.js';
import type { Analyzer } from '../analyzer.js';
import { newMessage } from '../messages.js';
import { refOf, type Path } from '../util.js';

/**
 * IST0160: more than one Telemetry without selector in a namespace; IST0159: Telemetries of one
 * namespace whose selectors select the same gateway workload. Which one applies is undefined.
 */
export const telemetrySelectorsAnalyzer: Analyzer = {
  name: 'telemetry.SelectorAnalyzer',
  description: 'At most one Telemetry applies to each workload',
  inputs: ['Telemetry', 'Gateway'],
  codes: ['IST0159', 'IST0160'],
  analyze(ctx) {
    const byNs = new Map<string, Resource<'Telemetry'>[]>();
    for (const t of ctx.list('Telemetry')) {
      if (t.spec.targetRef !== undefined || t.spec.targetRefs !== undefined) continue;
      const l = byNs.get(t.namespace) ?? [];
      l.push(t);
      byNs.set(t.namespace, l);
    }
    for (const [ns, list] of byNs) {
      const bare = list.filter((t) => t.spec.selector?.matchLabels === undefined || Object.keys(t.spec.selector.matchLabels).length === 0);
      if (bare.length > 1) {
        for (const t of bare) ctx.report(newMessage('IST0160', t, ['metadata', 'name'], `The Telemetries [${bare.map(refOf).join(', ')}] in namespace "${ns}" have no workload selector, which can lead to undefined behavior.`, 'merge them into one Telemetry, or give each a selector'));
      }
      for (const w of ctx.workloads) {
        if (w.namespace !== ns) continue;
        const hits = list.filter((t) => {
          const sel = t.spec.selector?.matchLabels;
          return sel !== undefined && Object.keys(sel).length > 0 && Object.entries(sel).every(([k, v]) => w.labels[k] === v);
        });
        if (hits.length < 2) continue;
        const path: Path = ['spec', 'selector', 'matchLabels'];
        for (const t of hits) ctx.report(newMessage('IST0159', t, path, `The Telemetries [${hits.map(refOf).join(', ')}] in namespace "${ns}" select the same workload (gateway ${w.key}), which can lead to undefined behavior.`, 'merge them into one Telemetry for this workload'));
      }
    }
  },
};
