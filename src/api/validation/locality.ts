// Locality load balancing (agent.ValidateLocalityLbSetting): `distribute` weights per source
// locality sum to 100, `failover` names different regions, and the two are exclusive.

import type { Path, ValidationContext } from './context.js';
import { bool, list, map, obj, str, stringList, uint32 } from './schema.js';

export const localityLbSchema = obj(
  {
    distribute: list(obj({ from: str(), to: map(uint32()) })),
    failover: list(obj({ from: str(), to: str() })),
    failoverPriority: stringList(),
    enabled: bool(),
  },
  { oneOf: [['distribute', 'failover']] },
);

interface LocalityLb {
  distribute?: { from?: string; to?: Record<string, number> }[];
  failover?: { from?: string; to?: string }[];
  failoverPriority?: string[];
  enabled?: boolean;
}

const TOPOLOGY_LABELS = ['topology.kubernetes.io/region', 'topology.kubernetes.io/zone', 'topology.istio.io/subzone'];

/** `region[/zone[/subzone]]`, a trailing `*` wildcard at most, no overlaps (validateLocalities). */
function localitiesError(localities: readonly string[]): string | undefined {
  const seen: string[][] = [];
  for (const loc of localities) {
    const stars = loc.split('*').length - 1;
    if (stars > 1 || (stars === 1 && !loc.endsWith('*'))) return `locality ${loc} wildcard '*' number can not exceed 1 and must be in the end`;
    const parts = loc.split('/');
    if (parts.length > 3 || parts.some((p) => p === '')) return `locality ${loc} must not contain empty region/zone/subzone info`;
    for (const prev of seen) {
      const n = Math.min(prev.length, parts.length);
      let overlap = true;
      for (let i = 0; i < n; i++) if (prev[i] !== parts[i] && prev[i] !== '*' && parts[i] !== '*') overlap = false;
      if (overlap) return `locality ${loc} overlap with previous specified ones`;
    }
    seen.push(parts);
  }
  return undefined;
}

/** Needs the sibling outlierDetection: failover only works with outlier detection. */
export function checkLocalityLb(lb: LocalityLb, path: Path, ctx: ValidationContext, hasOutlier: boolean): void {
  // Both set is already reported (oneof); Istio checks nothing further then.
  if ((lb.distribute?.length ?? 0) > 0 && (lb.failover?.length ?? 0) > 0) return;
  if ((lb.failover?.length ?? 0) > 0) {
    for (const l of lb.failoverPriority ?? []) {
      if (TOPOLOGY_LABELS.includes(l)) {
        ctx.error([...path, 'failoverPriority'], `can not simultaneously set 'failover' and topology label '${l}' in 'failoverPriority'`);
        return;
      }
    }
  }
  const from: string[] = [];
  (lb.distribute ?? []).forEach((d, i) => {
    if (d.from !== undefined) from.push(d.from);
    let total = 0;
    for (const [loc, w] of Object.entries(d.to ?? {})) {
      if (w <= 0 || w > 100) ctx.error([...path, 'distribute', i, 'to', loc], 'locality weight must be in range [1, 100]');
      total += w;
    }
    if (total !== 100) ctx.error([...path, 'distribute', i, 'to'], `total locality weight ${total} != 100`, 'make the weights of "to" add up to 100');
    const e = localitiesError(Object.keys(d.to ?? {}));
    if (e !== undefined) ctx.error([...path, 'distribute', i, 'to'], e);
  });
  const e = localitiesError(from);
  if (e !== undefined) ctx.error([...path, 'distribute'], e);
  if (((lb.failover?.length ?? 0) > 0 || (lb.failoverPriority?.length ?? 0) > 0) && !hasOutlier) {
    ctx.warning(path, 'outlier detection policy must be provided for failover', 'add outlierDetection to the same traffic policy; without it endpoints are never marked unhealthy');
  }
  (lb.failover ?? []).forEach((f, i) => {
    const p = [...path, 'failover', i];
    if (f.from === f.to) ctx.error(p, 'locality lb failover settings must specify different regions');
    if (f.from?.includes('/') || f.to?.includes('/')) ctx.error(p, 'locality lb failover only specify region');
    if (f.from?.includes('*') || f.to?.includes('*')) ctx.error(p, "locality lb failover region should not contain '*' wildcard");
  });
}
