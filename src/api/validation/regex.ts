// RE2 syntax checks. Istio validates regexes with Go's regexp (RE2 syntax) and Envoy runs them
// with RE2, so a pattern that only JavaScript understands (look-behind, back-references) must be
// refused at load time. We compile with the `re2` binding, the same engine the data plane uses.

import RE2 from 're2';

export const CODE_INVALID_REGEXP = 'IST0122';

/** Istio approximates Envoy's re2.max_program_size by source length. */
const MAX_REGEX_LENGTH = 1024;

// The same patterns recur across thousands of resources (e.g. one header regex in every VS);
// remember verdicts, bounded so a hostile config cannot grow memory without limit.
const verdicts = new Map<string, string | null>();
const MAX_CACHED = 4096;

/** Why `src` is not a usable RE2 pattern, or undefined. */
export function re2Error(src: string): string | undefined {
  if (src.length > MAX_REGEX_LENGTH) return `regex is too large (${src.length} characters), max length allowed is ${MAX_REGEX_LENGTH}`;
  const cached = verdicts.get(src);
  if (cached !== undefined) return cached ?? undefined;
  let verdict: string | null = null;
  try {
    new RE2(src);
  } catch (e) {
    const msg = (e as Error).message;
    const jsOnly = /perl operator|escape sequence: \\[1-9k]/.test(msg) ? ' (look-around and back-references are JavaScript/PCRE features RE2 does not have)' : '';
    verdict = `${msg}${jsOnly}; Istio uses RE2 syntax, see https://github.com/google/re2/wiki/Syntax`;
  }
  if (verdicts.size >= MAX_CACHED) verdicts.clear();
  verdicts.set(src, verdict);
  return verdict ?? undefined;
}
