import type { Analyzer } from '../analyzer.js';
import { newMessage } from '../messages.js';

const RELATIVE = new Set(['INSERT_BEFORE', 'INSERT_AFTER', 'REPLACE', 'REMOVE']);

/**
 * Istio's envoyfilter.EnvoyPatchAnalyzer: ADD/REMOVE on ROUTE_CONFIGURATION or HTTP_ROUTE are
 * ignored (IST0153/IST0154), REPLACE only works on filters (IST0152), and a relative operation
 * without `priority` depends on the order other EnvoyFilters apply (IST0151).
 */
export const envoyFilterOperationsAnalyzer: Analyzer = {
  name: 'envoyfilter.EnvoyPatchAnalyzer',
  description: 'EnvoyFilter patch operations fit what they apply to',
  inputs: ['EnvoyFilter'],
  codes: ['IST0151', 'IST0152', 'IST0153', 'IST0154'],
  analyze(ctx) {
    for (const ef of ctx.list('EnvoyFilter')) {
      (ef.spec.configPatches ?? []).forEach((p, i) => {
        const op = p.patch?.operation;
        const applyTo = p.applyTo ?? '';
        const path = ['spec', 'configPatches', i, 'patch', 'operation'];
        const routeLevel = applyTo === 'ROUTE_CONFIGURATION' || applyTo === 'HTTP_ROUTE';
        if (op === 'ADD' && routeLevel) {
          ctx.report(newMessage('IST0153', ef, path, `The ADD operation will be ignored when applyTo is set to ROUTE_CONFIGURATION, or HTTP_ROUTE (configPatches[${i}] applies to ${applyTo}).`, 'use MERGE for route configuration changes'));
        } else if (op === 'REMOVE' && routeLevel) {
          ctx.report(newMessage('IST0154', ef, path, `The REMOVE operation will be ignored when applyTo is set to ROUTE_CONFIGURATION, or HTTP_ROUTE (configPatches[${i}] applies to ${applyTo}).`, 'remove the route in its VirtualService instead'));
        } else if (op === 'REPLACE' && applyTo !== 'NETWORK_FILTER' && applyTo !== 'HTTP_FILTER') {
          ctx.report(newMessage('IST0152', ef, path, `The REPLACE operation is only valid for HTTP_FILTER and NETWORK_FILTER (configPatches[${i}] applies to ${applyTo}).`, 'use MERGE, or apply the patch to a filter'));
        } else if (op !== undefined && RELATIVE.has(op) && (ef.spec.priority ?? 0) === 0) {
          ctx.report(newMessage('IST0151', ef, path, `This EnvoyFilter does not have a priority and has a relative patch operation (${op}) set which can cause the EnvoyFilter not to be applied. Using the INSERT_FIRST or ADD option or setting the priority may help in ensuring the EnvoyFilter is applied correctly.`, 'set spec.priority, or use INSERT_FIRST'));
        }
      });
    }
  },
};
