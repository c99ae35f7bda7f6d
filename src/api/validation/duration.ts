// Durations as Istio reads them: Go's time.ParseDuration syntax (`1.5s`, `300ms`, `1h30m`, `0`),
// which is what Istio's JSON unmarshalling accepts for google.protobuf.Duration fields (its
// errors even say "time: unknown unit d in duration 1d"). Values are exact BigInt nanoseconds so
// that the "whole milliseconds" rule never trips on float rounding.

const UNIT_NS: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n, // U+00B5 micro sign
  'μs': 1_000n, // U+03BC Greek mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

const SEGMENT = /^(\d*)(?:\.(\d*))?([a-zµμ]+)/;

export const NS_PER_MS = 1_000_000n;

/** Nanoseconds, or an error message saying what is wrong with the text. */
export function parseGoDuration(text: string): bigint | string {
  let s = text;
  let neg = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') return `"${text}" is not a duration`;
  let total = 0n;
  while (s !== '') {
    const m = SEGMENT.exec(s);
    if (m === null) {
      if (/^[\d.]+$/.test(s)) return `"${text}" has no unit (write e.g. "${s}s" or "${s}ms")`;
      return `"${text}" is not a duration`;
    }
    const whole = m[1] ?? '';
    const frac = m[2] ?? '';
    const unit = m[3]!;
    if (whole === '' && frac === '') return `"${text}" is not a duration`;
    const scale = UNIT_NS[unit];
    if (scale === undefined) return `unknown unit "${unit}" in duration "${text}" (units: ns, us, ms, s, m, h)`;
    total += BigInt(whole === '' ? '0' : whole) * scale;
    if (frac !== '') {
      // Exact: frac digits / 10^len × scale, truncated like Go does.
      total += (BigInt(frac) * scale) / 10n ** BigInt(frac.length);
    }
    s = s.slice(m[0].length);
  }
  return neg ? -total : total;
}

/** Human form for messages: `1500ms`, `2s`, `90m`. */
export function formatNs(ns: bigint): string {
  if (ns % 3_600_000_000_000n === 0n && ns !== 0n) return `${ns / 3_600_000_000_000n}h`;
  if (ns % 60_000_000_000n === 0n && ns !== 0n) return `${ns / 60_000_000_000n}m`;
  if (ns % 1_000_000_000n === 0n) return `${ns / 1_000_000_000n}s`;
  if (ns % NS_PER_MS === 0n) return `${ns / NS_PER_MS}ms`;
  return `${ns}ns`;
}
