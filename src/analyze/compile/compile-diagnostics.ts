import { messageType } from '../messages.js';
import type { Analyzer } from '../analyzer.js';

/**
 * What compiling the config for each gateway workload reported (IST0101 unknown destination
 * host/port/subset, IST0112, IST0145, IST0161, dropped servers SLU02xx): the same diagnostics
 * `sluice run` prints, found by the same code. IST codes are reported at Istio's level (an
 * unknown destination is an error for istioctl analyze, while the running gateway answers
 * 503 and keeps serving).
 */
export const compileAnalyzer: Analyzer = {
  name: 'compile.CompileAnalyzer',
  description: 'Reports the problems compile meets while building each gateway workload\'s snapshot',
  inputs: ['Gateway', 'VirtualService', 'DestinationRule', 'ServiceEntry', 'Secret'],
  codes: ['IST0101', 'IST0112', 'IST0145', 'IST0161', 'SLU0201', 'SLU0202', 'SLU0203', 'SLU0204', 'SLU0206', 'SLU0207', 'SLU0208', 'SLU0209', 'SLU0210'],
  analyze(ctx) {
    for (const w of ctx.workloads) {
      for (const d of w.snapshot.diagnostics) {
        const t = d.code.startsWith('IST') ? messageType(d.code) : undefined;
        ctx.report(t !== undefined ? { ...d, level: t.level } : d);
      }
    }
  },
};
