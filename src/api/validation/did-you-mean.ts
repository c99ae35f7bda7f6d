// "Did you mean X?" for misspelled field names and enum values. Users mostly make three kinds of
// slips: wrong case (`simple`), a few wrong letters (`retryOns`), or a plausible-looking but
// longer/shorter name (`ISTIO_MUTUAL_TLS`). Case-insensitive edit distance with a length-scaled
// threshold catches the first two; prefix containment catches the third.

/** Levenshtein distance with an early exit once every cell of a row exceeds `max`. */
export function editDistance(a: string, b: string, max = Infinity): number {
  if (a === b) return 0;
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev = new Array<number>(b.length + 1);
  let cur = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      const v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      cur[j] = v;
      if (v < rowMin) rowMin = v;
    }
    if (rowMin > max) return max + 1;
    [prev, cur] = [cur, prev];
  }
  return prev[b.length]!;
}

/**
 * The closest candidate to `input`, or undefined when nothing is close enough to be a useful
 * suggestion. Case differences are free; the allowed distance grows with the word's length.
 */
export function suggest(input: string, candidates: Iterable<string>): string | undefined {
  const lower = input.toLowerCase();
  let best: string | undefined;
  let bestScore = Infinity;
  for (const c of candidates) {
    const cl = c.toLowerCase();
    if (cl === lower) return c;
    const max = Math.max(1, Math.floor(Math.max(cl.length, lower.length) / 3));
    let d = editDistance(lower, cl, max);
    // `ISTIO_MUTUAL_TLS` vs `ISTIO_MUTUAL`, `credential` vs `credentialName`: one is a prefix.
    if (d > max && Math.min(cl.length, lower.length) >= 4 && (cl.startsWith(lower) || lower.startsWith(cl))) {
      d = max;
    }
    if (d <= max && d < bestScore) {
      best = c;
      bestScore = d;
    }
  }
  return best;
}

/** `; did you mean "x"?` or the empty string. */
export function didYouMean(input: string, candidates: Iterable<string>): string {
  const s = suggest(input, candidates);
  return s === undefined ? '' : `; did you mean "${s}"?`;
}
