// Envoy-style counters for the security and rate-limit filters (`http.<stat_prefix>.<filter>.<name>`,
// e.g. `http_local_rate_limiter.http_local_rate_limit.rate_limited`). Created when a config is
// compiled or first used, shared across snapshots (Envoy keeps stats across listener updates),
// and only incremented on the request path.

export class Counter {
  value = 0;
  inc(): void {
    this.value++;
  }
}

const counters = new Map<string, Counter>();

/** The counter with this full name, created on first use. */
export function counter(name: string): Counter {
  let c = counters.get(name);
  if (c === undefined) counters.set(name, (c = new Counter()));
  return c;
}

/** `name: value` lines for the admin /stats page, sorted by name (default: this process's counters). */
export function filterStatLines(values: ReadonlyMap<string, number> = new Map([...counters].map(([k, c]) => [k, c.value]))): string[] {
  return [...values.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([k, v]) => `${k}: ${v}`);
}

/** Every counter's value (a worker's report to the primary, which sums them). */
export function filterCounterValues(): Record<string, number> {
  return Object.fromEntries([...counters].map(([k, c]) => [k, c.value]));
}

/** Current value of a counter (0 when it was never created); for tests and the admin API. */
export function counterValue(name: string): number {
  return counters.get(name)?.value ?? 0;
}
