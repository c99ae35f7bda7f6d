// Pod (core/v1): read only for the service registry — an Endpoints address or EndpointSlice
// endpoint takes its labels (DestinationRule subsets select on them) and its service account
// (the expected mTLS identity) from its Pod. Only those fields are checked; the rest of a Pod
// (containers, volumes, most of status) is accepted as written and never read.

import type { KindValidator, Path, ValidationContext } from './context.js';
import { labelsSchema } from './common.js';
import { isDns1123Subdomain, isIpAddress } from './names.js';
import { bool, enumOf, list, obj, str } from './schema.js';
import { isPlainObject, walk } from './walk.js';

function checkIp(ip: string, path: Path, ctx: ValidationContext): void {
  if (ip !== '' && !isIpAddress(ip)) ctx.error(path, `"${ip}" is not a valid IP address`);
}

function checkServiceAccount(sa: string, path: Path, ctx: ValidationContext): void {
  if (sa !== '' && !isDns1123Subdomain(sa)) ctx.error(path, `"${sa}" is not a valid service account name`, 'use lower-case letters, digits, "-" and "."');
}

const podSchema = obj(
  {
    metadata: obj({ labels: labelsSchema }, { unknown: 'warn' }),
    spec: obj({ serviceAccountName: str({ check: checkServiceAccount }), serviceAccount: str({ check: checkServiceAccount }), hostNetwork: bool() }, { unknown: 'warn' }),
    status: obj(
      {
        podIP: str({ check: checkIp }),
        podIPs: list(obj({ ip: str({ check: checkIp }) }, { required: ['ip'], unknown: 'warn' })),
        phase: enumOf(['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown']),
        conditions: list(obj({ type: str(), status: str() }, { required: ['type', 'status'], unknown: 'warn' })),
      },
      { unknown: 'warn' },
    ),
  },
  { unknown: 'warn' },
);

/** The fields Sluice reads, at their own paths (so errors point at the right line). */
function readFields(body: Record<string, unknown>): Record<string, unknown> {
  const pick = (v: unknown, keys: readonly string[]): unknown => {
    if (!isPlainObject(v)) return v;
    const out: Record<string, unknown> = {};
    for (const k of keys) if (v[k] !== undefined) out[k] = k === 'conditions' && Array.isArray(v[k]) ? (v[k] as unknown[]).map((c) => pick(c, ['type', 'status'])) : v[k];
    return out;
  };
  const out: Record<string, unknown> = {};
  if (body.metadata !== undefined) out.metadata = pick(body.metadata, ['labels']);
  if (body.spec !== undefined) out.spec = pick(body.spec, ['serviceAccountName', 'serviceAccount', 'hostNetwork']);
  if (body.status !== undefined) out.status = pick(body.status, ['podIP', 'podIPs', 'phase', 'conditions']);
  return out;
}

export const validatePod: KindValidator = (body, ctx) => {
  walk(readFields(body), podSchema, [], ctx);
};
