// Host names as Istio treats them: short names expand against the namespace of the rule that
// mentions them, wildcards are whole leftmost labels, everything is case-insensitive.

export const DEFAULT_DOMAIN_SUFFIX = 'cluster.local';

/**
 * `reviews` in namespace `default` → `reviews.default.svc.cluster.local`; names with a dot,
 * `*` and IP addresses are literal. Lower-cased.
 */
export function normalizeHost(host: string, namespace: string, domainSuffix = DEFAULT_DOMAIN_SUFFIX): string {
  const h = host.toLowerCase();
  if (h === '*' || h.includes('.') || h.includes(':')) return h;
  return `${h}.${namespace}.svc.${domainSuffix}`;
}

export function isWildcard(host: string): boolean {
  return host.startsWith('*');
}

/** Does pattern `a` (possibly `*.x` or `*`) cover concrete-or-pattern `b`? */
export function hostCovers(pattern: string, host: string): boolean {
  if (pattern === '*') return true;
  if (pattern === host) return true;
  if (pattern.startsWith('*')) {
    const suffix = pattern.slice(1); // ".example.com"
    if (host.startsWith('*')) return host.slice(1).endsWith(suffix) && host.length >= pattern.length;
    return host.endsWith(suffix) && host.length > suffix.length;
  }
  return false;
}

/**
 * The intersection of two host patterns as Istio computes it: equal names, or the more specific
 * of the two when one wildcard covers the other. `null` when they do not intersect.
 */
export function intersectHosts(a: string, b: string): string | null {
  if (a === b) return a;
  if (hostCovers(a, b)) return b;
  if (hostCovers(b, a)) return a;
  return null;
}

/** Splits a Gateway server host `ns/dnsName` into its parts; `*`/absent namespace = any. */
export function splitServerHost(h: string): { namespace: string; host: string } {
  const i = h.indexOf('/');
  if (i < 0) return { namespace: '*', host: h.toLowerCase() };
  return { namespace: h.slice(0, i), host: h.slice(i + 1).toLowerCase() };
}

/** Strips a `:port` suffix from a Host/:authority value (IPv6 literals in brackets kept). */
export function stripPort(authority: string): string {
  const last = authority.charCodeAt(authority.length - 1);
  if (last === 93 /* ] */) return authority;
  const i = authority.lastIndexOf(':');
  if (i < 0) return authority;
  if (authority.charCodeAt(0) === 91 /* [ */) return authority.slice(0, i);
  // A bare IPv6 address has several colons and no port.
  if (authority.indexOf(':') !== i) return authority;
  return authority.slice(0, i);
}

/** Lower-cases only when needed: most Host headers are already lower-case. */
export function lowerAscii(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) return s.toLowerCase();
  }
  return s;
}
