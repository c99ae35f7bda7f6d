// Route / virtual host `rate_limits` (config.route.v3.RateLimit) from EnvoyFilter MERGE
// patches → compiled descriptor actions.

import { compileHeaderMatch, type HeaderMatch, type RateLimitAction, type RouteRateLimit } from '../../proxy/filters/ratelimit/descriptors.js';
import { boolField, isObject, listField, objectField, ProtoError, stringField, uintField, type ProtoObject } from './envoy-proto.js';

function headerMatcher(h: unknown, path: string): HeaderMatch {
  if (!isObject(h)) throw new ProtoError(path, 'expected a header matcher {name, exact_match | string_match | present_match ...}');
  const name = stringField(h, 'name', path);
  if (name === undefined || name === '') throw new ProtoError(`${path}.name`, 'must be set');
  const sm = objectField(h, 'string_match', path);
  const safe = objectField(h, 'safe_regex_match', path) ?? objectField(sm, 'safe_regex', `${path}.string_match`);
  return compileHeaderMatch(name, {
    exact: stringField(h, 'exact_match', path) ?? stringField(sm, 'exact', `${path}.string_match`),
    prefix: stringField(h, 'prefix_match', path) ?? stringField(sm, 'prefix', `${path}.string_match`),
    suffix: stringField(h, 'suffix_match', path) ?? stringField(sm, 'suffix', `${path}.string_match`),
    contains: stringField(h, 'contains_match', path) ?? stringField(sm, 'contains', `${path}.string_match`),
    regex: safe !== undefined ? stringField(safe, 'regex', path) : undefined,
    present: boolField(h, 'present_match', path),
    ignoreCase: boolField(sm, 'ignore_case', `${path}.string_match`),
    invert: boolField(h, 'invert_match', path),
    missingAsEmpty: boolField(h, 'treat_missing_header_as_empty', path),
  });
}

function action(a: unknown, path: string, serviceCluster: string): RateLimitAction {
  if (!isObject(a)) throw new ProtoError(path, 'expected an action');
  const keys = Object.keys(a);
  if (keys.length !== 1) throw new ProtoError(path, `an action has exactly one kind, found ${keys.join(', ') || 'none'}`);
  const kind = keys[0]!;
  const v = (a[kind] ?? {}) as ProtoObject;
  const p = `${path}.${kind}`;
  switch (kind.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)) {
    case 'request_headers': {
      const header = stringField(v, 'header_name', p);
      const key = stringField(v, 'descriptor_key', p);
      if (header === undefined || key === undefined) throw new ProtoError(p, 'needs header_name and descriptor_key');
      return { type: 'request_headers', header: header.toLowerCase(), key, skipIfAbsent: boolField(v, 'skip_if_absent', p) ?? false };
    }
    case 'query_parameters': {
      const param = stringField(v, 'query_parameter_name', p);
      const key = stringField(v, 'descriptor_key', p);
      if (param === undefined || key === undefined) throw new ProtoError(p, 'needs query_parameter_name and descriptor_key');
      return { type: 'query_parameters', param, key, skipIfAbsent: boolField(v, 'skip_if_absent', p) ?? false };
    }
    case 'remote_address':
      return { type: 'remote_address' };
    case 'masked_remote_address':
      return { type: 'masked_remote_address', v4: uintField(v, 'v4_prefix_mask_len', p) ?? 32, v6: uintField(v, 'v6_prefix_mask_len', p) ?? 128 };
    case 'generic_key': {
      const value = stringField(v, 'descriptor_value', p);
      if (value === undefined) throw new ProtoError(p, 'needs descriptor_value');
      return { type: 'generic_key', key: stringField(v, 'descriptor_key', p) ?? 'generic_key', value };
    }
    case 'header_value_match': {
      const value = stringField(v, 'descriptor_value', p);
      if (value === undefined) throw new ProtoError(p, 'needs descriptor_value');
      return {
        type: 'header_value_match',
        key: stringField(v, 'descriptor_key', p) ?? 'header_match',
        value,
        expectMatch: boolField(v, 'expect_match', p) ?? true,
        headers: Object.freeze(listField(v, 'headers', p).map((h, i) => headerMatcher(h, `${p}.headers[${i}]`))),
      };
    }
    case 'source_cluster':
      return { type: 'source_cluster', value: serviceCluster };
    case 'destination_cluster':
      return { type: 'destination_cluster' };
    default:
      throw new ProtoError(p, `rate limit action ${kind} is not supported by Sluice (supported: request_headers, query_parameters, remote_address, masked_remote_address, generic_key, header_value_match, source_cluster, destination_cluster)`);
  }
}

export function compileRouteRateLimits(v: unknown, path: string, serviceCluster: string): RouteRateLimit[] {
  if (!Array.isArray(v)) throw new ProtoError(path, 'expected a list of {actions: [...]}');
  return v.map((rl, i) => {
    const p = `${path}[${i}]`;
    if (!isObject(rl)) throw new ProtoError(p, 'expected {actions: [...]}');
    const actions = listField(rl, 'actions', p).map((a, j) => action(a, `${p}.actions[${j}]`, serviceCluster));
    if (actions.length === 0) throw new ProtoError(`${p}.actions`, 'needs at least one action');
    return Object.freeze({ stage: uintField(rl, 'stage', p) ?? 0, actions: Object.freeze(actions) });
  });
}
