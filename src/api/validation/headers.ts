// HTTP header names and values as Istio's webhook checks them (validation.go
// ValidateHTTPHeader*, header_value_validator.go), plus the `headers: {request, response}`
// operations block shared by VirtualService routes and destinations.

import type { Headers } from '../types.js';
import type { Path, ValidationContext } from './context.js';
import { isPlainObject } from './walk.js';

const HEADER_NAME = /^[-_A-Za-z0-9]+$/;
// protoc-gen-validate's header value rule: no control characters except horizontal tab.
// eslint-disable-next-line no-control-regex
const HEADER_VALUE_CHARS = /^[^\u0000-\u0008\u000A-\u001F\u007F]*$/;
const JWT_CLAIM_PREFIX = '@request.auth.claims.';

/** ValidateHTTPHeaderName: letters, digits, `-` and `_`. */
export function headerNameError(name: string): string | undefined {
  if (name === '') return 'header name cannot be empty';
  if (!HEADER_NAME.test(name)) return `header name "${name}" is not a valid header name (letters, digits, "-" and "_" only)`;
  return undefined;
}

/** `@request.auth.claims.<a>[.<b>]` or `@request.auth.claims[a][b]`: JWT claim routing keys. */
export function isJwtClaimRoute(name: string): boolean {
  if (name.startsWith(JWT_CLAIM_PREFIX)) return name.length > JWT_CLAIM_PREFIX.length && !name.endsWith('.');
  return /^@request\.auth\.claims(\[[^\]]+\])+$/.test(name);
}

/** ValidateHTTPHeaderNameOrJwtClaimRoute. */
export function matchHeaderNameError(name: string): string | undefined {
  if (name.startsWith('@')) return isJwtClaimRoute(name) ? undefined : `"${name}" is neither a header name nor a JWT claim key (@request.auth.claims.<claim>)`;
  return headerNameError(name);
}

function isAuthorityHeader(name: string): boolean {
  const l = name.toLowerCase();
  return l === ':authority' || l === 'host';
}

/**
 * ValidateHTTPHeaderValue: printable characters, and `%` only as Envoy's `%VAR%` formatter or
 * the `%%` escape (Envoy refuses `abc%123` and `%START_TIME%%`).
 */
export function headerValueError(value: string): string | undefined {
  if (!HEADER_VALUE_CHARS.test(value)) return `header value ${JSON.stringify(value)} contains control characters`;
  for (let i = 0; i < value.length; i++) {
    if (value[i] !== '%') continue;
    if (value[i + 1] === '%') {
      i++;
      continue;
    }
    const end = value.indexOf('%', i + 1);
    if (end < 0 || end === i + 1) {
      return `header value ${JSON.stringify(value)} has an unescaped "%"; write "%%" for a literal percent sign, or %VARIABLE% for an Envoy variable`;
    }
    i = end;
  }
  return undefined;
}

type Op = 'set' | 'add' | 'remove';

/**
 * Checks a `headers:` block. Request `set`/`add` may name `:authority`/`host` (authority
 * rewrite); everything else may not touch pseudo-headers or Host.
 */
export function checkHeaderOperations(h: Headers | undefined, path: Path, ctx: ValidationContext): void {
  if (h === undefined) return;
  for (const dir of ['request', 'response'] as const) {
    const ops = h[dir];
    if (ops === undefined) continue;
    for (const op of ['set', 'add'] as const) {
      const m = ops[op];
      if (!isPlainObject(m)) continue;
      for (const [name, val] of Object.entries(m)) {
        const p = [...path, dir, op, name];
        const e = operationNameError(name, dir, op);
        if (e !== undefined) ctx.error(p, e, fixFor(name));
        if (typeof val === 'string') {
          const ve = headerValueError(val);
          if (ve !== undefined) ctx.error(p, ve);
        }
      }
    }
    if (Array.isArray(ops.remove)) {
      ops.remove.forEach((name, i) => {
        const e = operationNameError(name, dir, 'remove');
        if (e !== undefined) ctx.error([...path, dir, 'remove', i], e, fixFor(name));
      });
    }
  }
}

function operationNameError(name: string, dir: 'request' | 'response', op: Op): string | undefined {
  if (name === '') return 'header name cannot be empty';
  if (dir === 'request' && op !== 'remove') {
    // ValidateHTTPHeaderWithAuthorityOperationName: authority is checked separately (set once).
    if ((name.startsWith(':') || name.toLowerCase() === 'host') && !isAuthorityHeader(name)) return `invalid header "${name}": header cannot have ":" prefix`;
    return undefined;
  }
  if (name.toLowerCase() === 'host') return `invalid header "${name}": cannot set Host header`;
  if (name.startsWith(':')) return `invalid header "${name}": header cannot have ":" prefix`;
  return undefined;
}

function fixFor(name: string): string {
  if (name.toLowerCase() === 'host' || name.toLowerCase() === ':authority') return 'rewrite the authority with `rewrite.authority` or `headers.request.set[":authority"]`';
  return 'pseudo-headers (":path", ":method", ...) cannot be modified; use rewrite for the path';
}

/**
 * validateAuthorityRewrite: the authority may be set in one place only — `rewrite.authority` or a
 * request `set`/`add` of `:authority`/`host`.
 */
export function checkAuthoritySetOnce(rewriteAuthority: string | undefined, h: Headers | undefined, path: Path, ctx: ValidationContext): void {
  let current = rewriteAuthority !== undefined && rewriteAuthority !== '' ? rewriteAuthority : undefined;
  for (const op of ['set', 'add'] as const) {
    const m = h?.request?.[op];
    if (!isPlainObject(m)) continue;
    for (const [k, v] of Object.entries(m)) {
      if (!isAuthorityHeader(k)) continue;
      if (current !== undefined) {
        ctx.error([...path, 'headers', 'request', op, k], `authority header cannot be set multiple times: have "${current}", attempting to set "${String(v)}"`, 'set the authority in one place only (rewrite.authority or one :authority/host header)');
        return;
      }
      current = String(v);
    }
  }
}
