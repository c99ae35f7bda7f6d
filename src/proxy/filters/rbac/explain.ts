// RBAC and ext_authz explain(): which AuthorizationPolicy rule decides a traced request, field
// by field, with the data plane's own matcher (fieldMatches). Nothing is logged or counted, and
// the ext_authz service is never called: the trace says it would be, and what it would be sent.

import type { FilterExplanation } from '../../http/filter.js';
import type { DownstreamConnection, HttpStream } from '../../http/stream.js';
import { Attr, PatternKind, type CompiledPolicy, type CompiledRule, type ExtAuthzProvider, type FieldGroup, type FieldMatcher, type RbacConfig, type StringPattern } from './config.js';
import { AuthzView, fieldMatches } from './engine.js';
import { RBAC_DENIED_BODY } from './filter.js';

const ATTR_NAMES: Readonly<Record<Attr, string>> = {
  [Attr.Principal]: 'source.principal',
  [Attr.Namespace]: 'source.namespace',
  [Attr.ServiceAccount]: 'source.serviceAccount',
  [Attr.RequestPrincipal]: 'request.auth.principal',
  [Attr.SourceIp]: 'source.ip',
  [Attr.RemoteIp]: 'remote.ip',
  [Attr.Host]: 'host',
  [Attr.Port]: 'destination.port',
  [Attr.Method]: 'method',
  [Attr.Path]: 'path',
  [Attr.Header]: 'request.headers',
  [Attr.Claim]: 'request.auth.claims',
  [Attr.Audiences]: 'request.auth.audiences',
  [Attr.Presenter]: 'request.auth.presenter',
  [Attr.DestinationIp]: 'destination.ip',
  [Attr.Sni]: 'connection.sni',
};

function attrName(f: FieldMatcher): string {
  if (f.attr === Attr.Header) return `request.headers[${f.key as string}]`;
  if (f.attr === Attr.Claim) return `request.auth.claims${(f.key as readonly string[]).map((k) => `[${k}]`).join('')}`;
  return ATTR_NAMES[f.attr];
}

function patternText(p: StringPattern): string {
  switch (p.kind) {
    case PatternKind.Exact: return p.value;
    case PatternKind.Prefix: return `${p.value}*`;
    case PatternKind.Suffix: return `*${p.value}`;
    case PatternKind.Present: return '*';
    default: return p.value;
  }
}

function listText(xs: readonly string[]): string {
  return `[${xs.join(', ')}]`;
}

/** `source.requestPrincipals [*]` / `method not in [DELETE]`, as written in the policy. */
export function describeField(f: FieldMatcher): string {
  const field = f.field.replace(/^spec\.rules\[\d+\]\./, '').replace(/^(from|to)\[\d+\]\./, '');
  const name = field.startsWith('when[') ? attrName(f) : field;
  const pos = f.values !== null ? listText(f.values.map(patternText)) : f.ips !== null ? listText(f.ips.describe) : f.ports !== null ? listText(f.ports.map(String)) : null;
  const neg = f.notValues !== null ? listText(f.notValues.map(patternText)) : f.notIps !== null ? listText(f.notIps.describe) : f.notPorts !== null ? listText(f.notPorts.map(String)) : null;
  return [pos !== null ? `${name} in ${pos}` : null, neg !== null ? `${name} not in ${neg}` : null].filter((x) => x !== null).join(' and ');
}

/** The request's value of the attribute a field reads, as the engine sees it. */
function actual(f: FieldMatcher, v: AuthzView): string {
  switch (f.attr) {
    case Attr.SourceIp: return v.conn.remoteAddress;
    case Attr.RemoteIp: return v.remoteIp;
    case Attr.DestinationIp: return v.conn.localAddress;
    case Attr.Port: return String(v.conn.localPort);
    case Attr.Header: return v.stream?.header(f.key as string) ?? '(absent)';
    case Attr.Claim: {
      let c: unknown = v.stream?.jwtPayload;
      for (const k of f.key as readonly string[]) c = c !== null && typeof c === 'object' && !Array.isArray(c) ? (c as Record<string, unknown>)[k] : undefined;
      return c === undefined ? '(no such claim)' : JSON.stringify(c);
    }
    case Attr.Audiences: return v.stream?.jwtPayload?.aud === undefined ? '(no token)' : JSON.stringify(v.stream.jwtPayload.aud);
    default: {
      const x = v.str(f.attr);
      if (x !== '') return x;
      if (f.attr === Attr.RequestPrincipal || f.attr === Attr.Presenter) return '(none: no valid JWT)';
      if (f.attr === Attr.Principal || f.attr === Attr.Namespace || f.attr === Attr.ServiceAccount) return '(none: no mTLS peer identity)';
      return '(empty)';
    }
  }
}

/** How far a rule got: fields that held, and the first that failed (null when the rule matches). */
interface RuleCheck {
  readonly held: readonly FieldMatcher[];
  readonly failed: FieldMatcher | null;
}

/** The best group of an OR list: the matching one, else the one that got furthest. */
function checkGroups(gs: readonly FieldGroup[] | null, v: AuthzView): RuleCheck {
  if (gs === null) return { held: [], failed: null };
  let best: RuleCheck | null = null;
  for (const g of gs) {
    const c = checkGroup(g, v);
    if (c.failed === null) return c;
    if (best === null || c.held.length > best.held.length) best = c;
  }
  return best ?? { held: [], failed: null };
}

function checkGroup(g: FieldGroup, v: AuthzView): RuleCheck {
  const held: FieldMatcher[] = [];
  for (const f of g) {
    if (!fieldMatches(f, v)) return { held, failed: f };
    held.push(f);
  }
  return { held, failed: null };
}

/** from (OR) → to (OR) → when (AND), in the engine's order (ruleMatches). */
function checkRule(r: CompiledRule, v: AuthzView): RuleCheck {
  const held: FieldMatcher[] = [];
  for (const part of [checkGroups(r.from, v), checkGroups(r.to, v), checkGroup(r.when, v)]) {
    held.push(...part.held);
    if (part.failed !== null) return { held, failed: part.failed };
  }
  return { held, failed: null };
}

interface RuleRef {
  readonly policy: CompiledPolicy;
  readonly index: number;
  readonly check: RuleCheck;
}

function ruleLabel(r: RuleRef): string {
  return `${r.policy.action} ${r.policy.resource} rule ${r.policy.ruleIndex[r.index]}`;
}

function ruleDecider(r: RuleRef): NonNullable<FilterExplanation['decidedBy']> {
  const pos = r.policy.ruleSources[r.index] ?? r.policy.source;
  return { resource: r.policy.resource, rule: `spec.rules[${r.policy.ruleIndex[r.index]}]`, file: pos.file, line: pos.line, col: pos.col };
}

function policyDecider(p: CompiledPolicy): NonNullable<FilterExplanation['decidedBy']> {
  return { resource: p.resource, file: p.source.file, line: p.source.line, col: p.source.col };
}

function conditions(c: RuleCheck): string {
  return c.held.length === 0 ? 'a rule without conditions matches every request' : c.held.map(describeField).join(', ');
}

function failure(c: RuleCheck, v: AuthzView): string {
  const f = c.failed!;
  return `needs ${describeField(f)}, request has ${actual(f, v)}`;
}

/** Every rule of `policies` checked; the first match, and the nearest miss. */
function scan(policies: readonly CompiledPolicy[], v: AuthzView): { match: RuleRef | null; nearest: RuleRef | null; lines: string[] } {
  let nearest: RuleRef | null = null;
  const lines: string[] = [];
  for (const p of policies) {
    if (p.rules.length === 0) lines.push(`${p.action} ${p.resource}: no rules, so it matches no request`);
    for (let i = 0; i < p.rules.length; i++) {
      const ref: RuleRef = { policy: p, index: i, check: checkRule(p.rules[i]!, v) };
      if (ref.check.failed === null) { lines.push(`${ruleLabel(ref)}: matches (${conditions(ref.check)})`); return { match: ref, nearest, lines }; }
      lines.push(`${ruleLabel(ref)}: no match — ${failure(ref.check, v)}`);
      if (nearest === null || ref.check.held.length > nearest.check.held.length) nearest = ref;
    }
  }
  return { match: null, nearest, lines };
}

/** AUDIT and dry-run policies: what the filter would log (trace logs nothing). */
function shadowLines(c: RbacConfig, v: AuthzView): string[] {
  const out: string[] = [];
  if (c.audit !== null) { const r = scan(c.audit, v).match; if (r !== null) out.push(`${ruleLabel(r)} matches: the request is logged as audited`); }
  if (c.shadowDeny !== null) { const r = scan(c.shadowDeny, v).match; if (r !== null) out.push(`dry-run ${ruleLabel(r)} matches: would deny (istio.io/dry-run, logged only)`); }
  if (c.shadowAllow !== null && scan(c.shadowAllow, v).match === null) out.push(`dry-run ALLOW policies ${c.shadowAllow.map((p) => p.resource).join(', ')}: no rule matches, would deny (istio.io/dry-run, logged only)`);
  return out;
}

/**
 * Envoy's RBAC filter with Istio's policies, explained: a matching DENY rule denies; with ALLOW
 * policies, the request needs a matching ALLOW rule; each rule is shown with the field that
 * held or failed, and a denial names the rule (or the nearest ALLOW rule) and the fix.
 */
export function explainRbac(s: HttpStream): FilterExplanation {
  const c = s.conn.chain.policies.rbac;
  if (c === null) return { verdict: 'skip', summary: 'no AuthorizationPolicy applies to this workload' };
  return explainAuthz(c, new AuthzView(s.conn, s, c.numTrustedProxies), s.requestPrincipal === '', false);
}

/**
 * The network RBAC filter of TCP and TLS passthrough chains (allowConnection in network.ts),
 * explained the same way: a denial closes the connection before any upstream is chosen.
 */
export function explainNetworkRbac(conn: DownstreamConnection): FilterExplanation {
  const c = conn.chain.policies.networkRbac;
  if (c === null) return { verdict: 'skip', summary: 'no AuthorizationPolicy applies to this workload' };
  return explainAuthz(c, new AuthzView(conn, null, c.numTrustedProxies), true, true);
}

function explainAuthz(c: RbacConfig, v: AuthzView, unauthenticated: boolean, network: boolean): FilterExplanation {
  const denied = (summary: string, details: string, decidedBy: FilterExplanation['decidedBy'], fix: string, steps: string[]): FilterExplanation => (network
    ? { verdict: 'reply', summary: summary.replace(RBAC_DENIED_BODY, 'connection closed'), details, ...(decidedBy !== undefined ? { decidedBy } : {}), fix, steps }
    : { verdict: 'reply', summary, status: 403, body: RBAC_DENIED_BODY, details, ...(decidedBy !== undefined ? { decidedBy } : {}), fix, steps });
  const steps = shadowLines(c, v);
  if (network && c.tcp) steps.push('TCP chain: rules with HTTP-only fields are dropped from ALLOW policies and those fields removed from DENY rules, as Istio does');
  if (c.deny !== null) {
    const d = scan(c.deny, v);
    steps.push(...d.lines);
    if (d.match !== null) {
      const m = d.match;
      const id = `${m.policy.id}-rule[${m.policy.ruleIndex[m.index]}]`;
      return denied(`${RBAC_DENIED_BODY}: ${ruleLabel(m)} matches (${conditions(m.check)})`, `rbac_access_denied_matched_policy[${id}]`, ruleDecider(m),
        `the request matches DENY rule ${m.policy.ruleIndex[m.index]} of ${m.policy.resource}: change the request, or narrow that rule`, steps);
    }
  }
  if (c.allow === null) {
    return { verdict: 'continue', summary: c.deny === null ? 'no DENY or ALLOW policy applies: allowed' : 'no DENY rule matches, and no ALLOW policy applies: allowed', steps };
  }
  const a = scan(c.allow, v);
  steps.push(...a.lines);
  if (a.match !== null) return { verdict: 'continue', summary: `allowed by ${ruleLabel(a.match)} (${conditions(a.match.check)})`, decidedBy: ruleDecider(a.match), steps };
  const n = a.nearest;
  if (n === null) {
    const p = c.allow[0];
    return denied(`${RBAC_DENIED_BODY}: ALLOW policies apply (${c.allow.map((x) => x.resource).join(', ')}), but none has a rule`, 'rbac_access_denied_matched_policy[none]', p !== undefined ? policyDecider(p) : undefined,
      'an ALLOW policy without rules allows nothing: add rules (rules: [{}] allows every request)', steps);
  }
  const needsJwt = n.check.failed!.attr === Attr.RequestPrincipal || n.check.failed!.attr === Attr.Claim || n.check.failed!.attr === Attr.Audiences || n.check.failed!.attr === Attr.Presenter;
  const hint = needsJwt && unauthenticated && !network ? '; send a valid JWT (the request is not authenticated)' : '';
  return denied(`${RBAC_DENIED_BODY}: no ALLOW rule matches; nearest is ${ruleLabel(n)}, which ${failure(n.check, v)}`, 'rbac_access_denied_matched_policy[none]', ruleDecider(n),
    `make the request match an ALLOW rule — ${ruleLabel(n)} ${failure(n.check, v)}${hint} — or add an ALLOW rule for it`, steps);
}

/**
 * ext_authz (CUSTOM policies), explained without calling the provider: which CUSTOM rule sends
 * the request to it, what the check request would carry, and what the service's answers mean.
 */
export function explainExtAuthz(s: HttpStream, checkHeaders: (s: HttpStream, p: ExtAuthzProvider) => Record<string, string>): FilterExplanation {
  const c = s.conn.chain.policies.rbac;
  if (c === null || c.custom === null) return { verdict: 'skip', summary: 'no CUSTOM AuthorizationPolicy applies to this workload' };
  const p = c.customProvider!;
  const v = new AuthzView(s.conn, s, c.numTrustedProxies);
  const r = scan(c.custom, v);
  if (r.match === null) return { verdict: 'continue', summary: `no CUSTOM rule matches: provider ${p.name} is not asked`, steps: r.lines };
  const m = r.match;
  const onError = `${p.failOpen ? 'allowed (failOpen)' : `${p.statusOnError} (statusOnError)`}`;
  const body = p.maxRequestBytes > 0 ? `, with the request body (up to ${p.maxRequestBytes} bytes; a longer one ${p.allowPartialMessage ? 'is cut there, marked x-envoy-auth-partial-body' : 'gets 413'})` : '';
  const steps = p.protocol === 'grpc'
    ? [...r.lines, `check: gRPC envoy.service.auth.v3.Authorization/Check to ${p.authority} (${p.cluster}), timeout ${p.timeoutMs} ms, every request header${body}`,
      `status OK → allowed (ok_response headers set upstream); another status → denied with denied_response (default 403, flag UAEX); unreachable or timeout → ${onError}`]
    : [...r.lines, `check request: ${s.method} ${p.pathPrefix}${s.path} to ${p.authority} (${p.cluster}), timeout ${p.timeoutMs} ms, headers ${Object.keys(checkHeaders(s, p)).join(', ')}${body}`,
      `200 → allowed${p.headersToUpstreamOnAllow.length > 0 ? ` (headers ${p.headersToUpstreamOnAllow.map(patternText).join(', ')} copied upstream)` : ''}; another 4xx/3xx → denied with the service's status and body (flag UAEX); 5xx, timeout or unreachable → ${onError}`];
  const cluster = s.snapshot.clusters.get(p.cluster);
  const unreachable = cluster === undefined ? `cluster ${p.cluster} does not exist (is the provider's service in the registry?)`
    : cluster.endpoints.length === 0 && cluster.type !== 'strict_dns' && cluster.type !== 'original_dst' ? `no endpoint in ${p.cluster}` : null;
  if (unreachable !== null) {
    const fix = `make provider ${p.name}'s service reachable: add a ServiceEntry (or Service) for ${p.authority}, or correct meshConfig.extensionProviders`;
    if (p.failOpen) return { verdict: 'continue', summary: `${ruleLabel(m)} sends the request to provider ${p.name}, but ${unreachable}: allowed (failOpen)`, decidedBy: ruleDecider(m), steps, fix };
    return { verdict: 'reply', summary: `${ruleLabel(m)} sends the request to provider ${p.name}, but ${unreachable}: ${p.statusOnError} (statusOnError)`, status: p.statusOnError, responseFlag: 'UAEX', details: 'ext_authz_error', decidedBy: ruleDecider(m), fix, steps };
  }
  return { verdict: 'unknown', summary: `${ruleLabel(m)} matches: the gateway would ask provider ${p.name} (${p.authority}) and follow its answer; trace does not call it and goes on as if it allowed`, decidedBy: ruleDecider(m), steps };
}
