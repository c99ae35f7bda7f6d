// AuthorizationPolicy → RbacConfig, as istiod's authz builder translates policies into Envoy
// RBAC: rules split by action, every value precompiled, HTTP-only fields handled for TCP
// chains as Istio does (an ALLOW rule using them is dropped; a DENY rule loses them and so
// matches more), CUSTOM rules bound to their ext_authz provider.

import type { AuthorizationPolicySpec, Condition, Operation, Rule, Source } from '../../api/types.js';
import type { SourcePos } from '../../config/diagnostic.js';
import type { Resource } from '../../config/resource.js';
import { resourceRef } from '../../config/resource.js';
import {
  Attr,
  compilePathPattern,
  compilePattern,
  HTTP_ONLY_ATTRS,
  IpSet,
  type AuthzAction,
  type CompiledPolicy,
  type CompiledRule,
  type ExtAuthzProvider,
  type FieldGroup,
  type FieldMatcher,
  type RbacConfig,
} from '../../proxy/filters/rbac/config.js';
import { ensureCluster } from '../clusters.js';
import type { CompileContext } from '../context.js';
import { durationMsOr } from '../duration.js';
import { isDryRun } from './selection.js';

type AP = Resource<'AuthorizationPolicy'>;

const SOURCE_FIELDS: readonly [keyof Source, keyof Source, Attr][] = [
  ['principals', 'notPrincipals', Attr.Principal],
  ['requestPrincipals', 'notRequestPrincipals', Attr.RequestPrincipal],
  ['namespaces', 'notNamespaces', Attr.Namespace],
  ['serviceAccounts', 'notServiceAccounts', Attr.ServiceAccount],
  ['ipBlocks', 'notIpBlocks', Attr.SourceIp],
  ['remoteIpBlocks', 'notRemoteIpBlocks', Attr.RemoteIp],
];

const OPERATION_FIELDS: readonly [keyof Operation, keyof Operation, Attr][] = [
  ['hosts', 'notHosts', Attr.Host],
  ['ports', 'notPorts', Attr.Port],
  ['methods', 'notMethods', Attr.Method],
  ['paths', 'notPaths', Attr.Path],
];

const CONDITION_KEYS: Readonly<Record<string, Attr>> = {
  'source.ip': Attr.SourceIp,
  'remote.ip': Attr.RemoteIp,
  'source.namespace': Attr.Namespace,
  'source.principal': Attr.Principal,
  'source.serviceAccount': Attr.ServiceAccount,
  'request.auth.principal': Attr.RequestPrincipal,
  'request.auth.audiences': Attr.Audiences,
  'request.auth.presenter': Attr.Presenter,
  'destination.ip': Attr.DestinationIp,
  'destination.port': Attr.Port,
  'connection.sni': Attr.Sni,
};

const IP_ATTRS: ReadonlySet<Attr> = new Set<Attr>([Attr.SourceIp, Attr.RemoteIp, Attr.DestinationIp]);

function field(attr: Attr, values: readonly string[] | undefined, notValues: readonly string[] | undefined, key: FieldMatcher['key'], name: string): FieldMatcher {
  const v = values !== undefined && values.length > 0 ? values : null;
  const nv = notValues !== undefined && notValues.length > 0 ? notValues : null;
  const isIp = IP_ATTRS.has(attr);
  const isPort = attr === Attr.Port;
  const pat = (xs: readonly string[] | null) => {
    if (xs === null || isIp || isPort) return null;
    return Object.freeze(xs.map((x) => attr === Attr.Path ? compilePathPattern(x) : compilePattern(x, attr === Attr.Host)));
  };
  return Object.freeze({
    attr,
    key,
    values: pat(v),
    notValues: pat(nv),
    ips: isIp && v !== null ? new IpSet(v) : null,
    notIps: isIp && nv !== null ? new IpSet(nv) : null,
    ports: isPort && v !== null ? Object.freeze(v.map(Number)) : null,
    notPorts: isPort && nv !== null ? Object.freeze(nv.map(Number)) : null,
    field: name,
  });
}

/** `request.auth.claims[a][b]` → ['a', 'b']. */
function claimPath(key: string): string[] {
  const out: string[] = [];
  const re = /\[([^\]]*)\]/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(key.slice('request.auth.claims'.length))) !== null) out.push(m[1]!);
  return out;
}

/** A `when` condition, or 'unsupported' (experimental keys Sluice cannot evaluate). */
function condition(c: Condition, name: string): FieldMatcher | 'unsupported' {
  const exact = CONDITION_KEYS[c.key];
  if (exact !== undefined) return field(exact, c.values, c.notValues, null, name);
  if (c.key.startsWith('request.headers[')) return field(Attr.Header, c.values, c.notValues, c.key.slice('request.headers['.length, -1).toLowerCase(), name);
  if (c.key.startsWith('request.auth.claims[')) return field(Attr.Claim, c.values, c.notValues, Object.freeze(claimPath(c.key)), name);
  return 'unsupported';
}

interface RuleContext {
  readonly ctx: CompileContext;
  readonly ap: AP;
  readonly action: AuthzAction;
  readonly tcp: boolean;
}

/**
 * One rule, or null when it can never match on this chain. For TCP chains Istio drops ALLOW
 * rules that use HTTP-only fields and strips those fields from DENY rules (fail closed both ways).
 */
function compileRule(rc: RuleContext, rule: Rule, i: number): CompiledRule | null {
  const { ap, tcp } = rc;
  const deny = rc.action === 'DENY';
  let usesHttp = false;
  const keep = (f: FieldMatcher): boolean => {
    if (!tcp || !HTTP_ONLY_ATTRS.has(f.attr)) return true;
    usesHttp = true;
    return false;
  };
  let from: FieldGroup[] | null = null;
  if (rule.from !== undefined && rule.from.length > 0) {
    from = [];
    rule.from.forEach((f, j) => {
      const src = f.source ?? {};
      const g: FieldMatcher[] = [];
      for (const [pos, neg, attr] of SOURCE_FIELDS) {
        const v = src[pos];
        const nv = src[neg];
        if ((v?.length ?? 0) === 0 && (nv?.length ?? 0) === 0) continue;
        const fm = field(attr, v, nv, null, `spec.rules[${i}].from[${j}].source.${String(pos)}`);
        if (keep(fm)) g.push(fm);
      }
      from!.push(Object.freeze(g));
    });
  }
  let to: FieldGroup[] | null = null;
  if (rule.to !== undefined && rule.to.length > 0) {
    to = [];
    rule.to.forEach((t, j) => {
      const op = t.operation ?? {};
      const g: FieldMatcher[] = [];
      for (const [pos, neg, attr] of OPERATION_FIELDS) {
        const v = op[pos];
        const nv = op[neg];
        if ((v?.length ?? 0) === 0 && (nv?.length ?? 0) === 0) continue;
        const fm = field(attr, v, nv, null, `spec.rules[${i}].to[${j}].operation.${String(pos)}`);
        if (keep(fm)) g.push(fm);
      }
      to!.push(Object.freeze(g));
    });
  }
  const when: FieldMatcher[] = [];
  for (const [j, c] of (rule.when ?? []).entries()) {
    const fm = condition(c, `spec.rules[${i}].when[${j}]`);
    if (fm === 'unsupported') {
      rc.ctx.report(ap, ['spec', 'rules', i, 'when', j, 'key'], 'SLU0502', 'warning',
        `condition key ${c.key} is not supported by Sluice; ${deny ? 'this DENY rule is treated as matching every request (fail closed)' : 'this rule never matches'}`,
        'use request.headers[...], source.ip, remote.ip, source.namespace, source.principal, request.auth.*, destination.ip, destination.port or connection.sni');
      if (deny) continue;
      return null;
    }
    if (keep(fm)) when.push(fm);
  }
  if (usesHttp && !deny) return null;
  return Object.freeze({ from: from === null ? null : Object.freeze(from), to: to === null ? null : Object.freeze(to), when: Object.freeze(when) });
}

function compilePolicy(ctx: CompileContext, ap: AP, action: AuthzAction, tcp: boolean): CompiledPolicy {
  const rules: CompiledRule[] = [];
  const ruleIndex: number[] = [];
  const ruleSources: SourcePos[] = [];
  (ap.spec.rules ?? []).forEach((r, i) => {
    const c = compileRule({ ctx, ap, action, tcp }, r ?? {}, i);
    if (c !== null) { rules.push(c); ruleIndex.push(i); ruleSources.push(ap.pos(['spec', 'rules', i])); }
  });
  return Object.freeze({
    id: `ns[${ap.namespace}]-policy[${ap.name}]`,
    resource: resourceRef(ap),
    action,
    dryRun: isDryRun(ap),
    rules: Object.freeze(rules),
    ruleIndex: Object.freeze(ruleIndex),
    source: ap.source,
    ruleSources: Object.freeze(ruleSources),
  });
}

function orNull<T>(xs: T[]): readonly T[] | null {
  return xs.length === 0 ? null : Object.freeze(xs);
}

/** meshConfig.defaultConfig.gatewayTopology.numTrustedProxies (0 when unset). */
export function numTrustedProxies(ctx: CompileContext): number {
  const topo = (ctx.mesh.defaultConfig as { gatewayTopology?: { numTrustedProxies?: number } } | undefined)?.gatewayTopology;
  const n = topo?.numTrustedProxies;
  return typeof n === 'number' && n > 0 ? n : 0;
}

/**
 * The RBAC configuration of one filter chain from the AuthorizationPolicies attached to the
 * workload; null when none is attached (no authorization at all: one null check per request).
 */
export function compileAuthorization(ctx: CompileContext, policies: readonly AP[], tcp: boolean, port: number): RbacConfig | null {
  if (policies.length === 0) return null;
  const custom: CompiledPolicy[] = [];
  const deny: CompiledPolicy[] = [];
  const allow: CompiledPolicy[] = [];
  const audit: CompiledPolicy[] = [];
  const shadowDeny: CompiledPolicy[] = [];
  const shadowAllow: CompiledPolicy[] = [];
  let anyAllow = false;
  let provider: ExtAuthzProvider | null = null;
  let providerName: string | null = null;
  for (const ap of policies) {
    const spec: AuthorizationPolicySpec = ap.spec;
    const action: AuthzAction = spec.action ?? 'ALLOW';
    if (action === 'CUSTOM') {
      const name = spec.provider?.name ?? '';
      if (tcp && httpProvider(ctx, name)) {
        // Istio builds no network ext_authz for an HTTP provider: TCP chains are left alone.
        ctx.report(ap, ['spec', 'action'], 'SLU0503', 'info', `CUSTOM (ext_authz over HTTP) does not apply to the TCP port ${port} (Istio would need a gRPC provider for TCP)`);
        continue;
      }
      if (providerName !== null && providerName !== name) {
        ctx.report(ap, ['spec', 'provider', 'name'], 'SLU0504', 'warning', `only one CUSTOM provider per workload is supported (Istio rejects the mix); ${providerName} is used and this policy's rules deny instead`, `use provider ${providerName}, or move this policy to another workload`);
        deny.push(compilePolicy(ctx, ap, 'DENY', tcp));
        continue;
      }
      const p: ExtAuthzProvider | null = provider ?? compileExtAuthzProvider(ctx, ap, name, port);
      if (p === null) {
        // Istio fails closed: a CUSTOM policy with an unusable provider denies what it matches.
        deny.push(compilePolicy(ctx, ap, 'DENY', tcp));
        continue;
      }
      provider = p;
      providerName = name;
      custom.push(compilePolicy(ctx, ap, 'CUSTOM', tcp));
      continue;
    }
    const cp = compilePolicy(ctx, ap, action, tcp);
    if (action === 'AUDIT') audit.push(cp);
    else if (cp.dryRun) (action === 'DENY' ? shadowDeny : shadowAllow).push(cp);
    else if (action === 'DENY') deny.push(cp);
    else { anyAllow = true; allow.push(cp); }
  }
  return Object.freeze({
    custom: orNull(custom),
    customProvider: provider,
    deny: orNull(deny),
    allow: anyAllow ? Object.freeze(allow) : null,
    audit: orNull(audit),
    shadowDeny: orNull(shadowDeny),
    shadowAllow: orNull(shadowAllow),
    numTrustedProxies: numTrustedProxies(ctx),
    tcp,
  });
}

/** Does extension provider `name` exist and speak HTTP (not gRPC)? */
function httpProvider(ctx: CompileContext, name: string): boolean {
  const entry = (ctx.mesh.extensionProviders ?? []).find((p) => p.name === name);
  return entry?.envoyExtAuthzHttp !== undefined;
}

interface HttpProviderSpec {
  service?: string;
  port?: number;
  timeout?: string;
  pathPrefix?: string;
  failOpen?: boolean;
  statusOnError?: string;
  includeRequestHeadersInCheck?: string[];
  includeHeadersInCheck?: string[];
  includeAdditionalHeadersInCheck?: Record<string, string>;
  includeRequestBodyInCheck?: { maxRequestBytes?: number; allowPartialMessage?: boolean; packAsBytes?: boolean };
  headersToUpstreamOnAllow?: string[];
  headersToDownstreamOnAllow?: string[];
  headersToDownstreamOnDeny?: string[];
}

/** meshConfig.extensionProviders[name].envoyExtAuthzHttp or .envoyExtAuthzGrpc → the provider, or null (reported). */
function compileExtAuthzProvider(ctx: CompileContext, ap: AP, name: string, port: number): ExtAuthzProvider | null {
  const at = ['spec', 'provider', 'name'];
  const entry = (ctx.mesh.extensionProviders ?? []).find((p) => p.name === name);
  if (entry === undefined) {
    ctx.report(ap, at, 'SLU0505', 'warning', `extension provider "${name}" is not defined in meshConfig.extensionProviders; requests this CUSTOM policy matches are denied (as Istio does)`, 'add the provider to the mesh config (--mesh FILE): extensionProviders: [{name: ..., envoyExtAuthzHttp: {service: ..., port: ...}}]');
    return null;
  }
  // The gRPC provider's fields are a subset of the HTTP one's (service, port, timeout, failOpen,
  // statusOnError, includeRequestBodyInCheck).
  const grpc = entry.envoyExtAuthzGrpc as HttpProviderSpec | undefined;
  const http = (entry.envoyExtAuthzHttp as HttpProviderSpec | undefined) ?? grpc;
  const field = grpc !== undefined && entry.envoyExtAuthzHttp === undefined ? 'envoyExtAuthzGrpc' : 'envoyExtAuthzHttp';
  if (http === undefined) {
    const kind = Object.keys(entry).find((k) => k !== 'name') ?? 'none';
    ctx.report(ap, at, 'SLU0506', 'warning', `extension provider "${name}" is ${kind}, not an authorization provider; CUSTOM policies need envoyExtAuthzHttp or envoyExtAuthzGrpc, so matching requests are denied`, 'declare the authorization service as envoyExtAuthzHttp or envoyExtAuthzGrpc');
    return null;
  }
  if (http.service === undefined || http.port === undefined) {
    ctx.report(ap, at, 'SLU0505', 'warning', `extension provider "${name}" needs service and port; matching requests are denied`, `set ${field}.service and .port`);
    return null;
  }
  const withBody = http.includeRequestBodyInCheck;
  if (withBody !== undefined && !((withBody.maxRequestBytes ?? 0) > 0)) {
    ctx.report(ap, at, 'SLU0507', 'warning', `extension provider "${name}": includeRequestBodyInCheck has no maxRequestBytes (Envoy requires one above 0); the check request is sent without the body`, `set ${field}.includeRequestBodyInCheck.maxRequestBytes, e.g. 8192`);
  }
  // `service` is `[namespace/]host`; a short host is relative to the root namespace's view.
  const slash = http.service.indexOf('/');
  const host = slash >= 0 ? http.service.slice(slash + 1) : http.service;
  const d = ensureCluster(ctx, ap, at, { host, port: { number: http.port } }, port);
  const pats = (xs: string[] | undefined) => Object.freeze((xs ?? []).map((x) => compilePattern(x.toLowerCase())));
  return Object.freeze({
    name,
    protocol: field === 'envoyExtAuthzGrpc' ? 'grpc' as const : 'http' as const,
    cluster: d.cluster,
    authority: d.host,
    timeoutMs: durationMsOr(http.timeout, 600_000),
    pathPrefix: http.pathPrefix ?? '',
    failOpen: http.failOpen === true,
    statusOnError: Number(http.statusOnError ?? '403') || 403,
    includeRequestHeaders: pats(http.includeRequestHeadersInCheck ?? http.includeHeadersInCheck),
    includeAdditionalHeaders: Object.freeze(Object.entries(http.includeAdditionalHeadersInCheck ?? {}).map(([k, v]) => Object.freeze([k.toLowerCase(), v] as const))),
    headersToUpstreamOnAllow: pats(http.headersToUpstreamOnAllow),
    headersToDownstreamOnAllow: pats(http.headersToDownstreamOnAllow),
    headersToDownstreamOnDeny: pats(http.headersToDownstreamOnDeny),
    maxRequestBytes: withBody?.maxRequestBytes ?? 0,
    allowPartialMessage: withBody?.allowPartialMessage === true,
    packAsBytes: withBody?.packAsBytes === true,
  });
}
