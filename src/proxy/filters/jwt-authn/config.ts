// Envoy jwt_authn configuration as Istio generates it from RequestAuthentication: one provider
// per jwtRule, requirement "any provider, or no token at all" (allow_missing), token locations
// from fromHeaders / fromParams / fromCookies or Envoy's defaults (Authorization: Bearer, then
// ?access_token=). Built once per snapshot by src/compile/security/jwt.ts.

import type { SourcePos } from '../../../config/diagnostic.js';
import type { JwksSource } from '../../../security/jwks.js';

export interface JwtProvider {
  /** `RequestAuthentication ns/name jwtRules[i]`, for logs. */
  readonly origin: string;
  /** Where the jwtRule is written (for trace). */
  readonly source: SourcePos;
  readonly issuer: string;
  /** Allowed `aud` values (any of); null = not checked. */
  readonly audiences: readonly string[] | null;
  readonly keys: JwksSource;
  readonly forwardOriginalToken: boolean;
  readonly outputPayloadToHeader: string | null;
  readonly outputClaimToHeaders: readonly { readonly header: string; readonly claim: readonly string[] }[];
}

export const LocationKind = Object.freeze({ Header: 0, Param: 1, Cookie: 2 } as const);
export type LocationKind = (typeof LocationKind)[keyof typeof LocationKind];

/** Where a token may be; each location accepts tokens from the providers that declared it. */
export interface JwtLocation {
  readonly kind: LocationKind;
  /** Header name in lower case, query parameter or cookie name. */
  readonly name: string;
  /** Header value prefix (`Bearer `); '' for none. */
  readonly prefix: string;
  readonly providers: readonly JwtProvider[];
}

/** A verified token remembered so a repeated token skips signature verification. */
export interface CachedToken {
  readonly provider: JwtProvider;
  readonly payload: Readonly<Record<string, unknown>>;
  /** `iss/sub` (request.auth.principal), computed once. */
  readonly principal: string;
  /** Seconds since the epoch; Infinity when the token has no `exp`. */
  readonly exp: number;
  readonly nbf: number;
  /** JwksSource.version the signature was checked against. */
  readonly keysVersion: number;
}

/** Bounded map of verified tokens (Envoy's jwt_cache_config, on by default here). */
export class TokenCache {
  readonly #max: number;
  readonly #map = new Map<string, CachedToken>();

  constructor(max = 1024) {
    this.#max = max;
  }

  get(token: string): CachedToken | undefined {
    return this.#map.get(token);
  }

  set(token: string, v: CachedToken): void {
    if (this.#map.size >= this.#max) {
      const oldest = this.#map.keys().next().value;
      if (oldest !== undefined) this.#map.delete(oldest);
    }
    this.#map.set(token, v);
  }

  delete(token: string): void {
    this.#map.delete(token);
  }

  get size(): number {
    return this.#map.size;
  }

  toJSON(): unknown {
    return { size: this.#map.size, max: this.#max };
  }
}

export interface JwtAuthnConfig {
  readonly providers: readonly JwtProvider[];
  readonly locations: readonly JwtLocation[];
  /** Envoy's clock_skew_seconds default. */
  readonly clockSkewSeconds: number;
  readonly cache: TokenCache;
}
