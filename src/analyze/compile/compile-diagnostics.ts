import { PATCH_NOT_APPLIED_CODES } from '../../compile/security/envoy-filter.js';
import { CODE_SELECTOR_IN_WRONG_NAMESPACE } from '../../compile/security/scope-problems.js';
import { patchIndexOf, patchKey, patchVerdicts } from '../envoyfilter/patch-outcomes.js';
import { messageType } from '../messages.js';
import type { Analyzer } from '../analyzer.js';

/**
 * What compiling the config for each gateway workload reported (IST0101 unknown destination
 * host/port/subset, IST0112, IST0145, IST0161, dropped servers SLU02xx, security and
 * EnvoyFilter SLU05xx): the same diagnostics `sluice run` prints, found by the same code. IST
 * codes are reported at Istio's level (an unknown destination is an error for istioctl analyze,
 * while the running gateway answers 503 and keeps serving). Two kinds are left to the analyzer
 * that owns them, so a problem is reported once: a patch compile did not apply anywhere
 * (envoyfilter.UnappliedPatchAnalyzer, SLU0310, with compile's reason), and a policy selector
 * in the wrong namespace (security.PolicySelectorNamespaceAnalyzer, SLU0501, for every workload
 * the config knows rather than per gateway).
 */
export const compileAnalyzer: Analyzer = {
  name: 'compile.CompileAnalyzer',
  description: 'Reports the problems compile meets while building each gateway workload\'s snapshot',
  inputs: ['Gateway', 'VirtualService', 'DestinationRule', 'ServiceEntry', 'Secret', 'RequestAuthentication', 'AuthorizationPolicy', 'EnvoyFilter', 'Telemetry'],
  codes: [
    'IST0101', 'IST0112', 'IST0145', 'IST0161', 'SLU0201', 'SLU0202', 'SLU0203', 'SLU0204', 'SLU0206', 'SLU0207', 'SLU0208', 'SLU0209', 'SLU0210',
    'SLU0502', 'SLU0503', 'SLU0504', 'SLU0505', 'SLU0506', 'SLU0507', 'SLU0510', 'SLU0511',
    'SLU0520', 'SLU0521', 'SLU0522', 'SLU0523', 'SLU0524', 'SLU0525', 'SLU0526', 'SLU0527', 'SLU0528', 'SLU0529', 'SLU0530', 'SLU0531', 'SLU0532', 'SLU0533', 'SLU0534', 'SLU0535', 'SLU0536', 'SLU0537', 'SLU0538', 'SLU0539',
    'SLU0601', 'SLU0602', 'SLU0603', 'SLU0604', 'SLU0605', 'SLU0606',
  ],
  analyze(ctx) {
    for (const w of ctx.workloads) {
      for (const d of w.snapshot.diagnostics) {
        if (d.code === CODE_SELECTOR_IN_WRONG_NAMESPACE) continue;
        if (PATCH_NOT_APPLIED_CODES.has(d.code)) {
          const i = patchIndexOf(d.path);
          if (i !== null && d.resource !== undefined && patchVerdicts(ctx).get(patchKey(d.resource, i))?.outcome === 'not_applied') continue;
        }
        const t = d.code.startsWith('IST') ? messageType(d.code) : undefined;
        ctx.report(t !== undefined ? { ...d, level: t.level } : d);
      }
    }
  },
};
