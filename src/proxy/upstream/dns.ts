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

  /**
   * Resolves `host` for a connection to `port`: a `--resolve HOST:PORT=IP:PORT` override
   * redirects that host and port (curl's --connect-to), e.g. a ServiceEntry's port 443 to a
   * local test server; otherwise `resolve` with the port unchanged.
   */
  resolveEndpoint(host: string, port: number, cb: (err: Error | null, endpoints: { address: string; port: number }[]) => void): void {
    const h = host.toLowerCase();
    let o = this.#overrides.get(`${h}:${port}`);
    if (o === undefined) for (const [k, v] of this.#overrides) if (k.startsWith('*.') && k.endsWith(`:${port}`) && h.endsWith(k.slice(1, -`:${port}`.length))) { o = v; break; }
    if (o !== undefined) { cb(null, o.map(splitHostPort)); return; }
    this.resolve(host, (err, addrs) => cb(err, addrs.map((address) => ({ address, port }))));
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

function splitHostPort(v: string): { address: string; port: number } {
  const i = v.lastIndexOf(':');
  return { address: v.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(v.slice(i + 1)) };
}

/**
 * Parses `--resolve a.com=127.0.0.1,b.com=::1` (several IPs per host allowed: repeat the host),
 * and `a.com:443=127.0.0.1:8443` (that host and port go to that address and port).
 */
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
      const hostPort = /^([^:\[\]]+):(\d+)$/.exec(host);
      if (hostPort !== null) {
        const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(ip);
        const addr = m?.[1] ?? m?.[2] ?? '';
        if (m === null || isIP(addr) === 0 || Number(m[3]) < 1 || Number(m[3]) > 65535 || Number(hostPort[2]) > 65535) throw new Error(`--resolve ${t}: expected HOST:PORT=IP:PORT, e.g. api.example.com:443=127.0.0.1:8443`);
        const list = out.get(host) ?? [];
        list.push(`${addr.includes(':') ? `[${addr}]` : addr}:${m[3]}`);
        out.set(host, list);
        continue;
      }
      if (isIP(ip) === 0) throw new Error(`--resolve ${t}: ${ip} is not an IP address`);
      const list = out.get(host) ?? [];
      list.push(ip);
      out.set(host, list);
    }
  }
  return out;
}
