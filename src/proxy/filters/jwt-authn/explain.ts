// jwt_authn's explain(): what onRequest would decide for a traced request, with the data plane's
// own extractor, prechecks and jose signature check, but no side effect outside the traced
// stream: no counter, no token-cache write, and no JWKS fetch on a running gateway (its cached
// keys are used; an offline trace may fetch a remote key set once, into the trace's own cache).

import { basename } from 'node:path';
import type { JWTPayload } from 'jose';
import { fetchKeySetOnce, type FetchedKeySet, type JwksSource } from '../../../security/jwks.js';
import type { ExplainContext, FilterExplanation } from '../../http/filter.js';
import { removeHeader, setHeader } from '../../http/headers.js';
import type { HttpStream } from '../../http/stream.js';
import { LocationKind, type JwtAuthnConfig, type JwtLocation, type JwtProvider } from './config.js';
import { claimText, extractTokens, JwtStatus, MAX_REALM_PATH, nowSeconds, precheck, timeStatus, verifySignature, type FoundToken, type JwtStatusText } from './filter.js';

/** A token the filter would accept: who issued it and how we know. */
interface Accepted {
  readonly ok: true;
  readonly provider: JwtProvider;
  readonly payload: Readonly<Record<string, unknown>>;
  readonly principal: string;
  readonly how: string;
}

interface Rejected {
  readonly ok: false;
  readonly status: JwtStatusText;
  readonly provider: JwtProvider | null;
  readonly why: string;
  readonly fix: string;
}

/** The trace cannot tell (keys not available, or an asynchronous check it may not wait for). */
interface Unknown {
  readonly ok: null;
  readonly why: string;
}

type Decision = Accepted | Rejected | Unknown;

function where(l: JwtLocation): string {
  if (l.kind === LocationKind.Header) return `header ${l.name}${l.prefix !== '' ? ` after "${l.prefix}"` : ''}`;
  return l.kind === LocationKind.Param ? `query parameter ${l.name}` : `cookie ${l.name}`;
}

function ruleOf(p: JwtProvider): { resource: string; rule: string } {
  const m = / jwtRules\[(\d+)\]$/.exec(p.origin);
  return m === null ? { resource: p.origin, rule: '' } : { resource: p.origin.slice(0, m.index), rule: `spec.jwtRules[${m[1]}]` };
}

function decidedBy(p: JwtProvider): NonNullable<FilterExplanation['decidedBy']> {
  const r = ruleOf(p);
  return { resource: r.resource, ...(r.rule !== '' ? { rule: r.rule } : {}), file: p.source.file, line: p.source.line, col: p.source.col };
}

function audText(aud: unknown): string {
  return aud === undefined ? 'no aud' : JSON.stringify(aud);
}

/** Why a precheck failed, and what to change. */
function precheckFailure(c: JwtAuthnConfig, t: FoundToken, status: JwtStatusText): Rejected {
  const providers = t.location.providers;
  const first = providers[0] ?? null;
  let payload: JWTPayload = {};
  try {
    payload = JSON.parse(Buffer.from(t.token.split('.')[1] ?? '', 'base64url').toString('utf8')) as JWTPayload;
  } catch { /* the status says what is wrong */ }
  const iss = typeof payload.iss === 'string' ? payload.iss : '';
  switch (status) {
    case JwtStatus.UnknownIssuer:
      return { ok: false, status, provider: first, why: `the token's issuer "${iss}" is not one this location accepts (${providers.map((p) => p.issuer).join(', ')})`, fix: `send a token issued by ${providers.map((p) => p.issuer).join(' or ')}, or add a jwtRule with issuer "${iss}" to a RequestAuthentication that applies to this workload` };
    case JwtStatus.Expired:
    case JwtStatus.NotYetValid: {
      const p = providers.find((x) => x.issuer === iss) ?? first;
      const when = status === JwtStatus.Expired ? `exp ${new Date((payload.exp ?? 0) * 1000).toISOString()}` : `nbf ${new Date((payload.nbf ?? 0) * 1000).toISOString()}`;
      return { ok: false, status, provider: p, why: `${when}, now ${new Date().toISOString()} (clock skew allowed: ${c.clockSkewSeconds} s)`, fix: 'send a current token (request a new one from the issuer)' };
    }
    case JwtStatus.AudienceNotAllowed: {
      const ps = providers.filter((x) => x.issuer === iss);
      const p = ps[0] ?? first;
      return { ok: false, status, provider: p, why: `the token's aud is ${audText(payload.aud)}; ${ps.map((x) => `${x.origin} accepts ${x.audiences?.join(', ')}`).join('; ')}`, fix: `request a token for ${ps.flatMap((x) => x.audiences ?? []).join(' or ')}, or add the token's audience to audiences of ${p === null ? 'the jwtRule' : p.origin}` };
    }
    case JwtStatus.HeaderBadAlg:
      return { ok: false, status, provider: first, why: 'the token\'s alg is not one Envoy verifies', fix: 'sign tokens with RS*, PS*, ES*, EdDSA or HS*' };
    default:
      return { ok: false, status, provider: first, why: `the value in ${where(t.location)} is not a JWT`, fix: `send a JWT (header.payload.signature) in ${where(t.location)}, or no token at all` };
  }
}

/** Cache hit (read only: expired entries are left for the data plane to drop) or precheck failure; null when keys are needed. */
function decideWithoutKeys(c: JwtAuthnConfig, t: FoundToken): Decision | null {
  const e = c.cache.get(t.token);
  if (e !== undefined && e.keysVersion === e.provider.keys.version && timeStatus(e.exp, e.nbf, c.clockSkewSeconds, nowSeconds()) === null) {
    return { ok: true, provider: e.provider, payload: e.payload, principal: e.principal, how: 'verified earlier by this gateway (token cache)' };
  }
  const pre = precheck(c, t);
  if ('status' in pre) return precheckFailure(c, t, pre.status);
  return null;
}

/** The keys a provider's signature check would use: the gateway's, or (offline) fetched once for this trace. */
async function keysFor(p: JwtProvider, x: ExplainContext): Promise<{ keys: FetchedKeySet; from: string } | Unknown> {
  const src: JwksSource = p.keys;
  if (!src.remote) return { keys: { keys: src.keys, kids: src.kids, error: null }, from: 'the inline jwks' };
  if (x.fetchedKeys === null && x.offline) {
    return { ok: null, why: `keys for issuer ${p.issuer} come from ${src.describe()}, which this offline trace was told not to fetch; the gateway fetches them (timeout ${src.timeoutMs} ms) and answers 401 "${JwtStatus.JwksFetchFail}" if that fails` };
  }
  if (x.fetchedKeys === null) {
    if (src.keys === null && src.fetching !== null) await src.fetching; // the gateway's own fetch, already under way
    if (src.keys !== null) return { keys: { keys: src.keys, kids: src.kids, error: null }, from: `the gateway's cached keys from ${src.describe()}` };
    return { ok: null, why: `no keys for issuer ${p.issuer} are cached by this gateway (${src.describe()}: ${src.lastError !== null ? `last fetch failed: ${src.lastError}` : 'not fetched yet'}); it would fetch them (timeout ${src.timeoutMs} ms) and answer 401 "${JwtStatus.JwksFetchFail}" if that fails` };
  }
  let f = x.fetchedKeys.get(src);
  if (f === undefined) x.fetchedKeys.set(src, (f = fetchKeySetOnce(src)));
  const got = await f;
  if (got.keys === null) {
    return { ok: null, why: `keys for issuer ${p.issuer} are not available to this trace: fetching ${src.describe()} failed (${got.error}; timeout ${src.timeoutMs} ms). A gateway that cannot fetch them answers 401 "${JwtStatus.JwksFetchFail}"; one that can decides by the signature` };
  }
  return { keys: got, from: `keys fetched now from ${src.describe()} (as the gateway would)` };
}

/** Signature check with jose, for each provider the prechecks left, as verifyToken does. */
async function decideWithKeys(c: JwtAuthnConfig, t: FoundToken, x: ExplainContext): Promise<Decision> {
  const pre = precheck(c, t);
  if ('status' in pre) return precheckFailure(c, t, pre.status);
  let first: Rejected | Unknown | null = null;
  for (const p of pre.providers) {
    const k = await keysFor(p, x);
    if ('ok' in k) { first ??= k; continue; }
    // verifySignature reads only `keys.keys`: give it the key set chosen above.
    const seen = k.keys.keys === null ? undefined : x.signatures?.get(k.keys.keys);
    let st = seen?.get(t.token) as JwtStatusText | null | undefined;
    if (st === undefined) {
      st = await verifySignature(t.token, { ...p, keys: { keys: k.keys.keys } as JwksSource }, c.clockSkewSeconds);
      if (x.signatures != null && k.keys.keys !== null) {
        if (seen === undefined) x.signatures.set(k.keys.keys, new Map([[t.token, st]]));
        else seen.set(t.token, st);
      }
    }
    if (st === null) {
      const iss = typeof pre.payload.iss === 'string' ? pre.payload.iss : '';
      const sub = typeof pre.payload.sub === 'string' ? pre.payload.sub : '';
      return { ok: true, provider: p, payload: pre.payload as Record<string, unknown>, principal: `${iss}/${sub}`, how: `signature verified${pre.kid !== '' ? ` with key ${pre.kid}` : ''} (${k.from})` };
    }
    if (st === JwtStatus.KidAlgMismatch && x.fetchedKeys === null && p.keys.unknownKidRefetchAllowed()) {
      first ??= { ok: null, why: `the token's kid "${pre.kid}" is not among ${k.from} (kids: ${k.keys.kids.join(', ') || 'none'}); the gateway would refetch the key set once (keys may have rotated) and answer 401 "${JwtStatus.KidAlgMismatch}" if it is still missing` };
      continue;
    }
    const why = st === JwtStatus.KidAlgMismatch
      ? `the token's kid "${pre.kid}" is not among ${k.from} (kids: ${k.keys.kids.join(', ') || 'none'})`
      : `the signature does not verify with ${k.from}`;
    const fix = st === JwtStatus.KidAlgMismatch ? `publish the signing key in ${p.keys.describe()}, or sign with one of its keys` : `send a token signed by ${p.issuer}'s keys (this one was signed by another key, or altered)`;
    first ??= { ok: false, status: st, provider: p, why, fix };
  }
  return first ?? { ok: false, status: JwtStatus.VerificationFail, provider: null, why: 'no provider could verify the token', fix: 'send a token of a configured issuer' };
}

function reply(s: HttpStream, r: Rejected, tokenNo: number, steps: string[]): FilterExplanation {
  const status = r.status === JwtStatus.AudienceNotAllowed ? 403 : 401;
  const realm = `Bearer realm="${s.scheme}://${s.authority}${s.path.length > MAX_REALM_PATH ? s.path.slice(0, MAX_REALM_PATH) : s.path}", error="invalid_token"`;
  return {
    verdict: 'reply',
    summary: `${r.status}${tokenNo > 0 ? ` (token ${tokenNo + 1})` : ''}: ${r.why}`,
    status,
    body: r.status,
    details: `jwt_authn_access_denied{${r.status.replace(/ /g, '_')}}`,
    headers: [['www-authenticate', realm]],
    ...(r.provider !== null ? { decidedBy: decidedBy(r.provider) } : {}),
    fix: r.fix,
    steps,
  };
}

/** What accept() in filter.ts does to the stream (principal, claims, output headers, token removal), without its counter. */
function applyAccepted(s: HttpStream, found: readonly FoundToken[], results: readonly Accepted[], steps: string[]): void {
  const first = results[0]!;
  s.requestPrincipal = first.principal;
  s.jwtPayload = first.payload;
  for (let i = 0; i < results.length; i++) {
    const p = results[i]!.provider;
    const t = found[i]!;
    if (p.outputPayloadToHeader !== null) { setHeader(s.headers, p.outputPayloadToHeader, p.outputPayloadToHeader, t.token.split('.')[1]!); steps.push(`outputPayloadToHeader: ${p.outputPayloadToHeader} set`); }
    for (const o of p.outputClaimToHeaders) {
      const v = claimText(results[i]!.payload, o.claim);
      if (v !== undefined) { setHeader(s.headers, o.header, o.header, v); steps.push(`outputClaimToHeaders: ${o.header}: ${v}`); }
    }
    if (!p.forwardOriginalToken && t.location.kind === LocationKind.Header) { removeHeader(s.headers, t.location.name); steps.push(`${t.location.name} removed before forwarding (forwardOriginalToken is false)`); }
  }
}

function finish(s: HttpStream, found: readonly FoundToken[], ds: readonly Decision[], steps: string[]): FilterExplanation {
  for (let i = 0; i < ds.length; i++) {
    const d = ds[i]!;
    if (d.ok === false) return reply(s, d, i, steps);
    if (d.ok === null) {
      return { verdict: 'unknown', summary: d.why, ...(found[i]!.location.providers[0] !== undefined ? { decidedBy: decidedBy(found[i]!.location.providers[0]!) } : {}), steps: [...steps, 'the trace goes on as if the request were unauthenticated (request.auth.principal empty)'] };
    }
  }
  const ok = ds as readonly Accepted[];
  for (const a of ok) steps.push(`${a.provider.origin}: ${a.how}; claims ${JSON.stringify(a.payload)}`);
  applyAccepted(s, found, ok, steps);
  const a = ok[0]!;
  return { verdict: 'continue', summary: `JWT from ${a.provider.issuer} accepted by ${a.provider.origin}: request.auth.principal = ${a.principal}`, decidedBy: decidedBy(a.provider), steps };
}

/**
 * jwt_authn, explained: no RequestAuthentication → skip; no token → continue unauthenticated
 * (authorization decides); each token checked as onRequest would (cache, format, issuer, time,
 * audience, signature); the first failure is the 401/403 the gateway would send.
 */
export function explainJwtAuthn(s: HttpStream, x: ExplainContext): FilterExplanation | Promise<FilterExplanation> {
  const c = s.conn.chain.policies.jwt;
  if (c === null) return { verdict: 'skip', summary: 'no RequestAuthentication applies to this workload' };
  const found = extractTokens(c, s);
  const issuers = [...new Set(c.providers.map((p) => p.issuer))].join(', ');
  if (found === null) {
    return {
      verdict: 'continue',
      summary: `no token (looked in ${c.locations.map(where).join(', ')}): the request goes on unauthenticated, and authorization decides (request.auth.principal is empty)`,
      steps: [`issuers accepted here: ${issuers}`, ...c.providers.map((p) => `${p.origin} (${basename(p.source.file)}:${p.source.line})`)],
    };
  }
  const steps = found.map((t, i) => `token ${i + 1} from ${where(t.location)}`);
  const ds: Decision[] = [];
  for (let i = 0; i < found.length; i++) {
    const d = decideWithoutKeys(c, found[i]!);
    if (d === null) {
      if (!x.async) return { verdict: 'unknown', summary: `the token's signature check (jose) is asynchronous: use sluice trace or /debug/trace, which wait for it`, steps };
      return (async () => {
        for (let j = i; j < found.length; j++) {
          const dj = decideWithoutKeys(c, found[j]!) ?? await decideWithKeys(c, found[j]!, x);
          ds.push(dj);
          if (dj.ok !== true) break;
        }
        return finish(s, found, ds, steps);
      })();
    }
    ds.push(d);
    if (d.ok !== true) break;
  }
  return finish(s, found, ds, steps);
}
