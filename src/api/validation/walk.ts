// Interprets schema.ts against a parsed YAML value, reporting every structural problem with its
// exact path. Returns whether the value has the declared JS shape, so a hook (`check`) only runs
// on values that satisfy `types.ts`. Unknown fields do not make a value ill-shaped: the extra key
// cannot break code that reads the known ones, and semantic checks above it still run.

import type { Path, ValidationContext } from './context.js';
import { didYouMean, suggest } from './did-you-mean.js';
import { formatNs, NS_PER_MS, parseGoDuration } from './duration.js';
import type { EnumSchema, ObjectSchema, Schema } from './schema.js';

export const CODE_DEPRECATED = 'SLU0103';
export const CODE_UNKNOWN_FIELD_WARN = 'SLU0102';

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** `string "80"`, `number 80`, `a list`, … for "expected X, got Y" messages. */
export function describe(v: unknown): string {
  if (v === null) return 'null (an empty value)';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v)}`;
  return `${typeof v} ${String(v)}`;
}

function typeError(expected: string, v: unknown, path: Path, ctx: ValidationContext, fix?: string): false {
  let f = fix;
  if (f === undefined) {
    if (v === null) f = 'give the field a value, or delete the line (check the indentation of the lines below it)';
    else if (expected.startsWith('a string') && (typeof v === 'number' || typeof v === 'boolean')) f = `quote the value: "${String(v)}"`;
    else if ((expected.startsWith('an integer') || expected.startsWith('a number')) && typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v)) f = `write the number without quotes: ${v}`;
    else if (expected === 'a boolean' && (v === 'true' || v === 'false')) f = `write ${v} without quotes`;
    else if (expected.startsWith('a list') && !Array.isArray(v)) f = 'write the value as a YAML list (each item on its own line starting with "- ")';
  }
  ctx.error(path, `expected ${expected}, got ${describe(v)}`, f);
  return false;
}

// Objects and lists that failed their structural check, and which of their keys/indices did.
// Lets a kind's cross-field checks, which run after the walk, skip exactly the parts that are
// ill-shaped instead of giving up entirely.
const illShaped = new WeakSet<object>();
const badKeys = new WeakMap<object, Set<string | number>>();

function markBad(container: object, key: string | number): void {
  let set = badKeys.get(container);
  if (set === undefined) badKeys.set(container, (set = new Set()));
  set.add(key);
}

/** True when `v` was walked and has its declared shape (only meaningful after `walk`). */
export function shaped(v: unknown): boolean {
  return v !== null && typeof v === 'object' && !illShaped.has(v);
}

/** The well-shaped items of a walked list with their original indices (for paths). */
export function cleanItems<T>(v: readonly T[] | undefined): [T, number][] {
  if (!Array.isArray(v)) return [];
  const bad = badKeys.get(v);
  const out: [T, number][] = [];
  v.forEach((x, i) => {
    if (bad === undefined || !bad.has(i)) out.push([x, i]);
  });
  return out;
}

/** Checks `v` against `s` at `path`; returns true when the value has the declared shape. */
export function walk(v: unknown, s: Schema, path: Path, ctx: ValidationContext): boolean {
  const ok = walkNode(v, s, path, ctx);
  if (!ok && v !== null && typeof v === 'object') illShaped.add(v);
  return ok;
}

function walkNode(v: unknown, s: Schema, path: Path, ctx: ValidationContext): boolean {
  if (s.deprecated !== undefined) ctx.warning(path, s.deprecated, undefined, CODE_DEPRECATED);
  let ok: boolean;
  switch (s.t) {
    case 'string':
      if (typeof v !== 'string') return typeError('a string', v, path, ctx);
      // Rules below report an error but keep the value well-typed, so hooks still run.
      if (s.nonEmpty === true && v === '') ctx.error(path, 'must not be empty');
      ok = true;
      break;
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v)) return typeError('an integer', v, path, ctx);
      if (v < s.min || v > s.max) ctx.error(path, `${v} is out of range ${s.min}..${s.max}`, `use a value between ${s.min} and ${s.max}`);
      ok = true;
      break;
    case 'number':
      if (typeof v !== 'number' || !Number.isFinite(v)) return typeError('a number', v, path, ctx);
      if ((s.min !== undefined && v < s.min) || (s.max !== undefined && v > s.max)) ctx.error(path, `${v} is out of range ${s.min ?? '-∞'}..${s.max ?? '∞'}`);
      ok = true;
      break;
    case 'bool':
      if (typeof v !== 'boolean') return typeError('a boolean', v, path, ctx);
      ok = true;
      break;
    case 'enum':
      ok = walkEnum(v, s, path, ctx);
      break;
    case 'duration':
      ok = walkDuration(v, s.msPrecision === true, s.minMs, path, ctx);
      break;
    case 'intOrString':
      if (typeof v !== 'string' && !(typeof v === 'number' && Number.isInteger(v))) return typeError('an integer or a string', v, path, ctx);
      ok = true;
      break;
    case 'any':
      ok = true;
      break;
    case 'list': {
      if (!Array.isArray(v)) return typeError(`a list`, v, path, ctx);
      ok = true;
      for (let i = 0; i < v.length; i++) {
        if (!walk(v[i], s.items, [...path, i], ctx)) {
          markBad(v, i);
          ok = false;
        }
      }
      if (s.minItems !== undefined && v.length < s.minItems) {
        ctx.error(path, s.minItems === 1 ? 'must have at least one item' : `must have at least ${s.minItems} items`);
      }
      if (s.maxItems !== undefined && v.length > s.maxItems) {
        ctx.error(path, `has ${v.length} items; at most ${s.maxItems} allowed`);
      }
      break;
    }
    case 'map': {
      if (!isPlainObject(v)) return typeError('a mapping', v, path, ctx);
      ok = true;
      for (const k of Object.keys(v)) {
        const p = [...path, k];
        if (s.key !== undefined) {
          const msg = s.key(k);
          if (msg !== undefined) ctx.error(p, msg);
        }
        if (!walk(v[k], s.values, p, ctx)) {
          markBad(v, k);
          ok = false;
        }
      }
      break;
    }
    case 'object':
      ok = walkObject(v, s, path, ctx);
      break;
  }
  if (ok && s.check !== undefined) s.check(v, path, ctx);
  return ok;
}

function walkEnum(v: unknown, s: EnumSchema, path: Path, ctx: ValidationContext): boolean {
  if (typeof v !== 'string') {
    return typeError('a string', v, path, ctx, `use one of: ${s.values.join(', ')}`);
  }
  if (s.values.includes(v)) return true;
  if (s.caseInsensitive === true && s.values.some((x) => x.toLowerCase() === v.toLowerCase())) return true;
  const guess = suggest(v, s.values);
  const fix = (guess !== undefined ? s.fixes?.[guess] : undefined) ?? `use one of: ${s.values.join(', ')}${s.caseInsensitive === true ? '' : ' (case-sensitive)'}`;
  ctx.error(path, `unknown value "${v}"${guess !== undefined ? `; did you mean "${guess}"?` : ''}`, fix);
  return false;
}

function walkDuration(v: unknown, msPrecision: boolean, minMs: number | undefined, path: Path, ctx: ValidationContext): boolean {
  if (typeof v !== 'string') {
    const fix = typeof v === 'number' ? `write a duration with a unit, e.g. "${v}s" or "${v}ms"` : 'write a duration like "1.5s", "300ms" or "1h"';
    return typeError('a duration string', v, path, ctx, fix);
  }
  const ns = parseGoDuration(v);
  if (typeof ns === 'string') {
    ctx.error(path, ns, 'write a duration like "1.5s", "300ms", "1m" or "1h" (Go syntax)');
    return false;
  }
  if (minMs !== undefined && ns < BigInt(minMs) * NS_PER_MS) {
    ctx.error(path, `duration ${v} must be at least ${minMs}ms`, `use a value of ${minMs}ms or more`);
    return false;
  }
  if (msPrecision && ns % NS_PER_MS !== 0n) {
    ctx.error(path, `duration ${v} is not a whole number of milliseconds; only millisecond precision is supported`, `round it, e.g. ${formatNs((ns / NS_PER_MS + 1n) * NS_PER_MS)}`);
    return false;
  }
  return true;
}

function walkObject(v: unknown, s: ObjectSchema, path: Path, ctx: ValidationContext): boolean {
  if (!isPlainObject(v)) return typeError('a mapping', v, path, ctx);
  let ok = true;
  for (const k of Object.keys(v)) {
    const fs = s.fields[k];
    if (fs === undefined) {
      reportUnknown(k, s, [...path, k], ctx);
      continue;
    }
    if (!walk(v[k], fs, [...path, k], ctx)) {
      markBad(v, k);
      ok = false;
    }
  }
  if (s.required !== undefined) {
    for (const r of s.required) {
      if (v[r] === undefined) {
        ctx.error([...path, r], `required field "${r}" is missing`, `add ${r}: ... here (check the indentation if it is written elsewhere)`);
        ok = false;
      }
    }
  }
  if (s.oneOf !== undefined) {
    for (const group of s.oneOf) {
      const set = group.filter((g) => v[g] !== undefined);
      if (set.length > 1) {
        ctx.error([...path, set[1]!], `only one of ${group.map((g) => `"${g}"`).join(', ')} may be set; found ${set.map((g) => `"${g}"`).join(' and ')}`, `keep one of ${set.join(' / ')} and remove the other`);
      }
    }
  }
  return ok;
}

function reportUnknown(k: string, s: ObjectSchema, path: Path, ctx: ValidationContext): void {
  const known = Object.keys(s.fields);
  const hint = s.hints?.[k];
  const guess = hint === undefined ? didYouMean(k, known) : '';
  const fix = hint ?? `remove it or fix the spelling; fields allowed here: ${known.join(', ')}`;
  if (s.unknown === 'warn') ctx.warning(path, `unknown field "${k}" is ignored${guess}`, fix, CODE_UNKNOWN_FIELD_WARN);
  else ctx.error(path, `unknown field "${k}"${guess}`, fix);
}
