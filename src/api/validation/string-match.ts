// StringMatch (`exact` | `prefix` | `regex`) as VirtualService matches and CORS origins use it.
// Envoy refuses empty prefixes and regexes, and runs regexes with RE2 anchored to the whole
// value; Istio's validateStringMatch / validateStringMatchRegexp check the same at admission.

import type { StringMatch } from '../types.js';
import type { Path, ValidationContext } from './context.js';
import { CODE_INVALID_REGEXP, re2Error } from './regex.js';
import { obj, str } from './schema.js';

export const stringMatchSchema = obj({ exact: str(), prefix: str(), regex: str() }, { oneOf: [['exact', 'prefix', 'regex']] });

export interface StringMatchRules {
  /** `exact: ""` is meaningless here (scheme, method, authority). */
  nonEmptyExact?: boolean;
  /** Regex is refused (delegating VirtualServices cannot merge regex matches). */
  noRegex?: string;
  /** A value that stands for "absent" and is not compiled (withoutHeaders `regex: "*"`). */
  allowRegex?: string;
}

/** Checks one StringMatch at `path` (already structurally valid). */
export function checkStringMatch(m: StringMatch, path: Path, ctx: ValidationContext, rules: StringMatchRules = {}): void {
  if (m.prefix === '') ctx.error([...path, 'prefix'], 'prefix string match should not be empty', 'use a non-empty prefix such as "/", or remove the match');
  if (rules.nonEmptyExact === true && m.exact === '') ctx.error([...path, 'exact'], 'exact string match should not be empty', 'give the value to match, or remove the match');
  if (m.regex === undefined) return;
  if (rules.noRegex !== undefined) {
    ctx.error([...path, 'regex'], rules.noRegex, 'use exact or prefix, or move the regex match into the delegate VirtualService without delegation');
    return;
  }
  if (m.regex === rules.allowRegex) return;
  if (m.regex === '') {
    ctx.error([...path, 'regex'], 'regex string match should not be empty', 'write a pattern, or use prefix: "/" to match everything');
    return;
  }
  const e = re2Error(m.regex);
  if (e !== undefined) ctx.error([...path, 'regex'], `invalid regex "${m.regex}": ${e}`, 'fix the pattern; RE2 matches the whole value, so "^" and "$" are optional', CODE_INVALID_REGEXP);
}
