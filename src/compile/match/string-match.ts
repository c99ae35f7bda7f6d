import RE2 from 're2';
import type { StringMatch } from '../../api/types.js';

export type StringMatcher = (value: string) => boolean;

/** An RE2 pattern anchored to the whole value, as Envoy's safe_regex (full match). */
export function compileFullRegex(pattern: string): RE2 {
  return new RE2(`^(?:${pattern})$`);
}

/**
 * Compiles an Istio StringMatch once. `exact`/`prefix`/`regex`; an empty match (`{}`) is a
 * presence test and is handled by the caller. `ignoreCase` applies to exact/prefix only
 * (regex case rules belong to the pattern, as in Envoy).
 */
export function compileStringMatch(m: StringMatch, ignoreCase = false): { test: StringMatcher; describe: string } {
  if (m.exact !== undefined) {
    const v = ignoreCase ? m.exact.toLowerCase() : m.exact;
    return ignoreCase
      ? { test: (s) => s.length === v.length && s.toLowerCase() === v, describe: `exact "${m.exact}" (ignore case)` }
      : { test: (s) => s === v, describe: `exact "${v}"` };
  }
  if (m.prefix !== undefined) {
    const v = ignoreCase ? m.prefix.toLowerCase() : m.prefix;
    return ignoreCase
      ? { test: (s) => s.length >= v.length && s.slice(0, v.length).toLowerCase() === v, describe: `prefix "${m.prefix}" (ignore case)` }
      : { test: (s) => s.startsWith(v), describe: `prefix "${v}"` };
  }
  if (m.regex !== undefined) {
    const re = compileFullRegex(m.regex);
    return { test: (s) => re.test(s), describe: `regex "${m.regex}"` };
  }
  return { test: () => true, describe: 'any' };
}

export function isEmptyStringMatch(m: StringMatch | undefined | null): boolean {
  return m === undefined || m === null || (m.exact === undefined && m.prefix === undefined && m.regex === undefined);
}
