import type { JWTPayload } from 'jose';
import { joseModule } from '../../../util/lazy-module.js';
import { isLogEnabled, log } from '../../../util/log.js';
import { continueFilters } from '../../http/connection-manager.js';
import { FilterStatus, type HttpFilter } from '../../http/filter.js';
import { eqLower, removeHeader, setHeader } from '../../http/headers.js';
import { sendLocalReply } from '../../http/local-reply.js';
import type { HttpStream } from '../../http/stream.js';
import { counter } from '../stats.js';
import { LocationKind, type CachedToken, type JwtAuthnConfig, type JwtLocation, type JwtProvider } from './config.js';
import { explainJwtAuthn } from './explain.js';

// Envoy's jwt_verify_lib status texts: the 401 body and, with spaces as `_`, the details.
export const JwtStatus = Object.freeze({
  Missing: 'Jwt is missing',
  BadFormat: 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections',
  HeaderBadBase64: 'Jwt header is an invalid Base64url encoded',
  HeaderBadJson: 'Jwt header is an invalid JSON',
  PayloadBadBase64: 'Jwt payload is an invalid Base64url encoded',
  PayloadBadJson: 'Jwt payload is an invalid JSON',
  HeaderBadAlg: 'Jwt header [alg] is not supported',
  IssNotString: 'Jwt payload [iss] field is not a string',
  Expired: 'Jwt is expired',
  NotYetValid: 'Jwt not yet valid',
  UnknownIssuer: 'Jwt issuer is not configured',
  AudienceNotAllowed: 'Audiences in Jwt are not allowed',
  VerificationFail: 'Jwt verification fails',
  KidAlgMismatch: "Jwks doesn't have key to match kid or alg from Jwt",
  JwksFetchFail: 'Jwks remote fetch is failed',
} as const);
export type JwtStatusText = (typeof JwtStatus)[keyof typeof JwtStatus];

/** Algorithms Envoy's jwt_authn verifies (RS*, PS*, ES*, EdDSA, HS*). */
export const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'HS256', 'HS384', 'HS512'];
const ALGORITHM_SET = new Set(ALGORITHMS);
/** Envoy's buildOriginalUri limit for the www-authenticate realm. */
export const MAX_REALM_PATH = 256;

const stats = { allowed: counter('http.jwt_authn.allowed'), denied: counter('http.jwt_authn.denied') };

export interface FoundToken {
  readonly token: string;
  readonly location: JwtLocation;
}

type Verified = { ok: true; entry: CachedToken } | { ok: false; status: JwtStatusText };

function isTokenChar(c: number): boolean {
  // base64url alphabet, '.', and '=' padding some issuers leave in.
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === 95 || c === 46 || c === 61;
}

/** Envoy's extractJWT: the run of token characters after the prefix. */
function tokenAfter(value: string, from: number): string {
  let end = from;
  while (end < value.length && isTokenChar(value.charCodeAt(end))) end++;
  return value.slice(from, end);
}

function cookieValue(header: string, name: string): string | undefined {
  let i = 0;
  while (i < header.length) {
    let semi = header.indexOf(';', i);
    if (semi < 0) semi = header.length;
    const eq = header.indexOf('=', i);
    if (eq > 0 && eq < semi && header.slice(i, eq).trim() === name) return header.slice(eq + 1, semi).trim().replace(/^"|"$/g, '');
    i = semi + 1;
  }
  return undefined;
}

/** Every token in the request, in location order (Envoy's extractor); null when none. */
export function extractTokens(c: JwtAuthnConfig, s: HttpStream): FoundToken[] | null {
  let out: FoundToken[] | null = null;
  const locs = c.locations;
  for (let i = 0; i < locs.length; i++) {
    const loc = locs[i]!;
    let value: string | undefined;
    if (loc.kind === LocationKind.Header) {
      const h = s.headers;
      for (let j = 0; j < h.length; j += 2) {
        if (!eqLower(h[j]!, loc.name)) continue;
        const v = h[j + 1]!;
        if (loc.prefix === '') { value = v.trim(); break; }
        const at = v.indexOf(loc.prefix);
        if (at >= 0) { value = tokenAfter(v, at + loc.prefix.length); break; }
      }
    } else if (loc.kind === LocationKind.Param) {
      value = s.queryParam(loc.name);
    } else {
      const ck = s.header('cookie');
      if (ck !== undefined) value = cookieValue(ck, loc.name);
    }
    if (value === undefined || value === '') continue;
    if (out === null) out = [];
    else if (out.some((t) => t.token === value)) continue;
    out.push({ token: value, location: loc });
  }
  return out;
}

export function nowSeconds(): number {
  return Date.now() / 1000;
}

/** exp/nbf with Envoy's clock skew; null when the token is current. */
export function timeStatus(exp: number, nbf: number, skew: number, now: number): JwtStatusText | null {
  if (now > exp + skew) return JwtStatus.Expired;
  if (nbf > now + skew) return JwtStatus.NotYetValid;
  return null;
}

function audienceAllowed(p: JwtProvider, aud: unknown): boolean {
  const allowed = p.audiences;
  if (allowed === null) return true;
  if (typeof aud === 'string') return allowed.includes(aud);
  if (Array.isArray(aud)) for (const a of aud) if (typeof a === 'string' && allowed.includes(a)) return true;
  return false;
}

/** The cache entry for a token when it is still usable, or its time failure. */
function fromCache(c: JwtAuthnConfig, token: string): Verified | undefined {
  const e = c.cache.get(token);
  if (e === undefined) return undefined;
  if (e.keysVersion !== e.provider.keys.version) { c.cache.delete(token); return undefined; }
  const st = timeStatus(e.exp, e.nbf, c.clockSkewSeconds, nowSeconds());
  if (st !== null) { c.cache.delete(token); return { ok: false, status: st }; }
  return { ok: true, entry: e };
}

/** Format, issuer, time and audience checks, in Envoy's order, before any key is needed. */
export function precheck(c: JwtAuthnConfig, t: FoundToken): { status: JwtStatusText } | { providers: JwtProvider[]; payload: JWTPayload; kid: string; exp: number; nbf: number } {
  const parts = t.token.split('.');
  if (parts.length !== 3) return { status: JwtStatus.BadFormat };
  let header: { alg?: unknown; kid?: unknown };
  try {
    header = joseModule().decodeProtectedHeader(t.token);
  } catch {
    return { status: JwtStatus.HeaderBadBase64 };
  }
  if (typeof header.alg !== 'string' || !ALGORITHM_SET.has(header.alg)) return { status: JwtStatus.HeaderBadAlg };
  let payload: JWTPayload;
  try {
    payload = joseModule().decodeJwt(t.token);
  } catch {
    return { status: JwtStatus.PayloadBadJson };
  }
  if (payload.iss !== undefined && typeof payload.iss !== 'string') return { status: JwtStatus.IssNotString };
  const iss = payload.iss ?? '';
  const providers = t.location.providers.filter((p) => p.issuer === iss);
  if (providers.length === 0) return { status: JwtStatus.UnknownIssuer };
  const exp = typeof payload.exp === 'number' ? payload.exp : Infinity;
  const nbf = typeof payload.nbf === 'number' ? payload.nbf : -Infinity;
  const ts = timeStatus(exp, nbf, c.clockSkewSeconds, nowSeconds());
  if (ts !== null) return { status: ts };
  const ok = providers.filter((p) => audienceAllowed(p, payload.aud));
  if (ok.length === 0) return { status: JwtStatus.AudienceNotAllowed };
  return { providers: ok, payload, kid: typeof header.kid === 'string' ? header.kid : '', exp, nbf };
}

export async function verifySignature(token: string, p: JwtProvider, skew: number): Promise<JwtStatusText | null> {
  const keys = p.keys.keys!;
  const opts = { algorithms: ALGORITHMS, clockTolerance: skew };
  try {
    await joseModule().jwtVerify(token, keys, opts);
    return null;
  } catch (e) {
    const { errors } = joseModule();
    if (e instanceof errors.JWKSMultipleMatchingKeys) {
      // No kid and several candidate keys: try each, as Envoy does.
      for await (const k of e as unknown as AsyncIterable<CryptoKey>) {
        try {
          await joseModule().jwtVerify(token, k, opts);
          return null;
        } catch { /* next key */ }
      }
      return JwtStatus.VerificationFail;
    }
    if (e instanceof errors.JWKSNoMatchingKey) return JwtStatus.KidAlgMismatch;
    if (e instanceof errors.JWTExpired) return JwtStatus.Expired;
    if (e instanceof errors.JWTClaimValidationFailed) return e.claim === 'nbf' ? JwtStatus.NotYetValid : JwtStatus.VerificationFail;
    return JwtStatus.VerificationFail;
  }
}

/** Verifies one provider's signature, fetching keys (or refetching on an unknown kid) as needed. */
async function verifyWith(c: JwtAuthnConfig, token: string, p: JwtProvider, kid: string): Promise<JwtStatusText | null> {
  if (p.keys.keys === null) await p.keys.whenSettled();
  if (p.keys.keys === null) return JwtStatus.JwksFetchFail;
  let st = await verifySignature(token, p, c.clockSkewSeconds);
  if (st === JwtStatus.KidAlgMismatch && await p.keys.refetchForUnknownKid(kid)) st = await verifySignature(token, p, c.clockSkewSeconds);
  return st;
}

async function verifyToken(c: JwtAuthnConfig, t: FoundToken): Promise<Verified> {
  const pre = precheck(c, t);
  if ('status' in pre) return { ok: false, status: pre.status };
  let first: JwtStatusText | null = null;
  for (const p of pre.providers) {
    const version = p.keys.version;
    const st = await verifyWith(c, t.token, p, pre.kid);
    if (st === null) {
      const iss = typeof pre.payload.iss === 'string' ? pre.payload.iss : '';
      const sub = typeof pre.payload.sub === 'string' ? pre.payload.sub : '';
      const entry: CachedToken = { provider: p, payload: pre.payload as Record<string, unknown>, principal: `${iss}/${sub}`, exp: pre.exp, nbf: pre.nbf, keysVersion: p.keys.version === version ? version : p.keys.version };
      c.cache.set(t.token, entry);
      return { ok: true, entry };
    }
    first ??= st;
  }
  return { ok: false, status: first ?? JwtStatus.VerificationFail };
}

export function claimText(payload: Readonly<Record<string, unknown>>, path: readonly string[]): string | undefined {
  let v: unknown = payload;
  for (const k of path) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean')) return v.join(',');
  return undefined;
}

function reject(s: HttpStream, status: JwtStatusText): void {
  stats.denied.inc();
  const code = status === JwtStatus.AudienceNotAllowed ? 403 : 401;
  const realm = `Bearer realm="${s.scheme}://${s.authority}${s.path.length > MAX_REALM_PATH ? s.path.slice(0, MAX_REALM_PATH) : s.path}"${status === JwtStatus.Missing ? '' : ', error="invalid_token"'}`;
  if (isLogEnabled('debug')) log('debug', 'jwt', `${s.method} ${s.authority}${s.pathOnly} from ${s.conn.remoteAddress}: ${status}`);
  sendLocalReply(s, code, status, 0, `jwt_authn_access_denied{${status.replace(/ /g, '_')}}`, ['www-authenticate', realm]);
}

/** Success: principal and claims for authorization, outputs, token removal. */
function accept(s: HttpStream, found: readonly FoundToken[], results: readonly CachedToken[]): void {
  stats.allowed.inc();
  const first = results[0]!;
  // Istio: with several tokens the principal is "undefined"; Sluice takes the first, consistently.
  s.requestPrincipal = first.principal;
  s.jwtPayload = first.payload;
  for (let i = 0; i < results.length; i++) {
    const r = results[i]!;
    const p = r.provider;
    const t = found[i]!;
    if (p.outputPayloadToHeader !== null) setHeader(s.headers, p.outputPayloadToHeader, p.outputPayloadToHeader, t.token.split('.')[1]!);
    for (const o of p.outputClaimToHeaders) {
      const v = claimText(r.payload, o.claim);
      if (v !== undefined) setHeader(s.headers, o.header, o.header, v);
    }
    if (!p.forwardOriginalToken && t.location.kind === LocationKind.Header) removeHeader(s.headers, t.location.name);
  }
}

/** The async path: keys to fetch or signatures to check. Resumes the chain or replies. */
async function verifyAsync(s: HttpStream, c: JwtAuthnConfig, found: readonly FoundToken[]): Promise<void> {
  const results: CachedToken[] = [];
  for (const t of found) {
    const r = fromCache(c, t.token) ?? await verifyToken(c, t);
    if (s.completed) return;
    if (!r.ok) { reject(s, r.status); return; }
    results.push(r.entry);
  }
  accept(s, found, results);
  continueFilters(s);
}

function onAsyncError(this: HttpStream, e: unknown): void {
  log('error', 'jwt', `verification failed unexpectedly: ${(e as Error)?.stack ?? String(e)}`);
  if (!this.completed) reject(this, JwtStatus.VerificationFail);
}

/**
 * Envoy's jwt_authn with Istio's requirement: no token → continue unauthenticated (authorization
 * decides); a token that fails → 401 (403 for audiences) with Envoy's text and
 * `www-authenticate`; valid tokens set `request.auth.*` for authorization. Tokens seen before
 * are served from a bounded cache without touching crypto, so the usual request is synchronous.
 */
export const jwtAuthnFilter: HttpFilter = {
  name: 'envoy.filters.http.jwt_authn',
  onRequest(s) {
    const c = s.conn.chain.policies.jwt;
    if (c === null) return FilterStatus.Continue;
    const found = extractTokens(c, s);
    if (found === null) return FilterStatus.Continue;
    if (found.length === 1) {
      const hit = fromCache(c, found[0]!.token);
      if (hit !== undefined) {
        if (!hit.ok) { reject(s, hit.status); return FilterStatus.Stop; }
        accept(s, found, [hit.entry]);
        return FilterStatus.Continue;
      }
    }
    verifyAsync(s, c, found).catch(onAsyncError.bind(s));
    return FilterStatus.Stop;
  },
  explain: explainJwtAuthn,
};
