// Reading Envoy configuration written in EnvoyFilter patches: proto-JSON accepts snake_case and
// lowerCamelCase field names, durations as "60s" or {seconds, nanos}, Any values as a direct
// `@type` or wrapped in udpa/xds TypedStruct. Errors are thrown as ProtoError (path + text) and
// become diagnostics in the caller.

import { parseDurationMs } from '../duration.js';

export class ProtoError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.field = field;
  }
}

export type ProtoObject = Record<string, unknown>;

const TYPED_STRUCT = new Set(['type.googleapis.com/udpa.type.v1.TypedStruct', 'type.googleapis.com/xds.type.v3.TypedStruct']);

export function isObject(v: unknown): v is ProtoObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function camel(snake: string): string {
  return snake.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** A field by its proto name, in either JSON spelling. */
export function field(o: ProtoObject | undefined, name: string): unknown {
  if (o === undefined) return undefined;
  if (Object.hasOwn(o, name)) return o[name];
  const c = camel(name);
  return Object.hasOwn(o, c) ? o[c] : undefined;
}

export function objectField(o: ProtoObject | undefined, name: string, path: string): ProtoObject | undefined {
  const v = field(o, name);
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw new ProtoError(`${path}.${name}`, 'expected an object');
  return v;
}

export function stringField(o: ProtoObject | undefined, name: string, path: string): string | undefined {
  const v = field(o, name);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new ProtoError(`${path}.${name}`, `expected a string, got ${JSON.stringify(v)}`);
  return v;
}

export function boolField(o: ProtoObject | undefined, name: string, path: string): boolean | undefined {
  const v = field(o, name);
  if (v === undefined || v === null) return undefined;
  if (isObject(v) && typeof v.value === 'boolean') return v.value; // BoolValue wrapper
  if (typeof v !== 'boolean') throw new ProtoError(`${path}.${name}`, `expected true or false, got ${JSON.stringify(v)}`);
  return v;
}

export function uintField(o: ProtoObject | undefined, name: string, path: string): number | undefined {
  let v = field(o, name);
  if (v === undefined || v === null) return undefined;
  if (isObject(v) && v.value !== undefined) v = v.value; // UInt32Value wrapper
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new ProtoError(`${path}.${name}`, `expected a non-negative integer, got ${JSON.stringify(v)}`);
  return n;
}

export function listField(o: ProtoObject | undefined, name: string, path: string): unknown[] {
  const v = field(o, name);
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ProtoError(`${path}.${name}`, 'expected a list');
  return v;
}

/** google.protobuf.Duration: "1.5s" (also Go-style "1m"), or {seconds, nanos}. */
export function durationField(o: ProtoObject | undefined, name: string, path: string): number | undefined {
  const v = field(o, name);
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') {
    const ms = parseDurationMs(v);
    if (ms === null) throw new ProtoError(`${path}.${name}`, `"${v}" is not a duration (write e.g. "60s")`);
    return ms;
  }
  if (isObject(v)) return Number(v.seconds ?? 0) * 1000 + Number(v.nanos ?? 0) / 1e6;
  throw new ProtoError(`${path}.${name}`, `expected a duration like "60s", got ${JSON.stringify(v)}`);
}

const DENOMINATORS: Readonly<Record<string, number>> = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 };

/** type.v3.FractionalPercent → millionths (0..1e6). */
export function fractionalPercent(v: ProtoObject | undefined, path: string): number {
  if (v === undefined) return 0;
  const num = uintField(v, 'numerator', path) ?? 0;
  const denName = stringField(v, 'denominator', path) ?? 'HUNDRED';
  const den = DENOMINATORS[denName];
  if (den === undefined) throw new ProtoError(`${path}.denominator`, `"${denName}" is not HUNDRED, TEN_THOUSAND or MILLION`);
  return Math.min(1_000_000, Math.round((num * 1_000_000) / den));
}

/** config.core.v3.RuntimeFractionalPercent (runtime keys have no runtime in Sluice: the default applies). */
export function runtimeFractionalPercent(o: ProtoObject | undefined, name: string, path: string): number | undefined {
  const v = objectField(o, name, path);
  if (v === undefined) return undefined;
  return fractionalPercent(objectField(v, 'default_value', `${path}.${name}`), `${path}.${name}.default_value`);
}

/** An Any (`typed_config`): its type URL and message fields, TypedStruct unwrapped. */
export function unwrapAny(v: unknown, path: string): { typeUrl: string; value: ProtoObject } {
  if (!isObject(v)) throw new ProtoError(path, 'expected an object with "@type"');
  const type = v['@type'];
  if (typeof type !== 'string') throw new ProtoError(path, 'missing "@type"');
  if (TYPED_STRUCT.has(type)) {
    const url = v.type_url ?? v.typeUrl;
    if (typeof url !== 'string') throw new ProtoError(`${path}.type_url`, 'a TypedStruct needs type_url');
    const value = v.value ?? {};
    if (!isObject(value)) throw new ProtoError(`${path}.value`, 'expected an object');
    return { typeUrl: url, value };
  }
  const { '@type': _t, ...rest } = v;
  return { typeUrl: type, value: rest };
}

/** `type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit` → the message name. */
export function messageName(typeUrl: string): string {
  const slash = typeUrl.lastIndexOf('/');
  return slash < 0 ? typeUrl : typeUrl.slice(slash + 1);
}

export interface HeaderValueOption {
  readonly name: string;
  readonly value: string;
  /** APPEND_IF_EXISTS_OR_ADD, ADD_IF_ABSENT, OVERWRITE_IF_EXISTS_OR_ADD, OVERWRITE_IF_EXISTS. */
  readonly action: 'append' | 'addIfAbsent' | 'overwrite' | 'overwriteIfExists';
}

/** config.core.v3.HeaderValueOption[] (`append` defaults to true, as in Envoy). */
export function headerValueOptions(o: ProtoObject | undefined, name: string, path: string): HeaderValueOption[] {
  return listField(o, name, path).map((h, i) => {
    const p = `${path}.${name}[${i}]`;
    if (!isObject(h)) throw new ProtoError(p, 'expected {header: {key, value}}');
    const hdr = objectField(h, 'header', p);
    const key = stringField(hdr, 'key', `${p}.header`);
    if (key === undefined || key === '') throw new ProtoError(`${p}.header.key`, 'header key must be set');
    const value = stringField(hdr, 'value', `${p}.header`) ?? '';
    const act = stringField(h, 'append_action', p);
    const append = boolField(h, 'append', p);
    let action: HeaderValueOption['action'] = 'append';
    if (act === 'ADD_IF_ABSENT') action = 'addIfAbsent';
    else if (act === 'OVERWRITE_IF_EXISTS_OR_ADD') action = 'overwrite';
    else if (act === 'OVERWRITE_IF_EXISTS') action = 'overwriteIfExists';
    else if (act === undefined && append === false) action = 'overwrite';
    return Object.freeze({ name: key.toLowerCase(), value, action });
  });
}

/** Proto-JSON merge (EnvoyFilter MERGE): objects merge field by field, lists append, scalars replace. */
export function protoMerge(base: unknown, patch: unknown): unknown {
  if (isObject(base) && isObject(patch)) {
    const out: ProtoObject = { ...base };
    for (const [k, v] of Object.entries(patch)) {
      const existing = Object.hasOwn(out, k) ? k : Object.hasOwn(out, camel(k)) ? camel(k) : k;
      out[existing] = Object.hasOwn(out, existing) ? protoMerge(out[existing], v) : v;
    }
    return out;
  }
  if (Array.isArray(base) && Array.isArray(patch)) return [...base, ...patch];
  return patch;
}
