import type { Analyzer } from '../analyzer.js';

/**
 * Parse, schema and webhook-rule diagnostics of the load (IST0106, IST0122, SLU00xx, SLU01xx),
 * as Istio's schema.ValidationAnalyzer reports them. A resource with an error here never
 * reaches compile: `sluice run` refuses to start until it is fixed.
 */
export const validationAnalyzer: Analyzer = {
  name: 'schema.ValidationAnalyzer',
  description: 'Reports parse, schema and webhook-rule problems found while loading the config',
  inputs: [],
  codes: ['IST0106', 'IST0122', 'SLU0001', 'SLU0002', 'SLU0003', 'SLU0004', 'SLU0006', 'SLU0010', 'SLU0011', 'SLU0012', 'SLU0100', 'SLU0101', 'SLU0102', 'SLU0103', 'SLU0104', 'SLU0110', 'SLU0111', 'SLU0112', 'SLU0113', 'SLU0120', 'SLU0130'],
  analyze(ctx) {
    for (const d of ctx.loadDiagnostics) {
      // SLU0005 (last good version kept) only means something to a running gateway.
      if (d.code === 'SLU0005') continue;
      ctx.report(d);
    }
  },
};
