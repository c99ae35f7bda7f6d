// DestinationRule: CRD shape and istio/istio ValidateDestinationRule — host, unique DNS-label
// subset names, traffic policies (traffic-policy.ts), exportTo with a workloadSelector.

import type { DestinationRuleSpec, Subset } from '../types.js';
import type { KindValidator, Path, ValidationContext } from './context.js';
import { checkExportTo, checkLabels, subsetNameError, workloadSelectorSchema } from './common.js';
import { checkIstioDocument } from './document.js';
import { hostFix, wildcardDomainError } from './names.js';
import { list, map, obj, str, stringList } from './schema.js';
import { trafficPolicySchema } from './traffic-policy.js';
import { isPlainObject, shaped } from './walk.js';

function checkSubset(s: Subset, path: Path, ctx: ValidationContext): void {
  const e = subsetNameError(s.name);
  if (e !== undefined) ctx.error([...path, 'name'], e, `e.g. "${s.name.toLowerCase().replace(/[^a-z0-9-]/g, '-')}"`);
  if (s.labels !== undefined) checkLabels(s.labels, [...path, 'labels'], ctx);
}

const drSpecSchema = obj(
  {
    host: str(),
    trafficPolicy: trafficPolicySchema,
    subsets: list(obj({ name: str(), labels: map(str()), trafficPolicy: trafficPolicySchema }, { required: ['name'], check: checkSubset })),
    exportTo: stringList(),
    workloadSelector: workloadSelectorSchema,
  },
  { required: ['host'] },
);

function checkDestinationRule(spec: DestinationRuleSpec, ctx: ValidationContext): void {
  if (typeof spec.host === 'string') {
    const e = wildcardDomainError(spec.host);
    if (e !== undefined) ctx.error(['spec', 'host'], e, hostFix(spec.host));
  }
  const names = new Map<string, number>();
  (Array.isArray(spec.subsets) ? spec.subsets : []).forEach((s, i) => {
    if (!shaped(s)) return;
    const prev = names.get(s.name);
    if (prev !== undefined) ctx.error(['spec', 'subsets', i, 'name'], `duplicate subset names: ${s.name} (also subsets[${prev}])`, 'give each subset a unique name');
    else names.set(s.name, i);
  });
  if (shaped(spec.exportTo)) checkExportTo(spec.exportTo, ['spec', 'exportTo'], ctx, { drWithSelector: spec.workloadSelector !== undefined });
}

export const validateDestinationRule: KindValidator = (body, ctx) => {
  checkIstioDocument(body, drSpecSchema, ctx, true);
  if (isPlainObject(body.spec)) checkDestinationRule(body.spec as unknown as DestinationRuleSpec, ctx);
};
