import type { Analyzer } from '../analyzer.js';
import { newMessage } from '../messages.js';
import { destinationsOf } from '../util.js';

/**
 * SLU0302: a destination of a split route that never receives traffic. Weights are relative
 * (Istio ≥1.13): with more than one destination an unset weight is 0, which usually is a
 * forgotten weight rather than a drained backend (that one is reported at info level).
 */
export const unreachableWeightAnalyzer: Analyzer = {
  name: 'virtualservice.UnreachableWeightAnalyzer',
  description: 'Destinations that a weighted split leaves without traffic',
  inputs: ['VirtualService'],
  codes: ['SLU0302'],
  analyze(ctx) {
    for (const vs of ctx.list('VirtualService')) {
      for (const x of destinationsOf(vs)) {
        if (x.siblings < 2 || (x.weight !== undefined && x.weight > 0)) continue;
        const routePath = x.path.slice(0, -1);
        if (x.weight === undefined) {
          ctx.report(newMessage('SLU0302', vs, routePath, `destination ${x.d.host}${x.d.subset !== undefined ? ` subset ${x.d.subset}` : ''} has no weight beside ${x.siblings - 1} other destination${x.siblings > 2 ? 's' : ''}: an unset weight is 0, so it receives no traffic`, 'give every destination of the split a weight (they are relative: 90 and 10, or 9 and 1)'));
        } else {
          ctx.report(newMessage('SLU0302', vs, [...routePath, 'weight'], `destination ${x.d.host}${x.d.subset !== undefined ? ` subset ${x.d.subset}` : ''} has weight 0: it receives no traffic`, 'remove the destination, or give it a weight, when it is not drained on purpose', 'info'));
        }
      }
    }
  },
};
