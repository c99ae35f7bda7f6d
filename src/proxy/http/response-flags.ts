// Envoy response flags as bits (ResponseFlagUtils' enum order), comma-joined when printed.

const NAMES = ['LH', 'UH', 'UT', 'LR', 'UR', 'UF', 'UC', 'UO', 'NR', 'DI', 'FI', 'RL', 'UAEX', 'RLSE', 'DC', 'URX', 'SI', 'IH', 'DPE', 'UMSDR', 'RFCF', 'NFCF', 'DT', 'UPE', 'NC', 'OM', 'DF', 'DO'] as const;

export type ResponseFlagName = (typeof NAMES)[number];

export const ResponseFlag = Object.freeze(Object.fromEntries(NAMES.map((n, i) => [n, 1 << i])) as Record<ResponseFlagName, number>);

// Print order. Envoy ≥ 1.30 (Istio ≥ 1.22) prints the flags in the order they were set; these
// bits keep no order, so print them in the order Envoy sets them on a request: downstream
// errors, filters (ext_authz, rate limit, fault), routing, the pool, then the retry verdict
// (URX) before the failure that ended the last try (`503 URX,UF`, as istio-proxy logs it).
const PRINT_ORDER: readonly ResponseFlagName[] = ['DPE', 'IH', 'LH', 'UAEX', 'RLSE', 'RL', 'DI', 'FI', 'NR', 'NC', 'NFCF', 'DO', 'OM', 'UH', 'UO', 'URX', 'UT', 'LR', 'UR', 'UF', 'UC', 'UPE', 'UMSDR', 'DT', 'DF', 'SI', 'DC', 'RFCF'];
const PRINT_BITS = PRINT_ORDER.map((n) => [n, 1 << NAMES.indexOf(n)] as const);

const cache = new Map<number, string>();

/** `-` when none, else e.g. `URX,UF`. Cached: few combinations occur. */
export function formatResponseFlags(bits: number): string {
  if (bits === 0) return '-';
  let s = cache.get(bits);
  if (s === undefined) {
    const parts: string[] = [];
    for (const [name, bit] of PRINT_BITS) if ((bits & bit) !== 0) parts.push(name);
    s = parts.join(',');
    cache.set(bits, s);
  }
  return s;
}
