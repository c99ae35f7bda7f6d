// VirtualService `http:` rules: the HTTPRoute/HTTPMatchRequest shapes and istio/istio's
// validateHTTPRoute (virtualservice.go): which actions may be combined, match validity (with the
// delegation restrictions), header operations and authority rewrites.

import type { HTTPMatchRequest, HTTPRoute, StringMatch } from '../types.js';
import type { Path, ValidationContext } from './context.js';
import { checkLabels, destinationSchema, percentSchema, portNumberSchema } from './common.js';
import { isDns1123Label } from './names.js';
import { checkAuthoritySetOnce, matchHeaderNameError } from './headers.js';
import { bool, duration, list, map, obj, str, stringList, uint32 } from './schema.js';
import { checkStringMatch, stringMatchSchema } from './string-match.js';
import {
  checkWeights,
  corsSchema,
  delegateSchema,
  directResponseSchema,
  faultSchema,
  headersSchema,
  httpRouteDestinationSchema,
  mirrorPolicySchema,
  redirectSchema,
  retriesSchema,
  rewriteSchema,
} from './virtual-service-actions.js';
import { gatewayNameErrors } from './virtual-service-gateways.js';

export const httpMatchSchema = obj({
  name: str(),
  uri: stringMatchSchema,
  scheme: stringMatchSchema,
  method: stringMatchSchema,
  authority: stringMatchSchema,
  headers: map(stringMatchSchema),
  port: portNumberSchema,
  sourceLabels: map(str()),
  gateways: stringList(),
  queryParams: map(stringMatchSchema),
  ignoreUriCase: bool(),
  withoutHeaders: map(stringMatchSchema),
  sourceNamespace: str(),
  statPrefix: str(),
});

export const httpRouteSchema = obj({
  name: str(),
  match: list(httpMatchSchema),
  route: list(httpRouteDestinationSchema),
  redirect: redirectSchema,
  directResponse: directResponseSchema,
  delegate: delegateSchema,
  rewrite: rewriteSchema,
  timeout: duration(),
  retries: retriesSchema,
  fault: faultSchema,
  mirror: destinationSchema,
  mirrorPercent: uint32({ deprecated: 'using deprecated setting "mirrorPercent", use "mirrorPercentage" instead' }),
  mirrorPercentage: percentSchema,
  mirrors: list(mirrorPolicySchema),
  corsPolicy: corsSchema,
  headers: headersSchema,
});

/** IndependentRoute, RootRoute (has `delegate`), DelegateRoute (rule of a host-less VS). */
export type HttpRouteType = 'independent' | 'root' | 'delegate';

/** Checks one shaped http rule; `gatewayVs` says whether the VS applies only to gateways. */
export function checkHttpRoute(r: HTTPRoute, path: Path, ctx: ValidationContext, type: HttpRouteType, gatewayVs: boolean): void {
  checkConflicts(r, path, ctx, type);
  (r.match ?? []).forEach((m, i) => checkHttpMatch(m, [...path, 'match', i], ctx, type, gatewayVs));
  checkAuthoritySetOnce(r.rewrite?.authority, r.headers, path, ctx);
  if (r.mirrorPercent !== undefined && r.mirrorPercent > 100) ctx.error([...path, 'mirrorPercent'], `mirror_percent must have a max value of 100 (it has ${r.mirrorPercent})`);
  if (r.route !== undefined) checkWeights(r.route, [...path, 'route'], ctx);
}

function checkConflicts(r: HTTPRoute, path: Path, ctx: ValidationContext, type: HttpRouteType): void {
  const hasRoute = (r.route?.length ?? 0) > 0;
  if (type === 'root') {
    for (const f of ['redirect', 'route', 'directResponse'] as const) {
      if (r[f] !== undefined) ctx.error([...path, f], `root HTTP route${r.name ? ` ${r.name}` : ''} must not specify ${f} (it has a delegate)`, `move the ${f} into the delegate VirtualService, or remove delegate`);
    }
    return;
  }
  if (type === 'delegate' && r.delegate !== undefined) {
    ctx.error([...path, 'delegate'], 'delegate HTTP route cannot contain delegate', 'delegation is one level deep: route, redirect or respond here');
  }
  if (r.redirect !== undefined) {
    if (hasRoute) ctx.error([...path, 'redirect'], 'HTTP route cannot contain both route and redirect', 'a rule either redirects or routes: split it into two rules');
    if (r.fault !== undefined) ctx.error([...path, 'fault'], 'HTTP route cannot contain both fault and redirect', 'remove fault, or split the rule');
    if (r.rewrite !== undefined) ctx.error([...path, 'rewrite'], 'HTTP route rule cannot contain both rewrite and redirect', 'put the new path in redirect.uri and remove rewrite');
    if (r.directResponse !== undefined) ctx.error([...path, 'directResponse'], 'HTTP route cannot contain both redirect and directResponse', 'keep one of them');
  } else if (r.directResponse !== undefined) {
    if (hasRoute) ctx.error([...path, 'directResponse'], 'HTTP route cannot contain both route and directResponse', 'a rule either responds directly or routes: split it into two rules');
    if (r.fault !== undefined) ctx.error([...path, 'fault'], 'HTTP route cannot contain both fault and directResponse', 'remove fault');
    if (r.rewrite !== undefined) ctx.error([...path, 'rewrite'], 'HTTP route cannot contain both rewrite and directResponse', 'remove rewrite');
  } else if (!hasRoute && r.delegate === undefined) {
    ctx.error(path, 'HTTP route, redirect or directResponse is required', 'add route: [{destination: {host: ...}}], redirect, or directResponse');
  }
  if (r.mirror !== undefined && r.mirrors !== undefined) {
    ctx.error([...path, 'mirrors'], 'HTTP route cannot contain both mirror and mirrors', 'move the mirror into mirrors: [{destination: ..., percentage: ...}]');
  }
}

function checkHttpMatch(m: HTTPMatchRequest, path: Path, ctx: ValidationContext, type: HttpRouteType, gatewayVs: boolean): void {
  const delegating = type !== 'independent';
  const noRegex = (what: string): string | undefined => (delegating ? `${what} match does not support regex match for delegating` : undefined);
  const sm = (f: 'uri' | 'scheme' | 'method' | 'authority'): void => {
    const v: StringMatch | undefined = m[f];
    if (v === undefined) return;
    const rules = { nonEmptyExact: f !== 'uri' } as { nonEmptyExact: boolean; noRegex?: string };
    const nr = noRegex(f === 'uri' ? 'url' : f);
    if (nr !== undefined) rules.noRegex = nr;
    checkStringMatch(v, [...path, f], ctx, rules);
  };
  sm('uri');
  sm('scheme');
  sm('method');
  sm('authority');
  if (m.ignoreUriCase === true && m.uri?.regex !== undefined) {
    ctx.warning([...path, 'ignoreUriCase'], 'ignoreUriCase has no effect on a regex uri match', 'use (?i) in the regex, or an exact/prefix match');
  }
  for (const f of ['headers', 'withoutHeaders'] as const) {
    for (const [name, v] of Object.entries(m[f] ?? {})) {
      const p = [...path, f, name];
      const e = matchHeaderNameError(name);
      if (e !== undefined) ctx.error(p, e, 'header names are case-insensitive; write them in lower case without ":"');
      if (name.startsWith('@') && e === undefined && !gatewayVs) {
        ctx.error(p, `JWT claim based routing (key: ${name}) is only supported for gateway, found no gateways`, 'bind the VirtualService to a gateway (gateways: [ns/name]); sidecars cannot route on JWT claims');
      }
      const rules: { noRegex?: string; allowRegex?: string } = f === 'withoutHeaders' ? { allowRegex: '*' } : {};
      const nr = noRegex(`header ${name}`);
      if (nr !== undefined) rules.noRegex = nr;
      checkStringMatch(v, p, ctx, rules);
    }
  }
  for (const [name, v] of Object.entries(m.queryParams ?? {})) {
    const p = [...path, 'queryParams', name];
    if (v.prefix !== undefined) ctx.error([...path, 'queryParams', name, 'prefix'], 'queryParams support only exact and regex matches', 'use exact or regex');
    const rules: { noRegex?: string } = {};
    const nr = noRegex(`query param ${name}`);
    if (nr !== undefined) rules.noRegex = nr;
    checkStringMatch({ ...v, prefix: undefined }, p, ctx, rules);
  }
  if (m.sourceLabels !== undefined) checkLabels(m.sourceLabels, [...path, 'sourceLabels'], ctx);
  (m.gateways ?? []).forEach((g, i) => {
    for (const e of gatewayNameErrors(g)) ctx[e.level](([...path, 'gateways', i]), e.message, e.fix);
  });
  if (m.sourceNamespace !== undefined && m.sourceNamespace !== '' && !isDns1123Label(m.sourceNamespace)) {
    ctx.error([...path, 'sourceNamespace'], `sourceNamespace match ${m.sourceNamespace} is invalid`, 'use a namespace name (DNS label)');
  }
}
