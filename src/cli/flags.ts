// Parsers for the flag values of the `run` contract (DESIGN.md). Each throws a message that
// names the flag and the expected shape; the CLI prints it and exits 2.

export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** `k=v,k2=v2` → record. */
export function parseLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',')) {
    const t = part.trim();
    if (t === '') continue;
    const eq = t.indexOf('=');
    if (eq <= 0) throw new Error(`--labels ${t}: expected key=value`);
    out[t.slice(0, eq)] = t.slice(eq + 1);
  }
  return out;
}

/** `80=8080,443=8443` → Map(80 → 8080). Port 0 binds an ephemeral port. */
export function parsePortMap(values: readonly string[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const v of values) {
    for (const part of v.split(',')) {
      const t = part.trim();
      if (t === '') continue;
      const m = /^(\d+)[=:](\d+)$/.exec(t);
      if (m === null) throw new Error(`--port-map ${t}: expected SERVICE_PORT=LOCAL_PORT, e.g. 80=8080`);
      const from = Number(m[1]);
      const to = Number(m[2]);
      if (from < 1 || from > 65535 || to > 65535) throw new Error(`--port-map ${t}: ports must be 1-65535 (local port 0 = any free port)`);
      out.set(from, to);
    }
  }
  return out;
}

export function parsePort(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${flag} ${text}: expected a port number 0-65535`);
  return n;
}
