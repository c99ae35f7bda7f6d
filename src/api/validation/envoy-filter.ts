// EnvoyFilter: CRD shape and istio/istio envoyfilter.ValidateEnvoyFilter — applyTo/patch/operation
// present, value present unless REMOVE, the match kind agrees with applyTo, filter/subFilter match
// rules, proxyVersion is RE2. `patch.value` is Envoy config and stays free-form here: which
// patches Sluice can apply is decided when the filter is compiled.

import type { EnvoyConfigObjectPatch, EnvoyFilterSpec } from '../types.js';
import type { KindValidator, Path, ValidationContext } from './context.js';
import { alphaWorkloadSelectorSchema, targetRefSchema } from './common.js';
import { checkIstioDocument } from './document.js';
import { CODE_INVALID_REGEXP, re2Error } from './regex.js';
import { anyValue, enumOf, int32, list, map, obj, str, uint32 } from './schema.js';
import { cleanItems, isPlainObject } from './walk.js';

const APPLY_TO = ['INVALID', 'LISTENER', 'FILTER_CHAIN', 'NETWORK_FILTER', 'HTTP_FILTER', 'ROUTE_CONFIGURATION', 'VIRTUAL_HOST', 'HTTP_ROUTE', 'CLUSTER', 'EXTENSION_CONFIG', 'BOOTSTRAP', 'LISTENER_FILTER'];
const OPERATIONS = ['INVALID', 'MERGE', 'ADD', 'REMOVE', 'INSERT_BEFORE', 'INSERT_AFTER', 'INSERT_FIRST', 'REPLACE'];
const HCM = 'envoy.filters.network.http_connection_manager';

// xds.ReverseDeprecatedFilterNames: names Envoy dropped in favour of the canonical ones.
const DEPRECATED_FILTER_NAMES: Readonly<Record<string, string>> = {
  'envoy.http_connection_manager': HCM,
  'envoy.router': 'envoy.filters.http.router',
  'envoy.cors': 'envoy.filters.http.cors',
  'envoy.fault': 'envoy.filters.http.fault',
  'envoy.lua': 'envoy.filters.http.lua',
  'envoy.ext_authz': 'envoy.filters.http.ext_authz',
  'envoy.rate_limit': 'envoy.filters.http.ratelimit',
  'envoy.gzip': 'envoy.filters.http.gzip',
  'envoy.health_check': 'envoy.filters.http.health_check',
  'envoy.tcp_proxy': 'envoy.filters.network.tcp_proxy',
  'envoy.listener.tls_inspector': 'envoy.filters.listener.tls_inspector',
  'envoy.listener.original_dst': 'envoy.filters.listener.original_dst',
  'envoy.listener.http_inspector': 'envoy.filters.listener.http_inspector',
};

const matchSchema = obj(
  {
    context: enumOf(['ANY', 'SIDECAR_INBOUND', 'SIDECAR_OUTBOUND', 'GATEWAY']),
    proxy: obj({ proxyVersion: str(), metadata: map(str()) }),
    listener: obj({
      portNumber: uint32(),
      portName: str(),
      filterChain: obj({
        name: str(),
        sni: str(),
        transportProtocol: str(),
        applicationProtocols: str(),
        filter: obj({ name: str(), subFilter: obj({ name: str() }) }),
        destinationPort: uint32(),
      }),
      listenerFilter: str(),
      name: str(),
    }),
    routeConfiguration: obj({
      portNumber: uint32(),
      portName: str(),
      gateway: str(),
      vhost: obj({ name: str(), domainName: str(), route: obj({ name: str(), action: enumOf(['ANY', 'ROUTE', 'REDIRECT', 'DIRECT_RESPONSE']) }) }),
      name: str(),
    }),
    cluster: obj({ portNumber: uint32(), service: str(), subset: str(), name: str() }),
  },
  { oneOf: [['listener', 'routeConfiguration', 'cluster']] },
);

const patchSchema = obj({
  applyTo: enumOf(APPLY_TO),
  match: matchSchema,
  patch: obj({ operation: enumOf(OPERATIONS), value: anyValue(), filterClass: enumOf(['UNSPECIFIED', 'AUTHN', 'AUTHZ', 'STATS']) }),
});

const efSpecSchema = obj({
  workloadSelector: alphaWorkloadSelectorSchema,
  targetRefs: list(targetRefSchema),
  configPatches: list(patchSchema),
  priority: int32(),
});

const LISTENER_CLASS = ['LISTENER', 'FILTER_CHAIN', 'NETWORK_FILTER', 'HTTP_FILTER'];
const ROUTE_CLASS = ['ROUTE_CONFIGURATION', 'VIRTUAL_HOST', 'HTTP_ROUTE'];

function deprecatedName(name: string | undefined, path: Path, ctx: ValidationContext): void {
  const canonical = name !== undefined ? DEPRECATED_FILTER_NAMES[name] : undefined;
  if (canonical !== undefined && canonical !== name) ctx.warning(path, `using deprecated filter name "${name}"; use "${canonical}" instead`, `write name: ${canonical}`);
}

/** One shaped config patch. */
function checkPatch(cp: EnvoyConfigObjectPatch, path: Path, ctx: ValidationContext): void {
  if (cp.applyTo === undefined || cp.applyTo === 'INVALID') {
    ctx.error([...path, 'applyTo'], 'Envoy filter: missing applyTo', `set applyTo, e.g. HTTP_FILTER (one of ${APPLY_TO.slice(1).join(', ')})`);
    return;
  }
  if (cp.patch === undefined) {
    ctx.error([...path, 'patch'], 'Envoy filter: missing patch', 'add patch: {operation: ..., value: {...}}');
    return;
  }
  const op = cp.patch.operation;
  if (op === undefined || op === 'INVALID') {
    ctx.error([...path, 'patch', 'operation'], 'Envoy filter: missing patch operation', `set operation (one of ${OPERATIONS.slice(1).join(', ')})`);
    return;
  }
  if (op !== 'REMOVE' && cp.patch.value === undefined) {
    ctx.error([...path, 'patch', 'value'], 'Envoy filter: missing patch value for non-remove operation', 'add the Envoy configuration to insert or merge under value');
    return;
  }
  if (cp.patch.value !== undefined && !isPlainObject(cp.patch.value)) {
    ctx.error([...path, 'patch', 'value'], 'patch value must be a mapping (an Envoy configuration object)');
  }
  const pv = cp.match?.proxy?.proxyVersion;
  if (pv !== undefined && pv !== '') {
    const e = re2Error(pv);
    if (e !== undefined) ctx.error([...path, 'match', 'proxy', 'proxyVersion'], `Envoy filter: invalid regex for proxy version, [${e}]`, undefined, CODE_INVALID_REGEXP);
  }
  const m = cp.match;
  const mp = [...path, 'match'];
  if (LISTENER_CLASS.includes(cp.applyTo) && m !== undefined) {
    if (m.routeConfiguration !== undefined || m.cluster !== undefined) {
      ctx.error(mp, 'Envoy filter: applyTo for listener class objects cannot have non listener match', 'match on listener: {...}');
      return;
    }
    const filter = m.listener?.filterChain?.filter;
    if (filter !== undefined) {
      const fp = [...mp, 'listener', 'filterChain', 'filter'];
      if (cp.applyTo === 'LISTENER' || cp.applyTo === 'FILTER_CHAIN') ctx.warning(fp, `Envoy filter: filter match has no effect when used with ${cp.applyTo}`);
      if (filter.name === undefined || filter.name === '') {
        ctx.error([...fp, 'name'], 'Envoy filter: filter match has no name to match on', `e.g. name: ${HCM}`);
        return;
      }
      if (filter.subFilter !== undefined) {
        if (cp.applyTo !== 'HTTP_FILTER') ctx.error([...fp, 'subFilter'], 'Envoy filter: subfilter match can be used with applyTo HTTP_FILTER only');
        else if (filter.name !== HCM && filter.name !== 'envoy.http_connection_manager') ctx.error([...fp, 'name'], `Envoy filter: subfilter match requires filter match with ${HCM}`, `write name: ${HCM}`);
        else if ((filter.subFilter.name ?? '') === '') ctx.error([...fp, 'subFilter', 'name'], 'Envoy filter: subfilter match has no name to match on');
      }
      deprecatedName(filter.name, [...fp, 'name'], ctx);
      deprecatedName(filter.subFilter?.name, [...fp, 'subFilter', 'name'], ctx);
    }
  } else if (ROUTE_CLASS.includes(cp.applyTo) && m !== undefined && (m.listener !== undefined || m.cluster !== undefined)) {
    ctx.error(mp, 'Envoy filter: applyTo for http route class objects cannot have non route configuration match', 'match on routeConfiguration: {...}');
  } else if (cp.applyTo === 'CLUSTER' && m !== undefined && (m.listener !== undefined || m.routeConfiguration !== undefined)) {
    ctx.error(mp, 'Envoy filter: applyTo for cluster class objects cannot have non cluster match', 'match on cluster: {...}');
  }
}

function checkEnvoyFilter(spec: EnvoyFilterSpec, ctx: ValidationContext): void {
  if (spec.workloadSelector !== undefined && (spec.targetRefs?.length ?? 0) > 0) {
    ctx.error(['spec', 'targetRefs'], 'only one of targetRefs or workloadSelector can be set');
  }
  for (const [cp, i] of cleanItems(spec.configPatches)) checkPatch(cp, ['spec', 'configPatches', i], ctx);
}

export const validateEnvoyFilter: KindValidator = (body, ctx) => {
  checkIstioDocument(body, efSpecSchema, ctx, true);
  if (isPlainObject(body.spec)) checkEnvoyFilter(body.spec as unknown as EnvoyFilterSpec, ctx);
};
