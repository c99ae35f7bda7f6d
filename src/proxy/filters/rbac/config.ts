// The compiled form of AuthorizationPolicy (Envoy's RBAC config as Istio generates it): every
// value is a precompiled pattern, every IP list a native BlockList, so evaluation only reads.
// Built by src/compile/security/authz.ts; evaluated by ./engine.ts.

import { BlockList, isIPv6 } from 'node:net';
import type { SourcePos } from '../../../config/diagnostic.js';

/** Istio's value syntax: `exact`, `prefix*`, `*suffix`, `*` (present and non-empty). */
export const PatternKind = Object.freeze({ Exact: 0, Prefix: 1, Suffix: 2, Present: 3, Regex: 4 } as const);
export type PatternKind = (typeof PatternKind)[keyof typeof PatternKind];

export interface StringPattern {
  readonly kind: PatternKind;
  readonly value: string;
  /** For path templates (`{*}`, `{**}`): compiled once here, never per request. */
  readonly re: RegExp | null;
}

export function compilePattern(v: string, lowerCase = false): StringPattern {
  const s = lowerCase ? v.toLowerCase() : v;
  if (s === '*') return Object.freeze({ kind: PatternKind.Present, value: '', re: null });
  if (s.startsWith('*')) return Object.freeze({ kind: PatternKind.Suffix, value: s.slice(1), re: null });
  if (s.endsWith('*')) return Object.freeze({ kind: PatternKind.Prefix, value: s.slice(0, -1), re: null });
  return Object.freeze({ kind: PatternKind.Exact, value: s, re: null });
}

/**
 * Paths also take Istio ≥1.22's URI templates: `{*}` one segment, `{**}` any rest (last).
 * Envoy's uri_template matcher; compiled to an anchored RegExp once.
 */
export function compilePathPattern(v: string): StringPattern {
  if (!v.includes('{*}') && !v.includes('{**}')) return compilePattern(v);
  const parts = v.split('/').map((seg) => seg === '{*}' ? '[^/]+' : seg === '{**}' ? '.*' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return Object.freeze({ kind: PatternKind.Regex, value: v, re: new RegExp(`^${parts.join('/')}$`) });
}

export function matchPattern(p: StringPattern, s: string): boolean {
  switch (p.kind) {
    case PatternKind.Exact: return s === p.value;
    case PatternKind.Prefix: return s.startsWith(p.value);
    case PatternKind.Suffix: return s.endsWith(p.value);
    case PatternKind.Present: return s !== '';
    default: return p.re!.test(s);
  }
}

export function matchAnyPattern(ps: readonly StringPattern[], s: string): boolean {
  for (let i = 0; i < ps.length; i++) if (matchPattern(ps[i]!, s)) return true;
  return false;
}

/** Dotted IPv4 → uint32, or -1 when `ip` is not IPv4 (no allocation: this runs per request). */
export function ipv4ToInt(ip: string): number {
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || ++dots > 3) return -1;
      n = n * 256 + part;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return -1;
    } else return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return n * 256 + part;
}

/**
 * A set of IPs/CIDRs (`ipBlocks`, `remoteIpBlocks`, `source.ip`, ...). IPv4 ranges are checked
 * with integer masks (node's BlockList allocates a SocketAddress per check); IPv6 uses BlockList.
 */
export class IpSet {
  readonly #v4: { base: number; mask: number }[] = [];
  readonly #v6 = new BlockList();
  #hasV6 = false;
  readonly describe: readonly string[];

  constructor(values: readonly string[]) {
    this.describe = Object.freeze([...values]);
    for (const v of values) {
      const slash = v.indexOf('/');
      const addr = slash < 0 ? v : v.slice(0, slash);
      if (isIPv6(addr)) {
        this.#v6.addSubnet(addr, slash < 0 ? 128 : Number(v.slice(slash + 1)), 'ipv6');
        this.#hasV6 = true;
        continue;
      }
      const bits = slash < 0 ? 32 : Number(v.slice(slash + 1));
      const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
      this.#v4.push({ base: (ipv4ToInt(addr) & mask) >>> 0, mask });
    }
  }

  has(ip: string): boolean {
    if (ip === '') return false;
    const n = ipv4ToInt(ip);
    if (n >= 0) {
      const v4 = this.#v4;
      for (let i = 0; i < v4.length; i++) if (((n & v4[i]!.mask) >>> 0) === v4[i]!.base) return true;
      return false;
    }
    return this.#hasV6 && ip.includes(':') && this.#v6.check(ip, 'ipv6');
  }

  toJSON(): readonly string[] {
    return this.describe;
  }
}

/** Request attributes an AuthorizationPolicy can read (Istio's Source/Operation/Condition). */
export const Attr = Object.freeze({
  Principal: 0, // peer mTLS identity without spiffe:// (source.principal)
  Namespace: 1, // namespace of that identity (source.namespace)
  ServiceAccount: 2, // `ns/sa` of that identity
  RequestPrincipal: 3, // JWT `iss/sub` (request.auth.principal)
  SourceIp: 4, // immediate peer (source.ip)
  RemoteIp: 5, // client from x-forwarded-for / numTrustedProxies (remote.ip)
  Host: 6, // Host / :authority, case-insensitive
  Port: 7, // port actually listened on (destination.port)
  Method: 8,
  Path: 9, // normalised, without query
  Header: 10, // request.headers[name]
  Claim: 11, // request.auth.claims[a][b]...
  Audiences: 12, // request.auth.audiences
  Presenter: 13, // request.auth.presenter (azp)
  DestinationIp: 14,
  Sni: 15, // connection.sni
} as const);
export type Attr = (typeof Attr)[keyof typeof Attr];

/** Attributes only an HTTP request has: on TCP chains rules using them are adjusted as Istio does. */
export const HTTP_ONLY_ATTRS: ReadonlySet<Attr> = new Set<Attr>([Attr.RequestPrincipal, Attr.Host, Attr.Method, Attr.Path, Attr.Header, Attr.Claim, Attr.Audiences, Attr.Presenter]);

/**
 * One field of a Source / Operation, or one `when` condition: values OR-ed, then every
 * `not` value must miss. `values === null` means the positive part is absent.
 */
export interface FieldMatcher {
  readonly attr: Attr;
  /** Header name (lower case) or claim path, for Header / Claim. */
  readonly key: string | readonly string[] | null;
  readonly values: readonly StringPattern[] | null;
  readonly notValues: readonly StringPattern[] | null;
  /** For IP attributes. */
  readonly ips: IpSet | null;
  readonly notIps: IpSet | null;
  /** For Port: numeric values. */
  readonly ports: readonly number[] | null;
  readonly notPorts: readonly number[] | null;
  /** `spec.rules[i].from[j].source.principals` etc., for debug output. */
  readonly field: string;
}

/** A Source, an Operation, or the `when` list: all fields must match (AND). */
export type FieldGroup = readonly FieldMatcher[];

export interface CompiledRule {
  /** `from` entries (OR); null = any source. */
  readonly from: readonly FieldGroup[] | null;
  /** `to` entries (OR); null = any operation. */
  readonly to: readonly FieldGroup[] | null;
  /** `when` conditions (AND). */
  readonly when: FieldGroup;
}

export type AuthzAction = 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';

export interface CompiledPolicy {
  /** `ns[<ns>]-policy[<name>]`, Istio's RBAC policy name prefix (a rule adds `-rule[<i>]`). */
  readonly id: string;
  /** `AuthorizationPolicy ns/name`. */
  readonly resource: string;
  readonly action: AuthzAction;
  readonly dryRun: boolean;
  readonly rules: readonly CompiledRule[];
  /** Index of each rule in `spec.rules` (rules dropped for TCP keep their original numbers). */
  readonly ruleIndex: readonly number[];
  /** Where the policy is written, and each compiled rule (for trace). */
  readonly source: SourcePos;
  readonly ruleSources: readonly SourcePos[];
}

/** The ext_authz HTTP service a CUSTOM policy names (meshConfig.extensionProviders). */
export interface ExtAuthzProvider {
  readonly name: string;
  /** `envoyExtAuthzHttp` (an HTTP check request) or `envoyExtAuthzGrpc` (Envoy's Authorization/Check). */
  readonly protocol: 'http' | 'grpc';
  /** The cluster (`outbound|port||host`) the check requests go to. */
  readonly cluster: string;
  /** Value sent as Host. */
  readonly authority: string;
  readonly timeoutMs: number;
  readonly pathPrefix: string;
  readonly failOpen: boolean;
  readonly statusOnError: number;
  /** Lower-case request headers sent to the service (Envoy always adds Host, Method, Path, Content-Length, Authorization). */
  readonly includeRequestHeaders: readonly StringPattern[];
  readonly includeAdditionalHeaders: readonly (readonly [string, string])[];
  readonly headersToUpstreamOnAllow: readonly StringPattern[];
  readonly headersToDownstreamOnAllow: readonly StringPattern[];
  readonly headersToDownstreamOnDeny: readonly StringPattern[];
  /** includeRequestBodyInCheck.maxRequestBytes: the body (up to this) goes to the check; 0 = no body. */
  readonly maxRequestBytes: number;
  /** A body over maxRequestBytes: its first bytes are checked (true) or the request gets 413 (false, Envoy's default). */
  readonly allowPartialMessage: boolean;
  /** gRPC: the body as bytes (raw_body) rather than UTF-8 text (body). */
  readonly packAsBytes: boolean;
}

/**
 * Everything authorization needs for one filter chain. Policies are split by action so a
 * request walks only what can change its fate; `null` lists cost one check.
 */
export interface RbacConfig {
  readonly custom: readonly CompiledPolicy[] | null;
  readonly customProvider: ExtAuthzProvider | null;
  readonly deny: readonly CompiledPolicy[] | null;
  /** null = no ALLOW policy: allow unless denied. Empty array = ALLOW policies exist but none has rules. */
  readonly allow: readonly CompiledPolicy[] | null;
  readonly audit: readonly CompiledPolicy[] | null;
  /** dry-run DENY/ALLOW policies: evaluated and logged, never enforced. */
  readonly shadowDeny: readonly CompiledPolicy[] | null;
  readonly shadowAllow: readonly CompiledPolicy[] | null;
  /** meshConfig defaultConfig.gatewayTopology.numTrustedProxies, for remote.ip. */
  readonly numTrustedProxies: number;
  /** Compiled for a TCP chain (HTTP-only fields handled as Istio does). */
  readonly tcp: boolean;
}
