// Envoy response flags as bits, printed in Envoy's order (ResponseFlagUtils), comma-joined.

const NAMES = ['LH', 'UH', 'UT', 'LR', 'UR', 'UF', 'UC', 'UO', 'NR', 'DI', 'FI', 'RL', 'UAEX', 'RLSE', 'DC', 'URX', 'SI', 'IH', 'DPE', 'UMSDR', 'RFCF', 'NFCF', 'DT', 'UPE', 'NC', 'OM', 'DF', 'DO'] as const;

export type ResponseFlagName = (typeof NAMES)[number];

export const ResponseFlag = Object.freeze(Object.fromEntries(NAMES.map((n, i) => [n, 1 << i])) as Record<ResponseFlagName, number>);

const cache = new Map<number, string>();

/** `-` when none, else e.g. `UF,URX`. Cached: few combinations occur. */
export function formatResponseFlags(bits: number): string {
  if (bits === 0) return '-';
  let s = cache.get(bits);
  if (s === undefined) {
    const parts: string[] = [];
    for (let i = 0; i < NAMES.length; i++) if ((bits & (1 << i)) !== 0) parts.push(NAMES[i]!);
    s = parts.join(',');
    cache.set(bits, s);
  }
  return s;
}
