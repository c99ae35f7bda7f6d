// RequestAuthentication: CRD shape and istio/istio ValidateRequestAuthentication / validateJwtRule
// — issuer set, jwksUri an http(s) URL, inline jwks a JSON Web Key Set, token locations and
// output headers well-formed.

import type { JWTRule, RequestAuthenticationSpec } from '../types.js';
import type { KindValidator, Path, ValidationContext } from './context.js';
import { checkOneSelectorKind, selectorFields } from './common.js';
import { checkIstioDocument } from './document.js';
import { headerNameError } from './headers.js';
import { bool, duration, list, obj, str, stringList } from './schema.js';
import { CODE_NO_EFFECT } from './virtual-service-actions.js';
import { isPlainObject } from './walk.js';

/** security.ParseJwksURI: http or https with a host. */
function jwksUriError(uri: string): string | undefined {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return `jwksUri "${uri}" is not a valid URL`;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `URI scheme "${u.protocol.replace(/:$/, '')}" is not supported`;
  if (u.hostname === '') return `jwksUri "${uri}" has no host`;
  return undefined;
}

/** jwk.Parse: a JWK Set (`{"keys": [...]}`) or a single JWK, each key with a `kty`. */
function jwksError(text: string): string | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return `jwks parse error: ${(e as Error).message}`;
  }
  if (!isPlainObject(doc)) return 'jwks parse error: expected a JSON object with "keys"';
  const keys = Array.isArray(doc.keys) ? doc.keys : doc.kty !== undefined ? [doc] : undefined;
  if (keys === undefined) return 'jwks parse error: expected a JSON Web Key Set {"keys": [...]}';
  const bad = keys.findIndex((k) => !isPlainObject(k) || typeof k.kty !== 'string');
  if (bad >= 0) return `jwks parse error: key ${bad} has no "kty"`;
  return undefined;
}

function checkJwtRule(r: JWTRule, path: Path, ctx: ValidationContext): void {
  if (r.issuer === '') ctx.error([...path, 'issuer'], 'issuer must be set', 'write the exact "iss" claim of the tokens, e.g. https://auth.example.com');
  (r.audiences ?? []).forEach((a, i) => {
    if (a === '') ctx.error([...path, 'audiences', i], 'audience must be non-empty string');
  });
  if (r.jwksUri !== undefined && r.jwksUri !== '') {
    const e = jwksUriError(r.jwksUri);
    if (e !== undefined) ctx.error([...path, 'jwksUri'], e, 'use an absolute http(s) URL, e.g. https://auth.example.com/.well-known/jwks.json');
  }
  if (r.jwks !== undefined && r.jwks !== '') {
    const e = jwksError(r.jwks);
    if (e !== undefined) ctx.error([...path, 'jwks'], e, 'paste the JWKS document as a JSON string: {"keys": [{"kty": "RSA", ...}]}');
    if (r.jwksUri !== undefined && r.jwksUri !== '') ctx.warning([...path, 'jwksUri'], 'jwksUri is ignored because jwks is set inline', 'remove one of them', CODE_NO_EFFECT);
  }
  (r.fromHeaders ?? []).forEach((h, i) => {
    const e = h.name === '' ? 'location header name must be non-empty string' : headerNameError(h.name);
    if (e !== undefined) ctx.error([...path, 'fromHeaders', i, 'name'], e);
  });
  (r.fromParams ?? []).forEach((q, i) => {
    if (q === '') ctx.error([...path, 'fromParams', i], 'location query must be non-empty string');
  });
  (r.fromCookies ?? []).forEach((c, i) => {
    if (c === '') ctx.error([...path, 'fromCookies', i], 'cookie name must be non-empty string');
  });
  (r.outputClaimToHeaders ?? []).forEach((o, i) => {
    const p = [...path, 'outputClaimToHeaders', i];
    if (o.claim === '' || o.header === '') {
      ctx.error(p, 'outputClaimToHeaders header and claim value must be non-empty string');
      return;
    }
    const e = headerNameError(o.header);
    if (e !== undefined) ctx.error([...p, 'header'], e);
  });
  if (r.outputPayloadToHeader !== undefined && r.outputPayloadToHeader !== '') {
    const e = headerNameError(r.outputPayloadToHeader);
    if (e !== undefined) ctx.error([...path, 'outputPayloadToHeader'], e);
  }
}

const jwtRuleSchema = obj(
  {
    issuer: str(),
    audiences: stringList(),
    jwksUri: str(),
    jwks: str(),
    fromHeaders: list(obj({ name: str(), prefix: str() }, { required: ['name'] })),
    fromParams: stringList(),
    fromCookies: stringList(),
    outputPayloadToHeader: str(),
    forwardOriginalToken: bool(),
    outputClaimToHeaders: list(obj({ header: str(), claim: str() }, { required: ['header', 'claim'] })),
    timeout: duration(),
  },
  { required: ['issuer'], check: checkJwtRule },
);

const raSpecSchema = obj({ ...selectorFields, jwtRules: list(jwtRuleSchema) });

export const validateRequestAuthentication: KindValidator = (body, ctx) => {
  checkIstioDocument(body, raSpecSchema, ctx, false);
  if (isPlainObject(body.spec)) checkOneSelectorKind(body.spec as RequestAuthenticationSpec, ['spec'], ctx);
};
