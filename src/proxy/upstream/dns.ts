import { lookup } from 'node:dns';
import { isIP } from 'node:net';

/** How often DNS clusters re-resolve (Envoy's dns_refresh_rate default is 5 s; Istio keeps it). */
export const DNS_REFRESH_MS = 5_000;

/**
 * Resolves host names for DNS clusters: `--resolve HOST=IP` overrides first (they also take
 * `*.suffix=IP`), then the system resolver, every address (Envoy STRICT_DNS uses all of them).
 */
export class DnsResolver {
  readonly #overrides: ReadonlyMap<string, string[]>;

  constructor(overrides: ReadonlyMap<string, string[]> = new Map()) {
    this.#overrides = overrides;
  }

  override(host: string): string[] | undefined {
    const h = host.toLowerCase();
    const exact = this.#overrides.get(h);
    if (exact !== undefined) return exact;
    for (const [k, v] of this.#overrides) if (k.startsWith('*.') && h.endsWith(k.slice(1))) return v;
    return undefined;
  }

  resolve(host: string, cb: (err: Error | null, addresses: string[]) => void): void {
    if (isIP(host) !== 0) { cb(null, [host]); return; }
    const o = this.override(host);
    if (o !== undefined) { cb(null, o); return; }
    lookup(host, { all: true }, (err, addrs) => {
      if (err !== null) cb(err, []);
      else cb(null, addrs.map((a) => a.address));
    });
  }
}

/** Parses `--resolve a.com=127.0.0.1,b.com=::1` (several IPs per host allowed: repeat the host). */
export function parseResolveFlag(values: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const v of values) {
    for (const part of v.split(',')) {
      const t = part.trim();
      if (t === '') continue;
      const eq = t.indexOf('=');
      if (eq <= 0) throw new Error(`--resolve ${t}: expected HOST=IP`);
      const host = t.slice(0, eq).toLowerCase();
      const ip = t.slice(eq + 1);
      if (isIP(ip) === 0) throw new Error(`--resolve ${t}: ${ip} is not an IP address`);
      const list = out.get(host) ?? [];
      list.push(ip);
      out.set(host, list);
    }
  }
  return out;
}
