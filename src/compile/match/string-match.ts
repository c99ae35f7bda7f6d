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
export function compileStringMatch(m: StringMatch, ignoreCase = false): CompiledStringMatch {
  if (m.exact !== undefined) {
    const v = ignoreCase ? m.exact.toLowerCase() : m.exact;
    return ignoreCase
      ? { test: (s) => s.length === v.length && s.toLowerCase() === v, describe: `exact "${m.exact}" (ignore case)`, op: 'exact', value: m.exact, ignoreCase }
      : { test: (s) => s === v, describe: `exact "${v}"`, op: 'exact', value: v, ignoreCase };
  }
  if (m.prefix !== undefined) {
    const v = ignoreCase ? m.prefix.toLowerCase() : m.prefix;
    return ignoreCase
      ? { test: (s) => s.length >= v.length && s.slice(0, v.length).toLowerCase() === v, describe: `prefix "${m.prefix}" (ignore case)`, op: 'prefix', value: m.prefix, ignoreCase }
      : { test: (s) => s.startsWith(v), describe: `prefix "${v}"`, op: 'prefix', value: v, ignoreCase };
  }
  if (m.regex !== undefined) {
    const re = compileFullRegex(m.regex);
    return { test: (s) => re.test(s), describe: `regex "${m.regex}"`, op: 'regex', value: m.regex, ignoreCase: false };
  }
  return { test: () => true, describe: 'any', op: 'any', value: '', ignoreCase: false };
}

/** How a string is matched, kept beside the compiled test for trace and the analyzers. */
export type StringMatchOp = 'exact' | 'prefix' | 'regex' | 'any';

export interface CompiledStringMatch {
  readonly test: StringMatcher;
  readonly describe: string;
  readonly op: StringMatchOp;
  /** The pattern as written (exact value, prefix, regex source). */
  readonly value: string;
  readonly ignoreCase: boolean;
}

export function isEmptyStringMatch(m: StringMatch | undefined | null): boolean {
  return m === undefined || m === null || (m.exact === undefined && m.prefix === undefined && m.regex === undefined);
}
