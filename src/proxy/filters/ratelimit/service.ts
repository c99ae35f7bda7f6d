// The rate limit service, in process: envoyproxy/ratelimit's configuration format (domain,
// nested descriptors with rate_limit {unit, requests_per_unit}, unlimited, shadow_mode) and its
// fixed-window algorithm on Redis (INCRBY + EXPIRE on `<domain>_<key>_<value>_..._<window>`),
// so Sluice replicas — and an envoyproxy/ratelimit deployment on the same Redis — share
// counters. Without Redis the counters live in this process (one replica only).

import { readFileSync } from 'node:fs';
import { parse, parseAllDocuments } from 'yaml';
import type { Redis as RedisClient } from 'ioredis';
import { log } from '../../../util/log.js';
import type { Descriptor } from './descriptors.js';

const UNIT_SECONDS: Readonly<Record<string, number>> = { second: 1, minute: 60, hour: 3600, day: 86_400, week: 604_800, month: 2_592_000, year: 31_536_000 };

export interface RateLimitRule {
  readonly unit: string;
  readonly unitSeconds: number;
  readonly requestsPerUnit: number;
  readonly unlimited: boolean;
}

export interface DescriptorNode {
  readonly key: string;
  /** '' = any value of the key. A trailing `*` matches a value prefix. */
  readonly value: string;
  readonly limit: RateLimitRule | null;
  readonly shadowMode: boolean;
  readonly children: readonly DescriptorNode[];
}

export interface DomainConfig {
  readonly domain: string;
  readonly descriptors: readonly DescriptorNode[];
  readonly source: string;
}

function fail(where: string, msg: string): never {
  throw new Error(`${where}: ${msg}`);
}

function compileNodes(list: unknown, where: string): DescriptorNode[] {
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) fail(where, 'descriptors must be a list');
  return list.map((d: unknown, i: number) => {
    const p = `${where}[${i}]`;
    if (d === null || typeof d !== 'object') fail(p, 'expected {key, value, rate_limit, descriptors}');
    const o = d as Record<string, unknown>;
    if (typeof o.key !== 'string' || o.key === '') fail(`${p}.key`, 'must be a non-empty string');
    const value = o.value === undefined ? '' : String(o.value);
    let limit: RateLimitRule | null = null;
    const rl = o.rate_limit as Record<string, unknown> | undefined;
    if (rl !== undefined && rl !== null) {
      const unlimited = rl.unlimited === true;
      const unit = String(rl.unit ?? '').toLowerCase();
      const secs = UNIT_SECONDS[unit];
      if (!unlimited && secs === undefined) fail(`${p}.rate_limit.unit`, `"${String(rl.unit)}" is not second, minute, hour, day, week, month or year`);
      const rpu = Number(rl.requests_per_unit ?? 0);
      if (!unlimited && !(Number.isInteger(rpu) && rpu >= 0)) fail(`${p}.rate_limit.requests_per_unit`, 'must be a non-negative integer');
      limit = Object.freeze({ unit, unitSeconds: secs ?? 1, requestsPerUnit: rpu, unlimited });
    }
    return Object.freeze({ key: o.key as string, value, limit, shadowMode: o.shadow_mode === true, children: Object.freeze(compileNodes(o.descriptors, `${p}.descriptors`)) });
  });
}

/** One envoyproxy/ratelimit config document: `{domain, descriptors}`. */
export function compileDomainConfig(doc: unknown, source: string): DomainConfig {
  if (doc === null || typeof doc !== 'object') fail(source, 'expected {domain, descriptors}');
  const o = doc as Record<string, unknown>;
  if (typeof o.domain !== 'string' || o.domain === '') fail(`${source}: domain`, 'must be set');
  return Object.freeze({ domain: o.domain, descriptors: Object.freeze(compileNodes(o.descriptors, `${source}: descriptors`)), source });
}

/**
 * Reads `--ratelimit-config FILE`: the service's config.yaml, or the ConfigMap holding it
 * (every `data` value that parses as a domain config), as Istio's ratelimit sample ships it.
 */
export function readRateLimitConfigFile(file: string): DomainConfig[] {
  const text = readFileSync(file, 'utf8');
  const out: DomainConfig[] = [];
  for (const d of parseAllDocuments(text)) {
    if (d.errors.length > 0) fail(file, d.errors[0]!.message);
    const o = d.toJS() as Record<string, unknown> | null;
    if (o === null) continue;
    if (o.kind === 'ConfigMap') {
      for (const [k, v] of Object.entries((o.data ?? {}) as Record<string, string>)) out.push(compileDomainConfig(parse(v), `${file} (ConfigMap data ${k})`));
    } else out.push(compileDomainConfig(o, file));
  }
  if (out.length === 0) fail(file, 'no rate limit configuration found (expected domain: ... descriptors: ...)');
  return out;
}

/** envoyproxy/ratelimit's lookup: per entry, `key_value` exact, then a value prefix `*`, then `key` alone. */
export function findLimit(cfg: DomainConfig, d: Descriptor): DescriptorNode | null {
  let level: readonly DescriptorNode[] = cfg.descriptors;
  let node: DescriptorNode | null = null;
  for (const e of d) {
    let next: DescriptorNode | undefined = level.find((n) => n.key === e.key && n.value !== '' && n.value === e.value);
    next ??= level.find((n) => n.key === e.key && n.value.endsWith('*') && e.value.startsWith(n.value.slice(0, -1)));
    next ??= level.find((n) => n.key === e.key && n.value === '');
    if (next === undefined) return null;
    node = next;
    level = next.children;
  }
  return node !== null && node.limit !== null ? node : null;
}

export type RateLimitCode = 'OK' | 'OVER_LIMIT' | 'ERROR';

/** A descriptor as trace sees it: its limit, the count in the current window (null: not known) and the counter's key. */
export interface PeekedDescriptor {
  readonly node: DescriptorNode | null;
  readonly used: number | null;
  readonly resetSeconds: number;
  readonly key: string | null;
}

export interface DescriptorStatus {
  readonly code: 'OK' | 'OVER_LIMIT';
  readonly limit: RateLimitRule | null;
  readonly remaining: number;
  readonly resetSeconds: number;
}

export interface RateLimitResponse {
  readonly code: RateLimitCode;
  readonly statuses: readonly DescriptorStatus[];
  readonly error: string | null;
}

/** Counter storage: Redis (shared across replicas) or this process. */
export interface LimitBackend {
  readonly name: string;
  /** Adds `hits` to each key (expiring after its window) and returns the new totals. */
  increment(keys: readonly { key: string; ttlSeconds: number }[], hits: number): Promise<number[]>;
  /** The current count of a key without changing it, when the backend can tell without a network call (trace). */
  peek?(key: string): number;
  /** The current counts of keys without changing them, over the network (trace of a running gateway). */
  read?(keys: readonly string[], timeoutMs: number): Promise<number[]>;
  close(): Promise<void>;
}

export class MemoryBackend implements LimitBackend {
  readonly name = 'memory';
  readonly #counts = new Map<string, { n: number; expires: number }>();

  increment(keys: readonly { key: string; ttlSeconds: number }[], hits: number): Promise<number[]> {
    const now = Date.now();
    if (this.#counts.size > 100_000) for (const [k, v] of this.#counts) if (v.expires <= now) this.#counts.delete(k);
    return Promise.resolve(keys.map(({ key, ttlSeconds }) => {
      let c = this.#counts.get(key);
      if (c === undefined || c.expires <= now) this.#counts.set(key, (c = { n: 0, expires: now + ttlSeconds * 1000 }));
      c.n += hits;
      return c.n;
    }));
  }

  peek(key: string): number {
    const c = this.#counts.get(key);
    return c === undefined || c.expires <= Date.now() ? 0 : c.n;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export class RedisBackend implements LimitBackend {
  readonly name: string;
  readonly #client: RedisClient;
  #up = false;

  constructor(client: RedisClient, url: string) {
    this.name = `redis ${url.replace(/\/\/[^@]*@/, '//***@')}`;
    this.#client = client;
    client.on('ready', () => {
      if (!this.#up) log('info', 'ratelimit', `${this.name}: connected`);
      this.#up = true;
    });
    client.on('error', (e: Error) => {
      if (this.#up) log('warn', 'ratelimit', `${this.name}: ${e.message}`);
      this.#up = false;
    });
    client.on('end', () => { this.#up = false; });
  }

  /** Connects (lazily created clients) from an URL: redis://[:password@]host:port[/db]. */
  static async connect(url: string): Promise<RedisBackend> {
    const { Redis } = await import('ioredis');
    const client = new Redis(url, {
      // Fail fast while Redis is down (the filter's failure mode decides), reconnect in the background.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: (times: number) => Math.min(100 * times, 2000),
      lazyConnect: true,
    });
    const b = new RedisBackend(client, url);
    client.connect().catch((e: Error) => log('warn', 'ratelimit', `${b.name}: not reachable yet (${e.message}); rate limit checks fail until it is`));
    return b;
  }

  async increment(keys: readonly { key: string; ttlSeconds: number }[], hits: number): Promise<number[]> {
    const p = this.#client.pipeline();
    for (const k of keys) { p.incrby(k.key, hits); p.expire(k.key, k.ttlSeconds); }
    const res = await p.exec();
    if (res === null) throw new Error('redis pipeline aborted');
    const out: number[] = [];
    for (let i = 0; i < res.length; i += 2) {
      const [err, v] = res[i]!;
      if (err !== null) throw err;
      out.push(Number(v));
    }
    return out;
  }

  /** MGET: reads counters without counting (trace). Missing keys are 0. */
  async read(keys: readonly string[], timeoutMs: number): Promise<number[]> {
    if (keys.length === 0) return [];
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs); });
    try {
      const values = await Promise.race([this.#client.mget(...keys), late]);
      return values.map((v) => (v === null ? 0 : Number(v)));
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    this.#client.disconnect();
  }
}

/** The service: domain configs + a backend. */
export class RateLimitService {
  readonly #domains: ReadonlyMap<string, DomainConfig>;
  readonly backend: LimitBackend;

  constructor(domains: readonly DomainConfig[], backend: LimitBackend) {
    this.#domains = new Map(domains.map((d) => [d.domain, d]));
    this.backend = backend;
  }

  hasDomain(domain: string): boolean {
    return this.#domains.has(domain);
  }

  get domains(): string[] {
    return [...this.#domains.keys()];
  }

  /**
   * For trace: the limit each descriptor falls under and, when the backend can tell without a
   * network call, the count so far in the current window (else null, with the `key` to read).
   * Counts nothing. Keys are built as shouldRateLimit builds them.
   */
  peek(domain: string, descriptors: readonly Descriptor[], nowMs = Date.now()): PeekedDescriptor[] {
    const cfg = this.#domains.get(domain);
    const nowSec = Math.floor(nowMs / 1000);
    return descriptors.map((d) => {
      const node = cfg === undefined ? null : findLimit(cfg, d);
      if (node === null || node.limit!.unlimited) return { node, used: null, resetSeconds: 0, key: null };
      const unit = node.limit!.unitSeconds;
      let key = `${domain}_`;
      for (const e of d) key += `${e.key}_${e.value}_`;
      key += Math.floor(nowSec / unit) * unit;
      const used = this.backend.peek === undefined ? null : this.backend.peek(key);
      return { node, used, resetSeconds: unit - (nowSec % unit), key };
    });
  }

  /** peek(), then the counts a network backend holds (Redis MGET), for a running gateway's trace. */
  async peekRemote(domain: string, descriptors: readonly Descriptor[], timeoutMs: number): Promise<PeekedDescriptor[]> {
    const peeked = this.peek(domain, descriptors);
    const read = this.backend.read;
    const missing = peeked.filter((p) => p.used === null && p.key !== null);
    if (read === undefined || missing.length === 0) return peeked;
    const counts = await read.call(this.backend, missing.map((p) => p.key!), timeoutMs);
    let i = 0;
    return peeked.map((p) => (p.used === null && p.key !== null ? { ...p, used: counts[i++]! } : p));
  }

  /** ShouldRateLimit: OVER_LIMIT when any descriptor with a limit exceeds it. */
  async shouldRateLimit(domain: string, descriptors: readonly Descriptor[], hits = 1, nowMs = Date.now()): Promise<RateLimitResponse> {
    const cfg = this.#domains.get(domain);
    if (cfg === undefined) return { code: 'OK', statuses: descriptors.map(() => ({ code: 'OK', limit: null, remaining: 0, resetSeconds: 0 })), error: null };
    const nowSec = Math.floor(nowMs / 1000);
    const matched = descriptors.map((d) => findLimit(cfg, d));
    const keys: { key: string; ttlSeconds: number }[] = [];
    const keyIndex: number[] = [];
    matched.forEach((m, i) => {
      if (m === null || m.limit!.unlimited) { keyIndex.push(-1); return; }
      const unit = m.limit!.unitSeconds;
      const window = Math.floor(nowSec / unit) * unit;
      let key = `${domain}_`;
      for (const e of descriptors[i]!) key += `${e.key}_${e.value}_`;
      keys.push({ key: `${key}${window}`, ttlSeconds: unit });
      keyIndex.push(keys.length - 1);
    });
    let totals: number[] = [];
    if (keys.length > 0) {
      try {
        totals = await this.backend.increment(keys, hits);
      } catch (e) {
        return { code: 'ERROR', statuses: [], error: `${this.backend.name}: ${(e as Error).message}` };
      }
    }
    let over = false;
    const statuses = matched.map((m, i): DescriptorStatus => {
      const k = keyIndex[i]!;
      if (m === null || k < 0) return { code: 'OK', limit: m?.limit ?? null, remaining: 0, resetSeconds: 0 };
      const l = m.limit!;
      const used = totals[k]!;
      const reset = l.unitSeconds - (nowSec % l.unitSeconds);
      if (used > l.requestsPerUnit && !m.shadowMode) {
        over = true;
        return { code: 'OVER_LIMIT', limit: l, remaining: 0, resetSeconds: reset };
      }
      return { code: 'OK', limit: l, remaining: Math.max(0, l.requestsPerUnit - used), resetSeconds: reset };
    });
    return { code: over ? 'OVER_LIMIT' : 'OK', statuses, error: null };
  }
}

let service: RateLimitService | null = null;

/** Installed by `sluice run` from --ratelimit-config / --ratelimit-redis. */
export function setRateLimitService(s: RateLimitService | null): void {
  service = s;
}

export function rateLimitService(): RateLimitService | null {
  return service;
}
