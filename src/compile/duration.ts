// Protobuf/Go durations as Istio accepts them: `1.5s`, `300ms`, `1h30m`, `10us`, `0s`.

const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, 'µs': 0.001, ns: 0.000001 };
const PART = /(\d+(?:\.\d*)?|\.\d+)(h|ms|m|s|us|µs|ns)/y;

/** Milliseconds, or null when the text is not a duration. */
export function parseDurationMs(text: string): number | null {
  if (typeof text !== 'string' || text === '') return null;
  let i = 0;
  let total = 0;
  const s = text.trim();
  while (i < s.length) {
    PART.lastIndex = i;
    const m = PART.exec(s);
    if (m === null) return null;
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    i = PART.lastIndex;
  }
  return i === 0 ? null : total;
}

export function durationMsOr(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  return parseDurationMs(text) ?? fallback;
}
