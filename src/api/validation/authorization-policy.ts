// AuthorizationPolicy: CRD shape and istio/istio ValidateAuthorizationPolicy — provider iff
// CUSTOM, DENY/CUSTOM need rules, non-empty sources/operations and values, IPs/CIDRs, numeric
// ports, path templates, known `when` keys; plus the istio.io/dry-run annotation rule.

import type { AuthorizationPolicySpec, Rule } from '../types.js';
import type { KindValidator, Path, ValidationContext } from './context.js';
import { checkOneSelectorKind, selectorFields } from './common.js';
import { suggest } from './did-you-mean.js';
import { checkIstioDocument } from './document.js';
import { ipOrCidrError, portStringError } from './net.js';
import { enumOf, list, obj, str, stringList } from './schema.js';
import { cleanItems, isPlainObject, shaped } from './walk.js';

const SOURCE_FIELDS = ['principals', 'notPrincipals', 'requestPrincipals', 'notRequestPrincipals', 'namespaces', 'notNamespaces', 'serviceAccounts', 'notServiceAccounts', 'ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks'] as const;
const OPERATION_FIELDS = ['hosts', 'notHosts', 'ports', 'notPorts', 'methods', 'notMethods', 'paths', 'notPaths'] as const;
const fieldsOf = (names: readonly string[]) => Object.fromEntries(names.map((n) => [n, stringList()]));

const apSpecSchema = obj({
  ...selectorFields,
  rules: list(
    obj({
      from: list(obj({ source: obj(fieldsOf(SOURCE_FIELDS)) })),
      to: list(obj({ operation: obj(fieldsOf(OPERATION_FIELDS)) })),
      when: list(obj({ key: str(), values: stringList(), notValues: stringList() }, { required: ['key'] })),
    }),
  ),
  action: enumOf(['ALLOW', 'DENY', 'AUDIT', 'CUSTOM']),
  provider: obj({ name: str() }, { required: ['name'] }),
});

// security.ValidateAttribute: exact keys, and `key[...]` families.
const EXACT_KEYS = ['source.ip', 'remote.ip', 'source.namespace', 'source.principal', 'request.auth.principal', 'request.auth.audiences', 'request.auth.presenter', 'destination.ip', 'destination.port', 'connection.sni'];
const IP_KEYS = ['source.ip', 'remote.ip', 'destination.ip'];
const MAP_KEYS = ['request.headers', 'request.auth.claims', 'experimental.envoy.filters.'];

/** Why `key` is not a supported condition key, or undefined. */
function conditionKeyError(key: string): string | undefined {
  if (EXACT_KEYS.includes(key)) return undefined;
  const family = MAP_KEYS.find((p) => key.startsWith(p));
  if (family === undefined) {
    const guess = suggest(key, [...EXACT_KEYS, 'request.headers[<name>]', 'request.auth.claims[<claim>]']);
    return `unknown attribute: ${key}${guess !== undefined ? `; did you mean "${guess}"?` : ''}`;
  }
  const open = key.indexOf('[');
  if (!(key.endsWith(']') && open > 0 && open < key.length - 2)) return `bad key (${key}): should have format a[b]`;
  return undefined;
}

const PCHAR = /^([A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})+$/;

/** security.CheckValidPathTemplate: `{*}` segments anywhere, `{**}` only last. */
function pathTemplateError(path: string): string | undefined {
  const templated = path.includes('{*}') || path.includes('{**}');
  let sawAny = false;
  for (const glob of path.replace(/^\/+|\/+$/g, '').split('/')) {
    // Envoy's URI templates allow nothing after `{**}`; Istio only rejects a later operator.
    if (sawAny) return `invalid or unsupported path ${path}: {**} is not the last segment`;
    if (glob === '{*}' || glob === '{**}') {
      if (glob === '{**}') sawAny = true;
      continue;
    }
    if (/[{}]/.test(glob)) return `invalid or unsupported path ${path}: contains '{' or '}' beyond a supported path template ({*} or {**})`;
    if (templated && !PCHAR.test(glob)) return `invalid or unsupported path ${path}: contains segment "${glob}" with invalid string literal`;
  }
  return undefined;
}

function checkValues(values: readonly string[] | undefined, path: Path, ctx: ValidationContext, each?: (v: string) => string | undefined): void {
  (values ?? []).forEach((v, i) => {
    if (v === '') ctx.error([...path, i], 'empty value is not allowed', 'remove the empty string; use "*" to match any non-empty value');
    else {
      const e = each?.(v);
      if (e !== undefined) ctx.error([...path, i], e);
    }
  });
}

function checkRule(rule: Rule, path: Path, ctx: ValidationContext, action: string): void {
  let tcpInFrom = false;
  let tcpInTo = false;
  if (rule.from !== undefined && rule.from.length === 0) ctx.error([...path, 'from'], '`from` must not be empty', 'remove `from` to match any source');
  (rule.from ?? []).forEach((f, i) => {
    const p = [...path, 'from', i, 'source'];
    const src = f.source;
    if (src === undefined) {
      ctx.error([...path, 'from', i], '`from.source` must not be nil', 'add source: {principals: [...]} or similar');
      return;
    }
    if (!SOURCE_FIELDS.some((k) => (src[k]?.length ?? 0) > 0)) ctx.error(p, '`from.source` must not be empty', 'add at least one of principals, namespaces, ipBlocks, requestPrincipals, ...');
    for (const k of SOURCE_FIELDS) {
      checkValues(src[k], [...p, k], ctx, k.toLowerCase().includes('ipblocks') ? ipOrCidrError : undefined);
      if (src[k] !== undefined && k !== 'requestPrincipals' && k !== 'notRequestPrincipals') tcpInFrom = true;
      if (action === 'CUSTOM' && ['principals', 'notPrincipals', 'requestPrincipals', 'notRequestPrincipals', 'namespaces', 'notNamespaces'].includes(k) && (src[k]?.length ?? 0) > 0) {
        ctx.error([...p, k], `From.${k[0]!.toUpperCase()}${k.slice(1)} is currently not supported with CUSTOM action`);
      }
    }
  });
  if (rule.to !== undefined && rule.to.length === 0) ctx.error([...path, 'to'], '`to` must not be empty', 'remove `to` to match any operation');
  (rule.to ?? []).forEach((t, i) => {
    const p = [...path, 'to', i, 'operation'];
    const op = t.operation;
    if (op === undefined) {
      ctx.error([...path, 'to', i], '`to.operation` must not be nil', 'add operation: {paths: [...]} or similar');
      return;
    }
    if (!OPERATION_FIELDS.some((k) => (op[k]?.length ?? 0) > 0)) ctx.error(p, '`to.operation` must not be empty', 'add at least one of hosts, ports, methods, paths (or their not* forms)');
    for (const k of OPERATION_FIELDS) {
      const each = k === 'ports' || k === 'notPorts' ? portStringError : k === 'paths' || k === 'notPaths' ? pathTemplateError : undefined;
      checkValues(op[k], [...p, k], ctx, each);
    }
    if (op.ports !== undefined || op.notPorts !== undefined) tcpInTo = true;
  });
  (rule.when ?? []).forEach((c, i) => {
    const p = [...path, 'when', i];
    if (c.key === '') {
      ctx.error([...p, 'key'], '`key` must not be empty');
      return;
    }
    if ((c.values?.length ?? 0) === 0 && (c.notValues?.length ?? 0) === 0) {
      ctx.error(p, `at least one of \`values\` or \`notValues\` must be set for key ${c.key}`);
      return;
    }
    const ke = conditionKeyError(c.key);
    if (ke !== undefined) {
      ctx.error([...p, 'key'], ke, `supported keys: ${EXACT_KEYS.join(', ')}, request.headers[<name>], request.auth.claims[<claim>]`);
      return;
    }
    const each = IP_KEYS.includes(c.key) ? ipOrCidrError : c.key === 'destination.port' ? portStringError : undefined;
    checkValues(c.values, [...p, 'values'], ctx, each);
    checkValues(c.notValues, [...p, 'notValues'], ctx, each);
    if (action === 'CUSTOM' && (c.key === 'source.namespace' || c.key === 'source.principal' || c.key.startsWith('request.auth.'))) {
      ctx.error([...p, 'key'], `${c.key} is currently not supported with CUSTOM action`);
    }
  });
  const fromExists = (rule.from?.length ?? 0) > 0;
  const toExists = (rule.to?.length ?? 0) > 0;
  if (action === 'DENY' && ((fromExists && !toExists && !tcpInFrom) || (toExists && !tcpInTo))) {
    ctx.warning(path, 'configured AuthorizationPolicy will deny all traffic to TCP ports under its scope due to the use of only HTTP attributes in a DENY rule; it is recommended to explicitly specify the port', 'add to: [{operation: {ports: ["8080"]}}] naming the HTTP ports');
  }
}

function checkDryRun(spec: AuthorizationPolicySpec, ctx: ValidationContext): void {
  const v = ctx.resource.metadata.annotations?.['istio.io/dry-run'];
  if (v === undefined) return;
  const action = spec.action ?? 'ALLOW';
  if (action !== 'ALLOW' && action !== 'DENY') ctx.error(['metadata', 'annotations', 'istio.io/dry-run'], `the annotation istio.io/dry-run currently only supports action ALLOW/DENY, found action ${action}`);
  else if (!/^(1|t|T|TRUE|true|True|0|f|F|FALSE|false|False)$/.test(v)) ctx.error(['metadata', 'annotations', 'istio.io/dry-run'], `annotation istio.io/dry-run has invalid value (${v})`, 'use "true" or "false"');
}

function checkAuthorizationPolicy(spec: AuthorizationPolicySpec, ctx: ValidationContext): void {
  checkOneSelectorKind(spec, ['spec'], ctx);
  const action = typeof spec.action === 'string' ? spec.action : 'ALLOW';
  const noRules = spec.rules === undefined || (Array.isArray(spec.rules) && spec.rules.length === 0);
  if (action === 'CUSTOM') {
    if (noRules) ctx.error(['spec'], 'CUSTOM action without `rules` is meaningless as it will never be triggered, add an empty rule `{}` if you want it be triggered for every request', 'add rules: [{}]');
    else if (!shaped(spec.provider) || spec.provider?.name === '') ctx.error(['spec', 'provider'], '`provider.name` must not be empty', 'name an extension provider from meshConfig.extensionProviders');
  }
  if (spec.provider !== undefined && action !== 'CUSTOM') ctx.error(['spec', 'provider'], `\`provider\` must not be with non CUSTOM action, found ${action}`, 'set action: CUSTOM, or remove provider');
  if (action === 'DENY' && noRules) ctx.error(['spec'], 'DENY action without `rules` is meaningless as it will never be triggered, add an empty rule `{}` if you want it be triggered for every request', 'add rules: [{}] to deny everything');
  for (const [r, i] of cleanItems(spec.rules)) checkRule(r, ['spec', 'rules', i], ctx, action);
  checkDryRun(spec, ctx);
}

export const validateAuthorizationPolicy: KindValidator = (body, ctx) => {
  checkIstioDocument(body, apSpecSchema, ctx, false);
  checkAuthorizationPolicy((isPlainObject(body.spec) ? body.spec : {}) as AuthorizationPolicySpec, ctx);
};
