// DestinationRule: CRD shape and istio/istio ValidateDestinationRule — host, unique DNS-label
// subset names, traffic policies (traffic-policy.ts), exportTo with a workloadSelector.

import type { Subset } from '../types.js';
import type { KindValidator, Path, ValidationContext } from './context.js';
import { checkExportTo, checkLabels, subsetNameError, workloadSelectorSchema } from './common.js';
import { checkIstioDocument } from './document.js';
import { hostFix, wildcardDomainError } from './names.js';
import { list, map, obj, str, stringList } from './schema.js';
import { trafficPolicySchema } from './traffic-policy.js';
import { cleanItems, isPlainObject, shaped } from './walk.js';

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

/** Cross-field rules on the well-shaped parts of the spec. */
function checkDestinationRule(raw: Record<string, unknown>, ctx: ValidationContext): void {
  if (typeof raw.host === 'string') {
    const e = wildcardDomainError(raw.host);
    if (e !== undefined) ctx.error(['spec', 'host'], e, hostFix(raw.host));
  }
  const names = new Map<string, number>();
  for (const [s, i] of cleanItems(raw.subsets as Subset[])) {
    const prev = names.get(s.name);
    if (prev !== undefined) ctx.error(['spec', 'subsets', i, 'name'], `duplicate subset names: ${s.name} (also subsets[${prev}])`, 'give each subset a unique name');
    else names.set(s.name, i);
  }
  if (shaped(raw.exportTo)) checkExportTo(raw.exportTo as string[], ['spec', 'exportTo'], ctx, { drWithSelector: raw.workloadSelector !== undefined });
}

export const validateDestinationRule: KindValidator = (body, ctx) => {
  checkIstioDocument(body, drSpecSchema, ctx, true);
  if (isPlainObject(body.spec)) checkDestinationRule(body.spec, ctx);
};
