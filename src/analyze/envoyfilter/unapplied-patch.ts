import type { EnvoyConfigObjectPatch } from '../../api/types.js';
import type { Analyzer } from '../analyzer.js';
import { newMessage } from '../messages.js';

const HCM = 'envoy.filters.network.http_connection_manager';

/**
 * The EnvoyFilter patches Sluice reads (DESIGN: the seed's two rate-limit filters and its
 * connection-manager tuning): an HTTP_FILTER patch inserting envoy.filters.http.local_ratelimit,
 * and a NETWORK_FILTER MERGE into the http_connection_manager. Sluice has no Envoy config to
 * patch, so everything else has no effect.
 */
export function isAppliedPatch(p: EnvoyConfigObjectPatch): boolean {
  const op = p.patch?.operation ?? '';
  const name = (p.patch?.value as { name?: unknown } | undefined)?.name;
  if (p.applyTo === 'HTTP_FILTER') return (op === 'INSERT_BEFORE' || op === 'INSERT_AFTER' || op === 'INSERT_FIRST' || op === 'ADD') && name === 'envoy.filters.http.local_ratelimit';
  if (p.applyTo === 'NETWORK_FILTER') {
    const filter = p.match?.listener?.filterChain?.filter?.name;
    return op === 'MERGE' && (filter === undefined || filter === HCM);
  }
  return false;
}

function describe(p: EnvoyConfigObjectPatch): string {
  const name = (p.patch?.value as { name?: unknown } | undefined)?.name;
  return `${p.patch?.operation ?? '(no operation)'} on ${p.applyTo ?? '(no applyTo)'}${typeof name === 'string' ? ` (${name})` : ''}`;
}

/**
 * SLU0310: an EnvoyFilter patch Sluice does not apply. Istio would patch Envoy's config; in
 * Sluice the patch is read, reported here, and has no effect.
 */
export const unappliedPatchAnalyzer: Analyzer = {
  name: 'envoyfilter.UnappliedPatchAnalyzer',
  description: 'EnvoyFilter patches that Sluice does not apply',
  inputs: ['EnvoyFilter'],
  codes: ['SLU0310'],
  analyze(ctx) {
    for (const ef of ctx.list('EnvoyFilter')) {
      (ef.spec.configPatches ?? []).forEach((p, i) => {
        if (isAppliedPatch(p)) return;
        ctx.report(newMessage('SLU0310', ef, ['spec', 'configPatches', i], `configPatches[${i}] (${describe(p)}) is not applied by Sluice: it has no effect`, 'Sluice applies local_ratelimit HTTP_FILTER inserts and http_connection_manager MERGE patches; express the rest with Istio APIs (VirtualService, DestinationRule, Telemetry) or drop it'));
      });
    }
  },
};
