// RequestAuthentication → JwtAuthnConfig: jwtRules of every attached object (root namespace,
// workload namespace, selector) combine into one provider list, as Istio merges them.

import type { Resource } from '../../config/resource.js';
import { resourceRef } from '../../config/resource.js';
import { LocationKind, TokenCache, type JwtAuthnConfig, type JwtLocation, type JwtProvider } from '../../proxy/filters/jwt-authn/config.js';
import { JWKS_DEFAULT_TIMEOUT_MS, JwksSource, remoteJwksSource } from '../../security/jwks.js';
import type { CompileContext } from '../context.js';
import { durationMsOr } from '../duration.js';

type RA = Resource<'RequestAuthentication'>;

/** Envoy's default token locations when a rule names none. */
const DEFAULT_LOCATIONS: readonly { kind: LocationKind; name: string; prefix: string }[] = [
  { kind: LocationKind.Header, name: 'authorization', prefix: 'Bearer ' },
  { kind: LocationKind.Param, name: 'access_token', prefix: '' },
];

/**
 * The jwt_authn config for the workload, or null when no RequestAuthentication (with rules)
 * applies. JWKS sources are shared process-wide by URI, so reloads keep fetched keys.
 */
export function compileJwtAuthn(ctx: CompileContext, ras: readonly RA[]): JwtAuthnConfig | null {
  const providers: JwtProvider[] = [];
  const locations: { kind: LocationKind; name: string; prefix: string; providers: JwtProvider[] }[] = [];
  const addLocation = (kind: LocationKind, name: string, prefix: string, p: JwtProvider): void => {
    let l = locations.find((x) => x.kind === kind && x.name === name && x.prefix === prefix);
    if (l === undefined) locations.push((l = { kind, name, prefix, providers: [] }));
    l.providers.push(p);
  };
  for (const ra of ras) {
    (ra.spec.jwtRules ?? []).forEach((rule, i) => {
      const at = ['spec', 'jwtRules', i];
      const timeoutMs = durationMsOr(rule.timeout, JWKS_DEFAULT_TIMEOUT_MS);
      let keys: JwksSource;
      if (rule.jwks !== undefined && rule.jwks !== '') {
        try {
          keys = new JwksSource({ inline: rule.jwks });
        } catch (e) {
          ctx.report(ra, [...at, 'jwks'], 'SLU0510', 'warning', `inline jwks cannot be used (${(e as Error).message}); tokens from ${rule.issuer} are rejected`, 'paste a JSON Web Key Set with public keys');
          keys = new JwksSource({ inline: '{"keys":[]}' });
        }
      } else if (rule.jwksUri !== undefined && rule.jwksUri !== '') {
        keys = remoteJwksSource({ uri: rule.jwksUri, discoveryIssuer: null, timeoutMs });
      } else {
        // Istio: neither jwks nor jwksUri → OpenID Connect discovery from the issuer.
        keys = remoteJwksSource({ uri: null, discoveryIssuer: rule.issuer, timeoutMs });
      }
      const p: JwtProvider = Object.freeze({
        origin: `${resourceRef(ra)} jwtRules[${i}]`,
        source: ra.pos(at),
        issuer: rule.issuer,
        audiences: rule.audiences !== undefined && rule.audiences.length > 0 ? Object.freeze([...rule.audiences]) : null,
        keys,
        forwardOriginalToken: rule.forwardOriginalToken === true,
        outputPayloadToHeader: rule.outputPayloadToHeader !== undefined && rule.outputPayloadToHeader !== '' ? rule.outputPayloadToHeader : null,
        outputClaimToHeaders: Object.freeze((rule.outputClaimToHeaders ?? []).map((o) => Object.freeze({ header: o.header, claim: Object.freeze(splitClaim(o.claim)) }))),
      });
      providers.push(p);
      const explicit = (rule.fromHeaders?.length ?? 0) + (rule.fromParams?.length ?? 0) + (rule.fromCookies?.length ?? 0) > 0;
      if (!explicit) for (const d of DEFAULT_LOCATIONS) addLocation(d.kind, d.name, d.prefix, p);
      for (const h of rule.fromHeaders ?? []) addLocation(LocationKind.Header, h.name.toLowerCase(), h.prefix ?? '', p);
      for (const q of rule.fromParams ?? []) addLocation(LocationKind.Param, q, '', p);
      for (const c of rule.fromCookies ?? []) addLocation(LocationKind.Cookie, c, '', p);
    });
  }
  if (providers.length === 0) return null;
  const issuers = new Map<string, number>();
  for (const p of providers) issuers.set(p.issuer, (issuers.get(p.issuer) ?? 0) + 1);
  for (const [iss, n] of issuers) {
    if (n > 1) {
      const ra = ras.find((r) => (r.spec.jwtRules ?? []).some((j) => j.issuer === iss))!;
      ctx.report(ra, ['spec', 'jwtRules'], 'SLU0511', 'info', `${n} jwtRules for issuer ${iss} apply to this workload; a token passes when any of them accepts it`);
    }
  }
  return Object.freeze({
    providers: Object.freeze(providers),
    locations: Object.freeze(locations.map((l): JwtLocation => Object.freeze({ kind: l.kind, name: l.name, prefix: l.prefix, providers: Object.freeze(l.providers) }))),
    clockSkewSeconds: 60,
    cache: new TokenCache(),
  });
}

/** Istio's claim paths: `a.b` reaches the nested claim b of a. */
function splitClaim(claim: string): string[] {
  return claim.includes('.') ? claim.split('.') : [claim];
}
