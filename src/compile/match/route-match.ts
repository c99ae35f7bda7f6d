import type { HTTPMatchRequest, StringMatch } from '../../api/types.js';
import type { RequestView } from './request-view.js';
import { compileStringMatch, isEmptyStringMatch, type CompiledStringMatch, type StringMatchOp } from './string-match.js';

/**
 * One condition of a route match. `test` is what the data plane runs; `describe` is what
 * config_dump and trace print. The hot path is a flat loop over `conditions`.
 */
export interface Condition {
  readonly kind: 'path' | 'method' | 'scheme' | 'authority' | 'header' | 'without_header' | 'query';
  readonly describe: string;
  readonly test: (r: RequestView) => boolean;
  /** Header or query parameter name ('' for path, method, scheme, authority). */
  readonly name: string;
  /** The string match the test runs (`any` = presence; for without_header, the match it negates). */
  readonly op: StringMatchOp;
  readonly value: string;
  readonly ignoreCase: boolean;
}

/** The request value a condition looks at (undefined: header or parameter absent), for trace. */
export function conditionSubject(c: Condition, r: RequestView): string | undefined {
  switch (c.kind) {
    case 'path': return r.pathOnly;
    case 'method': return r.method;
    case 'scheme': return r.scheme;
    case 'authority': return r.authority;
    case 'query': return r.queryParam(c.name);
    default: return r.header(c.name);
  }
}

export interface RouteMatch {
  readonly conditions: readonly Condition[];
  /** The path condition, kept apart: rewrites of a prefix match need the prefix. */
  readonly pathPrefix: string | null;
  readonly pathPrefixIgnoreCase: boolean;
  readonly name: string | null;
}

export const MATCH_ANY: RouteMatch = Object.freeze({ conditions: Object.freeze([]), pathPrefix: null, pathPrefixIgnoreCase: false, name: null });

export function matchRoute(m: RouteMatch, r: RequestView): boolean {
  const cs = m.conditions;
  for (let i = 0; i < cs.length; i++) if (!cs[i]!.test(r)) return false;
  return true;
}

/** Index of the first failing condition, -1 when all hold (for trace). */
export function firstFailingCondition(m: RouteMatch, r: RequestView): number {
  const cs = m.conditions;
  for (let i = 0; i < cs.length; i++) if (!cs[i]!.test(r)) return i;
  return -1;
}

// Header names Istio treats as pseudo-header matches and drops from `headers`.
const SPECIAL_HEADER_KEYS = new Set(['uri', 'scheme', 'method', 'authority']);

/** Compiles one HTTPMatchRequest block (the caller has already filtered port/gateways/source). */
export function compileRouteMatch(m: HTTPMatchRequest | undefined): RouteMatch {
  if (m === undefined) return MATCH_ANY;
  const conditions: Condition[] = [];
  let pathPrefix: string | null = null;
  const ignoreCase = m.ignoreUriCase === true;
  if (m.uri !== undefined && !isEmptyStringMatch(m.uri)) {
    // Case-insensitivity applies to exact and prefix only (Envoy case_sensitive=false).
    const c = compileStringMatch(m.uri, ignoreCase && m.uri.regex === undefined);
    conditions.push({ kind: 'path', describe: `path ${c.describe}`, test: (r) => c.test(r.pathOnly), ...operand('', c) });
    if (m.uri.prefix !== undefined) pathPrefix = m.uri.prefix;
  }
  if (m.method !== undefined && !isEmptyStringMatch(m.method)) {
    const c = compileStringMatch(m.method);
    conditions.push({ kind: 'method', describe: `method ${c.describe}`, test: (r) => c.test(r.method), ...operand('', c) });
  }
  if (m.scheme !== undefined && !isEmptyStringMatch(m.scheme)) {
    const c = compileStringMatch(m.scheme);
    conditions.push({ kind: 'scheme', describe: `scheme ${c.describe}`, test: (r) => c.test(r.scheme), ...operand('', c) });
  }
  if (m.authority !== undefined && !isEmptyStringMatch(m.authority)) {
    const c = compileStringMatch(m.authority);
    conditions.push({ kind: 'authority', describe: `authority ${c.describe}`, test: (r) => c.test(r.authority), ...operand('', c) });
  }
  for (const [rawName, sm] of Object.entries(m.headers ?? {})) {
    const name = rawName.toLowerCase();
    if (SPECIAL_HEADER_KEYS.has(name)) continue;
    conditions.push(compileHeaderCondition(name, sm, false));
  }
  for (const [rawName, sm] of Object.entries(m.withoutHeaders ?? {})) {
    const name = rawName.toLowerCase();
    if (SPECIAL_HEADER_KEYS.has(name)) continue;
    conditions.push(compileHeaderCondition(name, sm, true));
  }
  for (const [name, sm] of Object.entries(m.queryParams ?? {})) {
    conditions.push(compileQueryCondition(name, sm));
  }
  return Object.freeze({ conditions: Object.freeze(conditions), pathPrefix, pathPrefixIgnoreCase: ignoreCase, name: m.name ?? null });
}

/**
 * Envoy's header matcher semantics (HeaderUtility::matchHeaders): an absent header fails a
 * value match even when inverted; only the presence matcher inverts to "absent".
 */
function compileHeaderCondition(name: string, sm: StringMatch, invert: boolean): Condition {
  if (isEmptyStringMatch(sm)) {
    return invert
      ? { kind: 'without_header', describe: `header ${name} absent`, test: (r) => r.header(name) === undefined, ...PRESENCE, name }
      : { kind: 'header', describe: `header ${name} present`, test: (r) => r.header(name) !== undefined, ...PRESENCE, name };
  }
  const c = compileStringMatch(sm);
  if (invert) {
    return { kind: 'without_header', describe: `header ${name} not ${c.describe}`, test: (r) => { const v = r.header(name); return v !== undefined && !c.test(v); }, ...operand(name, c) };
  }
  return { kind: 'header', describe: `header ${name} ${c.describe}`, test: (r) => { const v = r.header(name); return v !== undefined && c.test(v); }, ...operand(name, c) };
}

const PRESENCE = { op: 'any', value: '', ignoreCase: false } as const;

function operand(name: string, c: CompiledStringMatch): { name: string; op: StringMatchOp; value: string; ignoreCase: boolean } {
  return { name, op: c.op, value: c.value, ignoreCase: c.ignoreCase };
}

function compileQueryCondition(name: string, sm: StringMatch): Condition {
  // Istio: an empty exact value matches the parameter's presence (`?debug`).
  if (isEmptyStringMatch(sm) || sm.exact === '') {
    return { kind: 'query', describe: `query ${name} present`, test: (r) => r.queryParam(name) !== undefined, ...PRESENCE, name };
  }
  const c = compileStringMatch(sm);
  return { kind: 'query', describe: `query ${name} ${c.describe}`, test: (r) => { const v = r.queryParam(name); return v !== undefined && c.test(v); }, ...operand(name, c) };
}
