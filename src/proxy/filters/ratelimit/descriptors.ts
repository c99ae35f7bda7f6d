// Envoy's route `rate_limits` (config.route.v3.RateLimit): actions that turn a request into
// rate-limit descriptors — lists of (key, value) entries — read by the local rate limit
// filter's `descriptors` and sent to the rate limit service by the global filter.

import { compileFullRegex } from '../../../compile/match/string-match.js';
import type { HttpStream } from '../../http/stream.js';

export interface DescriptorEntry {
  readonly key: string;
  readonly value: string;
}

export type Descriptor = readonly DescriptorEntry[];

/** A header matcher (config.route.v3.HeaderMatcher), compiled. */
export interface HeaderMatch {
  readonly name: string;
  readonly test: (value: string | undefined) => boolean;
}

export type RateLimitAction =
  | { readonly type: 'request_headers'; readonly header: string; readonly key: string; readonly skipIfAbsent: boolean }
  | { readonly type: 'query_parameters'; readonly param: string; readonly key: string; readonly skipIfAbsent: boolean }
  | { readonly type: 'remote_address' }
  | { readonly type: 'masked_remote_address'; readonly v4: number; readonly v6: number }
  | { readonly type: 'generic_key'; readonly key: string; readonly value: string }
  | { readonly type: 'header_value_match'; readonly key: string; readonly value: string; readonly expectMatch: boolean; readonly headers: readonly HeaderMatch[] }
  | { readonly type: 'source_cluster'; readonly value: string }
  | { readonly type: 'destination_cluster' };

/** One `rate_limits` entry: its stage and actions (all must produce an entry). */
export interface RouteRateLimit {
  readonly stage: number;
  readonly actions: readonly RateLimitAction[];
}

export function compileHeaderMatch(name: string, spec: { exact?: string; prefix?: string; suffix?: string; contains?: string; regex?: string; present?: boolean; ignoreCase?: boolean; invert?: boolean; missingAsEmpty?: boolean }): HeaderMatch {
  const ic = spec.ignoreCase === true;
  const norm = (s: string): string => (ic ? s.toLowerCase() : s);
  let base: (v: string) => boolean;
  if (spec.exact !== undefined) { const e = norm(spec.exact); base = (v) => norm(v) === e; }
  else if (spec.prefix !== undefined) { const e = norm(spec.prefix); base = (v) => norm(v).startsWith(e); }
  else if (spec.suffix !== undefined) { const e = norm(spec.suffix); base = (v) => norm(v).endsWith(e); }
  else if (spec.contains !== undefined) { const e = norm(spec.contains); base = (v) => norm(v).includes(e); }
  else if (spec.regex !== undefined) { const re = compileFullRegex(spec.regex); base = (v) => re.test(v); }
  else base = () => true;
  const present = spec.present;
  const invert = spec.invert === true;
  const missingAsEmpty = spec.missingAsEmpty === true;
  return Object.freeze({
    name: name.toLowerCase(),
    test: (value: string | undefined) => {
      let v = value;
      if (v === undefined && missingAsEmpty) v = '';
      let m: boolean;
      if (present !== undefined) m = (v !== undefined) === present;
      else m = v !== undefined && base(v);
      return invert ? !m : m;
    },
  });
}

function requestHeader(s: HttpStream, name: string): string | undefined {
  switch (name) {
    case ':path': return s.path;
    case ':authority': return s.authority;
    case ':method': return s.method;
    case ':scheme': return s.scheme;
    default: return s.header(name);
  }
}

/** The client address for `remote_address` (x-forwarded-for with trusted hops, else the peer). */
export function clientAddress(s: HttpStream, trustedHops: number): string {
  if (trustedHops > 0) {
    const xff = s.header('x-forwarded-for');
    if (xff !== undefined) {
      const parts = xff.split(',');
      const k = parts.length - 1 - trustedHops;
      if (k >= 0) return parts[k]!.trim();
    }
  }
  return s.conn.remoteAddress;
}

function maskAddress(ip: string, v4: number, v6: number): string {
  if (!ip.includes(':')) {
    const n = ip.split('.').reduce((a, o) => (a << 8) + Number(o), 0) >>> 0;
    const masked = v4 === 0 ? 0 : (n & (~0 << (32 - v4))) >>> 0;
    return `${[24, 16, 8, 0].map((sh) => (masked >>> sh) & 255).join('.')}/${v4}`;
  }
  return `${ip}/${v6}`;
}

/**
 * Builds the descriptors of the given stage; an entry whose action cannot produce its value
 * (absent header without skip_if_absent, non-matching header_value_match) yields nothing,
 * as Envoy skips the whole descriptor.
 */
export function buildDescriptors(limits: readonly RouteRateLimit[], stage: number, s: HttpStream, trustedHops: number, destinationCluster: string): Descriptor[] {
  const out: Descriptor[] = [];
  outer: for (const l of limits) {
    if (l.stage !== stage) continue;
    const entries: DescriptorEntry[] = [];
    for (const a of l.actions) {
      switch (a.type) {
        case 'request_headers': {
          const v = requestHeader(s, a.header);
          if (v === undefined) { if (a.skipIfAbsent) continue; continue outer; }
          entries.push({ key: a.key, value: v });
          break;
        }
        case 'query_parameters': {
          const v = s.queryParam(a.param);
          if (v === undefined) { if (a.skipIfAbsent) continue; continue outer; }
          entries.push({ key: a.key, value: v });
          break;
        }
        case 'remote_address':
          entries.push({ key: 'remote_address', value: clientAddress(s, trustedHops) });
          break;
        case 'masked_remote_address':
          entries.push({ key: 'masked_remote_address', value: maskAddress(clientAddress(s, trustedHops), a.v4, a.v6) });
          break;
        case 'generic_key':
          entries.push({ key: a.key, value: a.value });
          break;
        case 'header_value_match': {
          const all = a.headers.every((h) => h.test(requestHeader(s, h.name)));
          if (all !== a.expectMatch) continue outer;
          entries.push({ key: a.key, value: a.value });
          break;
        }
        case 'source_cluster':
          entries.push({ key: 'source_cluster', value: a.value });
          break;
        case 'destination_cluster':
          if (destinationCluster === '') continue outer;
          entries.push({ key: 'destination_cluster', value: destinationCluster });
          break;
      }
    }
    if (entries.length > 0) out.push(entries);
  }
  return out;
}

/**
 * The rate limits of the request's route, else of its virtual host (Envoy without
 * include_vh_rate_limits). None without a route entry — a 404 NR, the https redirect, a
 * redirect or direct_response route — as Envoy's ratelimit filters skip those.
 */
export function routeRateLimits(byScope: ReadonlyMap<object, readonly RouteRateLimit[]> | null, s: HttpStream): readonly RouteRateLimit[] | null {
  if (byScope === null || s.route === null || s.route.action.kind !== 'route') return null;
  const r = byScope.get(s.route);
  if (r !== undefined) return r;
  if (s.vhost !== null) {
    const v = byScope.get(s.vhost);
    if (v !== undefined) return v;
  }
  return null;
}

/** The cluster the route will most likely use (its first destination), for destination_cluster. */
export function firstCluster(s: HttpStream): string {
  const a = s.route?.action;
  return a !== undefined && a.kind === 'route' && a.clusters.length > 0 ? a.clusters[0]!.cluster : '';
}
