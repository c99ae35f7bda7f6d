// Evaluation of compiled AuthorizationPolicies against one request or connection (Envoy's
// RBAC engine as Istio configures it). Read-only over the config; one small view object per
// request holds the attributes, computed on first use.

import type { DownstreamConnection, HttpStream } from '../../http/stream.js';
import { Attr, matchAnyPattern, matchPattern, type CompiledPolicy, type CompiledRule, type FieldGroup, type FieldMatcher, type RbacConfig, type StringPattern } from './config.js';

const SPIFFE = 'spiffe://';

/** `td/ns/<ns>/sa/<sa>` → `<ns>`; '' when the identity is not in that form. */
export function namespaceOfPrincipal(p: string): string {
  const i = p.indexOf('/ns/');
  if (i < 0) return '';
  const rest = p.slice(i + 4);
  const j = rest.indexOf('/');
  return j < 0 ? rest : rest.slice(0, j);
}

function serviceAccountOfPrincipal(p: string): string {
  const ns = namespaceOfPrincipal(p);
  const i = p.indexOf('/sa/');
  return ns === '' || i < 0 ? '' : `${ns}/${p.slice(i + 4)}`;
}

/**
 * Resolves dot segments and backslashes the way Envoy's normalize_path (Istio's BASE) does,
 * so `/public/../admin` is judged as `/admin`. Returns the input when nothing needs doing.
 */
export function normalizePathForAuthz(path: string): string {
  if (!path.includes('.') && !path.includes('\\') && !path.includes('//')) return path;
  const p = path.replace(/\\/g, '/');
  const out: string[] = [];
  const segs = p.split('/');
  for (let i = 1; i < segs.length; i++) {
    const seg = segs[i]!;
    if (seg === '.') { if (i === segs.length - 1) out.push(''); continue; }
    if (seg === '..') { out.pop(); if (i === segs.length - 1) out.push(''); continue; }
    out.push(seg);
  }
  return `/${out.join('/')}`;
}

/** The attributes of one request or connection, computed on first read. */
export class AuthzView {
  readonly conn: DownstreamConnection;
  readonly stream: HttpStream | null;
  readonly #trustedProxies: number;
  #principal: string | null = null;
  #remoteIp: string | null = null;
  #host: string | null = null;
  #path: string | null = null;

  constructor(conn: DownstreamConnection, stream: HttpStream | null, numTrustedProxies: number) {
    this.conn = conn;
    this.stream = stream;
    this.#trustedProxies = numTrustedProxies;
  }

  get principal(): string {
    if (this.#principal === null) {
      let p = '';
      const sans = this.conn.peerUriSans;
      for (let i = 0; i < sans.length; i++) if (sans[i]!.startsWith(SPIFFE)) { p = sans[i]!.slice(SPIFFE.length); break; }
      this.#principal = p;
    }
    return this.#principal;
  }

  /** remote.ip: the client address Envoy derives with use_remote_address + xff_num_trusted_hops. */
  get remoteIp(): string {
    if (this.#remoteIp === null) {
      let ip = this.conn.remoteAddress;
      const n = this.#trustedProxies;
      const xff = n > 0 && this.stream !== null ? this.stream.header('x-forwarded-for') : undefined;
      if (xff !== undefined) {
        // The connection manager appended the peer; count n trusted hops from the right of what
        // the client sent (Envoy's xff_num_trusted_hops).
        const parts = xff.split(',');
        const k = parts.length - 1 - n;
        if (k >= 0) ip = parts[k]!.trim();
      }
      this.#remoteIp = ip;
    }
    return this.#remoteIp;
  }

  get host(): string {
    if (this.#host === null) this.#host = this.stream === null ? '' : this.stream.authority.toLowerCase();
    return this.#host;
  }

  get path(): string {
    if (this.#path === null) this.#path = this.stream === null ? '' : normalizePathForAuthz(this.stream.pathOnly);
    return this.#path;
  }

  /** The value of a string attribute, '' when absent. */
  str(attr: Attr): string {
    const s = this.stream;
    switch (attr) {
      case Attr.Principal: return this.principal;
      case Attr.Namespace: return namespaceOfPrincipal(this.principal);
      case Attr.ServiceAccount: return serviceAccountOfPrincipal(this.principal);
      case Attr.RequestPrincipal: return s === null ? '' : s.requestPrincipal;
      case Attr.Host: return this.host;
      case Attr.Method: return s === null ? '' : s.method;
      case Attr.Path: return this.path;
      case Attr.Presenter: {
        const azp = s?.jwtPayload?.azp;
        return typeof azp === 'string' ? azp : '';
      }
      case Attr.Sni: return this.conn.sni;
      default: return '';
    }
  }
}

function claimValue(payload: Readonly<Record<string, unknown>> | null | undefined, path: readonly string[]): unknown {
  let v: unknown = payload;
  for (let i = 0; i < path.length; i++) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[path[i]!];
  }
  return v;
}

/** A string or a list of strings (JWT claims, audiences); other values never match. */
function listMatches(v: unknown, ps: readonly StringPattern[]): boolean {
  if (typeof v === 'string') return matchAnyPattern(ps, v);
  if (Array.isArray(v)) for (const e of v) if (typeof e === 'string' && matchAnyPattern(ps, e)) return true;
  return false;
}

function stringFieldMatches(f: FieldMatcher, value: string): boolean {
  if (f.values !== null && (value === '' || !matchAnyPattern(f.values, value))) return false;
  if (f.notValues !== null && value !== '' && matchAnyPattern(f.notValues, value)) return false;
  return true;
}

export function fieldMatches(f: FieldMatcher, v: AuthzView): boolean {
  switch (f.attr) {
    case Attr.SourceIp:
    case Attr.RemoteIp:
    case Attr.DestinationIp: {
      const ip = f.attr === Attr.SourceIp ? v.conn.remoteAddress : f.attr === Attr.RemoteIp ? v.remoteIp : v.conn.localAddress;
      if (f.ips !== null && !f.ips.has(ip)) return false;
      if (f.notIps !== null && f.notIps.has(ip)) return false;
      return true;
    }
    case Attr.Port: {
      const port = v.conn.localPort;
      if (f.ports !== null && !f.ports.includes(port)) return false;
      if (f.notPorts !== null && f.notPorts.includes(port)) return false;
      return true;
    }
    case Attr.Header: {
      const h = v.stream === null ? undefined : v.stream.header(f.key as string);
      return stringFieldMatches(f, h ?? '');
    }
    case Attr.Claim:
    case Attr.Audiences: {
      const payload = v.stream?.jwtPayload;
      const val = f.attr === Attr.Claim ? claimValue(payload, f.key as readonly string[]) : payload?.aud;
      if (f.values !== null && !listMatches(val, f.values)) return false;
      if (f.notValues !== null && listMatches(val, f.notValues)) return false;
      return true;
    }
    default:
      return stringFieldMatches(f, v.str(f.attr));
  }
}

function groupMatches(g: FieldGroup, v: AuthzView): boolean {
  for (let i = 0; i < g.length; i++) if (!fieldMatches(g[i]!, v)) return false;
  return true;
}

function anyGroup(gs: readonly FieldGroup[] | null, v: AuthzView): boolean {
  if (gs === null) return true;
  for (let i = 0; i < gs.length; i++) if (groupMatches(gs[i]!, v)) return true;
  return false;
}

export function ruleMatches(r: CompiledRule, v: AuthzView): boolean {
  return anyGroup(r.from, v) && anyGroup(r.to, v) && groupMatches(r.when, v);
}

/**
 * The first matching rule of `policies`, as Istio names it in RBAC
 * (`ns[<ns>]-policy[<name>]-rule[<i>]`), or null when none matches.
 */
export function firstMatch(policies: readonly CompiledPolicy[], v: AuthzView): string | null {
  for (let i = 0; i < policies.length; i++) {
    const p = policies[i]!;
    const rules = p.rules;
    for (let j = 0; j < rules.length; j++) if (ruleMatches(rules[j]!, v)) return `${p.id}-rule[${p.ruleIndex[j]}]`;
  }
  return null;
}

/** Does any rule of `policies` match (used for CUSTOM: should ext_authz be asked)? */
export function anyMatch(policies: readonly CompiledPolicy[], v: AuthzView): boolean {
  return firstMatch(policies, v) !== null;
}

/**
 * Istio's decision for DENY and ALLOW policies (CUSTOM and AUDIT are separate): the matched DENY
 * rule, `none` when ALLOW policies exist and no ALLOW rule matches, or null (allowed).
 */
export function denial(c: RbacConfig, v: AuthzView): string | null {
  if (c.deny !== null) {
    const m = firstMatch(c.deny, v);
    if (m !== null) return m;
  }
  if (c.allow !== null && firstMatch(c.allow, v) === null) return 'none';
  return null;
}

export { matchPattern };
