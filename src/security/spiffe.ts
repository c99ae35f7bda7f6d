// SPIFFE identities as Istio issues them: spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>.
// Authorization principals are the same string without the `spiffe://` scheme.

export const SPIFFE_PREFIX = 'spiffe://';

export interface SpiffeIdentity {
  readonly trustDomain: string;
  readonly namespace: string;
  readonly serviceAccount: string;
}

export function spiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `${SPIFFE_PREFIX}${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

/** Parses `spiffe://td/ns/x/sa/y`; null for anything else (another SPIFFE shape, a DNS SAN...). */
export function parseSpiffeId(uri: string): SpiffeIdentity | null {
  if (!uri.startsWith(SPIFFE_PREFIX)) return null;
  const parts = uri.slice(SPIFFE_PREFIX.length).split('/');
  if (parts.length !== 5 || parts[1] !== 'ns' || parts[3] !== 'sa') return null;
  const [trustDomain, , namespace, , serviceAccount] = parts as [string, string, string, string, string];
  if (trustDomain === '' || namespace === '' || serviceAccount === '') return null;
  return { trustDomain, namespace, serviceAccount };
}

/** The authorization principal of a SPIFFE URI (`cluster.local/ns/default/sa/sleep`). */
export function principalOf(uri: string): string {
  return uri.startsWith(SPIFFE_PREFIX) ? uri.slice(SPIFFE_PREFIX.length) : uri;
}
