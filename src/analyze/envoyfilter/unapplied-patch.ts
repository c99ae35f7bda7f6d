import type { EnvoyConfigObjectPatch } from '../../api/types.js';
import { resourceRef } from '../../config/resource.js';
import type { Analyzer } from '../analyzer.js';
import { newMessage } from '../messages.js';
import { patchKey, patchVerdicts } from './patch-outcomes.js';

function describe(p: EnvoyConfigObjectPatch): string {
  const name = (p.patch?.value as { name?: unknown } | undefined)?.name;
  return `${p.patch?.operation ?? '(no operation)'} on ${p.applyTo ?? '(no applyTo)'}${typeof name === 'string' ? ` (${name})` : ''}`;
}

/**
 * SLU0310: an EnvoyFilter patch Sluice does not apply. The verdict is compile's own
 * (envoy-filter.ts, the code `sluice run` applies patches with): a patch compile applied on
 * some workload is never reported here, and one compile left out is reported once, with
 * compile's reason and code (SLU052x), which the compile analyzer then does not repeat.
 * Patches that are valid but do nothing here (another context, nothing matched) are not
 * reported: Istio ignores them the same way (compile notes them as SLU0533/SLU0535).
 */
export const unappliedPatchAnalyzer: Analyzer = {
  name: 'envoyfilter.UnappliedPatchAnalyzer',
  description: 'EnvoyFilter patches that Sluice does not apply',
  inputs: ['EnvoyFilter'],
  codes: ['SLU0310'],
  analyze(ctx) {
    const verdicts = patchVerdicts(ctx);
    for (const ef of ctx.list('EnvoyFilter')) {
      (ef.spec.configPatches ?? []).forEach((p, i) => {
        const v = verdicts.get(patchKey(resourceRef(ef), i));
        if (v === undefined || v.outcome !== 'not_applied') return;
        ctx.report(newMessage('SLU0310', ef, ['spec', 'configPatches', i], `configPatches[${i}] (${describe(p)}) is not applied by Sluice${v.code !== null ? ` (${v.code})` : ''}: ${v.reason}`, v.fix ?? (v.code === 'SLU0523' ? 'correct the patch value: Envoy would reject it too' : 'Sluice applies local_ratelimit and ratelimit HTTP_FILTER patches, http_connection_manager MERGE, and VIRTUAL_HOST/HTTP_ROUTE MERGE of rate_limits and typed_per_filter_config; express the rest with Istio APIs (VirtualService, DestinationRule, Telemetry) or drop it')));
      });
    }
  },
};
