import type { HeaderOperations } from '../api/types.js';

/**
 * Header changes compiled once: names lower-cased for matching, kept as written for sending.
 * Applied in Envoy's order: remove, then set (replace), then add (append).
 */
export interface HeaderMutation {
  readonly set: readonly (readonly [lower: string, name: string, value: string])[];
  readonly add: readonly (readonly [lower: string, name: string, value: string])[];
  readonly remove: readonly string[];
  /** `set`/`add` of `:authority` or `host`: rewrites the authority. */
  readonly authority: string | null;
}

export function compileHeaderMutation(ops: HeaderOperations | undefined): HeaderMutation | null {
  if (ops === undefined) return null;
  let authority: string | null = null;
  const set: [string, string, string][] = [];
  const add: [string, string, string][] = [];
  for (const [name, value] of Object.entries(ops.set ?? {})) {
    const lower = name.toLowerCase();
    if (lower === ':authority' || lower === 'host') { authority = value; continue; }
    set.push([lower, name, String(value)]);
  }
  for (const [name, value] of Object.entries(ops.add ?? {})) {
    const lower = name.toLowerCase();
    if (lower === ':authority' || lower === 'host') { authority = value; continue; }
    add.push([lower, name, String(value)]);
  }
  const remove = (ops.remove ?? []).map((n) => n.toLowerCase());
  if (set.length === 0 && add.length === 0 && remove.length === 0 && authority === null) return null;
  return Object.freeze({ set, add, remove, authority });
}

/** Rule-level and destination-level mutations combined; the destination's is applied first. */
export function mergeHeaderMutations(first: HeaderMutation | null, second: HeaderMutation | null): HeaderMutation | null {
  if (first === null) return second;
  if (second === null) return first;
  return Object.freeze({
    set: [...first.set, ...second.set],
    add: [...first.add, ...second.add],
    remove: [...first.remove, ...second.remove],
    authority: second.authority ?? first.authority,
  });
}
