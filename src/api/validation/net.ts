// IP addresses, CIDR blocks and ports as Istio's Go code parses them (netip.ParseAddr /
// netip.ParsePrefix / strconv). Node's net.isIP rejects the same malformed forms netip does
// (leading zeros, out-of-range octets).

import { isIP } from 'node:net';

/** agent.ValidateIPSubnet: `a.b.c.d`, `a.b.c.d/xx`, `2001:db8::/32`. */
export function ipOrCidrError(s: string): string | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return isIP(s) === 0 ? `${JSON.stringify(s)} is not a valid IP` : undefined;
  const addr = s.slice(0, slash);
  const bits = s.slice(slash + 1);
  const fam = isIP(addr);
  if (fam === 0 || !/^\d{1,3}$/.test(bits) || Number(bits) > (fam === 4 ? 32 : 128) || s.indexOf('/', slash + 1) >= 0) {
    return `${JSON.stringify(s)} is not a valid CIDR block`;
  }
  return undefined;
}

export function isCidr(s: string): boolean {
  return s.includes('/');
}

/** agent.ValidatePort: 1..65535. */
export function portError(n: number): string | undefined {
  return Number.isInteger(n) && n >= 1 && n <= 65535 ? undefined : `port number ${n} must be in the range 1..65535`;
}

/** security.ValidatePorts: decimal strings 0..65535 (AuthorizationPolicy ports are strings). */
export function portStringError(s: string): string | undefined {
  return /^\d+$/.test(s) && Number(s) <= 65535 ? undefined : `invalid port: ${JSON.stringify(s)} (must be a number 0..65535 written as a string)`;
}
