// JSON Web Key Sets for RequestAuthentication: inline `jwks`, a `jwksUri`, or OIDC discovery
// (`<issuer>/.well-known/openid-configuration`). Istio's istiod fetches keys and inlines them
// (refresh every 20 min, PILOT_JWT_PUB_KEY_REFRESH_INTERVAL); Sluice fetches them itself with
// the same refresh, and keeps serving the last good keys when the JWKS server is down or slow.
// A token whose `kid` is unknown triggers one bounded refetch (key rotation), rate limited so
// random kids cannot turn the proxy into a load generator against the JWKS server.

import { request as httpGet, type RequestOptions } from 'node:http';
import { request as httpsGet } from 'node:https';
import { lookup as systemLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import type { JSONWebKeySet, LocalJWKSet } from 'jose';
import { joseModule } from '../util/lazy-module.js';
import { log } from '../util/log.js';

/** Istio's default refresh interval for remote keys (PILOT_JWT_PUB_KEY_REFRESH_INTERVAL). */
export const JWKS_REFRESH_MS = 20 * 60_000;
/** Istio's default JWKS fetch timeout (JWTRule.timeout). */
export const JWKS_DEFAULT_TIMEOUT_MS = 5_000;
/** At most one refetch for unknown `kid`s per this interval (the first one is always allowed). */
export const UNKNOWN_KID_REFETCH_COOLDOWN_MS = 30_000;
/** A JWKS document larger than this is refused (Envoy's remote JWKS limit is similar). */
const MAX_JWKS_BYTES = 1 << 20;

/** How JWKS host names resolve: the same `--resolve` overrides as clusters, then the system. */
export type HostOverride = (host: string) => string[] | undefined;

let hostOverride: HostOverride = () => undefined;

/** The runtime installs its DNS overrides (`--resolve`) so JWKS fetches honour them too. */
export function setJwksHostOverride(f: HostOverride): void {
  hostOverride = f;
}

function lookupWithOverrides(host: string, opts: LookupOptions, cb: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void): void {
  const o = hostOverride(host);
  if (o !== undefined && o.length > 0) {
    if (opts.all === true) cb(null, o.map((a) => ({ address: a, family: isIP(a) })));
    else cb(null, o[0]!, isIP(o[0]!));
    return;
  }
  systemLookup(host, opts, cb as never);
}

/** GET `uri` with a hard deadline; resolves the body text, rejects with a readable reason. */
export function fetchText(uri: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let u: URL;
    try {
      u = new URL(uri);
    } catch {
      reject(new Error(`invalid URL ${uri}`));
      return;
    }
    const get = u.protocol === 'https:' ? httpsGet : httpGet;
    const opts: RequestOptions = { method: 'GET', headers: { accept: 'application/json' }, lookup: lookupWithOverrides as never, agent: false };
    const req = get(u, opts, (res) => {
      if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) {
        res.resume();
        reject(new Error(`HTTP ${res.statusCode} from ${uri}`));
        return;
      }
      const chunks: Buffer[] = [];
      let n = 0;
      res.on('data', (c: Buffer) => {
        n += c.length;
        if (n > MAX_JWKS_BYTES) { req.destroy(new Error(`response from ${uri} exceeds ${MAX_JWKS_BYTES} bytes`)); return; }
        chunks.push(c);
      });
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.on('error', reject);
    });
    const timer = setTimeout(() => req.destroy(new Error(`timed out after ${timeoutMs} ms fetching ${uri}`)), timeoutMs);
    req.on('error', (e) => { clearTimeout(timer); reject(e); });
    req.on('close', () => clearTimeout(timer));
    req.end();
  });
}

/** Parses a JWK Set (or a single JWK) into jose's key resolver; throws a readable error. */
export function parseJwks(text: string): { set: LocalJWKSet; count: number; kids: string[] } {
  const doc = JSON.parse(text) as Record<string, unknown>;
  const jwks: JSONWebKeySet = Array.isArray(doc.keys) ? (doc as unknown as JSONWebKeySet) : typeof doc.kty === 'string' ? { keys: [doc as never] } : (() => { throw new Error('not a JSON Web Key Set (no "keys")'); })();
  return { set: joseModule().createLocalJWKSet(jwks), count: jwks.keys.length, kids: jwks.keys.map((k) => (typeof k.kid === 'string' ? k.kid : '')).filter((k) => k !== '') };
}

export type JwksState = 'ready' | 'pending' | 'failed';

/** What a source holds after a fetch: the JWKS text ('' before any success), when, and the last error. */
export interface JwksFetchResult {
  readonly text: string;
  readonly fetchedAt: number;
  readonly error: string | null;
}

/**
 * `--concurrency N`: the primary holds the gateway's key sets and fetches them; a worker's
 * source asks it (by the source's key) instead of fetching, so a rotation one worker sees
 * reaches all of them, and the JWKS server sees one gateway.
 */
export interface JwksDelegate {
  /** `unknownKid`: a token named this kid; the primary refetches at most once per cooldown for the gateway. */
  fetch(key: string, why: string, unknownKid: string | null): Promise<JwksFetchResult>;
}

let delegate: JwksDelegate | null = null;
/** The primary hears every fetch of its sources, to pass the keys on to the workers. */
let fetchListener: ((key: string, r: JwksFetchResult) => void) | null = null;

export function setJwksDelegate(d: JwksDelegate): void {
  delegate = d;
}

export function onJwksFetched(cb: (key: string, r: JwksFetchResult) => void): void {
  fetchListener = cb;
}

/**
 * One key set, shared by every provider (and every snapshot) naming the same source, so a
 * reload does not refetch and rotation state survives. `keys` is null until the first
 * successful fetch; afterwards a failed refresh keeps the last good keys (stale is better
 * than locking everyone out), and says so in the log.
 */
export class JwksSource {
  /** The process-wide key of a remote source ('' inline): the same in the primary and every worker. */
  readonly key: string;
  readonly uri: string | null;
  /** For OIDC discovery: the issuer whose `.well-known/openid-configuration` names the JWKS. */
  readonly discoveryIssuer: string | null;
  readonly timeoutMs: number;
  #keys: LocalJWKSet | null = null;
  #kids: string[] = [];
  #count = 0;
  #text = '';
  /** Bumped whenever the keys change: caches of verified tokens key on it. */
  version = 0;
  lastFetchAt = 0;
  lastError: string | null = null;
  #inflight: Promise<void> | null = null;
  #lastKidRefetch = -Infinity;
  #timer: NodeJS.Timeout | null = null;
  #started = false;

  constructor(o: { uri?: string | null; inline?: string | null; discoveryIssuer?: string | null; timeoutMs?: number; key?: string }) {
    this.key = o.key ?? '';
    this.uri = o.uri ?? null;
    this.discoveryIssuer = o.discoveryIssuer ?? null;
    this.timeoutMs = o.timeoutMs ?? JWKS_DEFAULT_TIMEOUT_MS;
    if (o.inline !== undefined && o.inline !== null) this.#install(o.inline);
  }

  get keys(): LocalJWKSet | null {
    return this.#keys;
  }

  get state(): JwksState {
    if (this.#keys !== null) return 'ready';
    return this.lastError !== null && this.#inflight === null ? 'failed' : 'pending';
  }

  get remote(): boolean {
    return this.uri !== null || this.discoveryIssuer !== null;
  }

  /** `kid`s of the current keys (for trace). */
  get kids(): readonly string[] {
    return this.#kids;
  }

  /** The fetch in progress, if any (trace waits for it rather than starting one). */
  get fetching(): Promise<void> | null {
    return this.#inflight;
  }

  /** Would a token with an unknown `kid` trigger a refetch now (see refetchForUnknownKid)? */
  unknownKidRefetchAllowed(now = Date.now()): boolean {
    return this.remote && (this.#inflight !== null || now - this.#lastKidRefetch >= UNKNOWN_KID_REFETCH_COOLDOWN_MS);
  }

  /** Where the keys come from, for messages. */
  describe(): string {
    return this.uri ?? (this.discoveryIssuer !== null ? `${this.discoveryIssuer} (OIDC discovery)` : 'inline jwks');
  }

  #install(text: string): boolean {
    if (text === this.#text && this.#keys !== null) return false;
    const p = parseJwks(text);
    this.#keys = p.set;
    this.#kids = p.kids;
    this.#count = p.count;
    this.#text = text;
    this.version++;
    return true;
  }

  /** Starts fetching (once) and the periodic refresh. Inline sets need nothing. */
  start(): void {
    if (this.#started || !this.remote) return;
    this.#started = true;
    void this.refresh('initial fetch');
    // A worker's keys come from the primary, which refreshes them for everyone.
    if (delegate !== null) return;
    this.#timer = setInterval(() => void this.refresh('periodic refresh'), JWKS_REFRESH_MS);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.#started = false;
  }

  /** Fetches now (one fetch at a time; callers share it). Never rejects. */
  refresh(why: string): Promise<void> {
    if (!this.remote) return Promise.resolve();
    if (this.#inflight !== null) return this.#inflight;
    if (delegate !== null) return this.#delegated(delegate, why, null);
    const run = async (): Promise<void> => {
      const where = this.uri ?? `${this.discoveryIssuer} (OIDC discovery)`;
      try {
        let uri = this.uri;
        if (uri === null) {
          const disc = JSON.parse(await fetchText(`${this.discoveryIssuer!.replace(/\/$/, '')}/.well-known/openid-configuration`, this.timeoutMs)) as { jwks_uri?: unknown };
          if (typeof disc.jwks_uri !== 'string') throw new Error('openid-configuration has no jwks_uri');
          uri = disc.jwks_uri;
        }
        const text = await fetchText(uri, this.timeoutMs);
        const changed = this.#install(text);
        this.lastFetchAt = Date.now();
        if (this.lastError !== null || changed) log('info', 'jwks', `${where}: ${this.#count} key${this.#count === 1 ? '' : 's'}${this.#kids.length > 0 ? ` (kid ${this.#kids.join(', ')})` : ''} (${why})`);
        this.lastError = null;
      } catch (e) {
        this.lastError = (e as Error).message;
        log('warn', 'jwks', this.#keys !== null
          ? `${where}: ${why} failed (${this.lastError}); keeping the last good keys from ${new Date(this.lastFetchAt).toISOString()}`
          : `${where}: ${why} failed (${this.lastError}); tokens for this issuer are rejected until the keys can be fetched`);
      } finally {
        this.#inflight = null;
        fetchListener?.(this.key, { text: this.#text, fetchedAt: this.lastFetchAt, error: this.lastError });
      }
    };
    this.#inflight = run();
    return this.#inflight;
  }

  #delegated(d: JwksDelegate, why: string, unknownKid: string | null): Promise<void> {
    this.#inflight ??= d.fetch(this.key, why, unknownKid).then((r) => this.adopt(r), (e: Error) => { this.lastError = e.message; }).finally(() => { this.#inflight = null; });
    return this.#inflight;
  }

  /** Takes what the primary fetched (a worker of `--concurrency N`). */
  adopt(r: JwksFetchResult): void {
    if (r.text !== '') this.#install(r.text);
    this.lastFetchAt = r.fetchedAt;
    this.lastError = r.error;
  }

  /** What this source holds now (the primary's answer to a worker). */
  held(): JwksFetchResult {
    return { text: this.#text, fetchedAt: this.lastFetchAt, error: this.lastError };
  }

  /** Resolves once a fetch in progress (or the first one) is over. */
  whenSettled(): Promise<void> {
    if (this.#inflight !== null) return this.#inflight;
    if (this.#keys === null && this.remote) return this.refresh('on-demand fetch');
    return Promise.resolve();
  }

  /**
   * A token names a `kid` we do not have: keys may have rotated. Refetch at most once per
   * cooldown (the first time always); resolves true when the keys changed.
   */
  async refetchForUnknownKid(kid: string, now = Date.now()): Promise<boolean> {
    if (!this.remote) return false;
    if (delegate !== null) {
      // The cooldown is the gateway's: the primary keeps it.
      const before = this.version;
      await this.#delegated(delegate, `unknown kid "${kid}"`, kid);
      return this.version !== before;
    }
    if (this.#inflight === null && now - this.#lastKidRefetch < UNKNOWN_KID_REFETCH_COOLDOWN_MS) return false;
    if (this.#inflight === null) this.#lastKidRefetch = now;
    const before = this.version;
    await this.refresh(`unknown kid "${kid}"`);
    return this.version !== before;
  }

  toJSON(): unknown {
    return { uri: this.uri, discoveryIssuer: this.discoveryIssuer, state: this.state, keys: this.#count, kids: this.#kids, lastFetchAt: this.lastFetchAt === 0 ? null : new Date(this.lastFetchAt).toISOString(), lastError: this.lastError };
  }
}

/** Keys fetched for an offline trace, outside the shared source (which stays untouched). */
export interface FetchedKeySet {
  readonly keys: LocalJWKSet | null;
  readonly kids: readonly string[];
  readonly error: string | null;
}

/**
 * Fetches a remote source's keys once, with its timeout, without installing them: `sluice
 * trace -c` and `sluice test` explain JWT decisions with the keys the gateway would fetch.
 * Never rejects.
 */
export async function fetchKeySetOnce(src: JwksSource): Promise<FetchedKeySet> {
  try {
    let uri = src.uri;
    if (uri === null) {
      if (src.discoveryIssuer === null) return { keys: null, kids: [], error: 'not a remote key set' };
      const disc = JSON.parse(await fetchText(`${src.discoveryIssuer.replace(/\/$/, '')}/.well-known/openid-configuration`, src.timeoutMs)) as { jwks_uri?: unknown };
      if (typeof disc.jwks_uri !== 'string') throw new Error('openid-configuration has no jwks_uri');
      uri = disc.jwks_uri;
    }
    const p = parseJwks(await fetchText(uri, src.timeoutMs));
    return { keys: p.set, kids: p.kids, error: null };
  } catch (e) {
    return { keys: null, kids: [], error: (e as Error).message };
  }
}

const sources = new Map<string, JwksSource>();

/**
 * The process-wide source for a remote key set (by URI or issuer), created on first use. Inline
 * sets are not shared (they live and die with their snapshot).
 */
export function remoteJwksSource(o: { uri: string | null; discoveryIssuer: string | null; timeoutMs: number }): JwksSource {
  const key = `${o.uri ?? `discovery:${o.discoveryIssuer}`}|${o.timeoutMs}`;
  let s = sources.get(key);
  if (s === undefined) sources.set(key, (s = new JwksSource({ ...o, key })));
  return s;
}

/** The remote source with this key, if this process compiled one. */
export function jwksSourceByKey(key: string): JwksSource | undefined {
  return sources.get(key);
}

/** Every remote source created so far (admin / tests). */
export function allJwksSources(): JwksSource[] {
  return [...sources.values()];
}
