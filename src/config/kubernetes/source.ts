// The Kubernetes config source: informers (list + watch) for every watched resource, one
// object cache, and a debounced "something changed" for `sluice run` to rebuild the snapshot.
// Builds read the cache through KubernetesObjectLoader (validation + last good per object).

import type { LoadResult } from '../loader.js';
import { log } from '../../util/log.js';
import type { KubeApi, KubeObject } from './api-client.js';
import { Backoff, Debouncer, type BackoffOptions } from './backoff.js';
import { Discovery } from './discovery.js';
import { KubernetesObjectLoader, type CachedObject } from './object-loader.js';
import { Reflector, type ReflectorStatus } from './reflector.js';
import { collectionPath, groupVersion, WATCHED_RESOURCES, type ResourceType } from './resources.js';

/** Annotations that change without meaning anything to a gateway, and cost memory. */
const DROPPED_ANNOTATIONS = ['kubectl.kubernetes.io/last-applied-configuration', 'control-plane.alpha.kubernetes.io/leader'];

export interface KubernetesSourceOptions {
  api: KubeApi;
  /** `--watch-namespace`: namespaces whose objects are read; empty = every namespace. */
  namespaces: readonly string[];
  /** The gateway's namespace (`--namespace`): the only one whose Secrets are read. */
  gatewayNamespace: string;
  resources?: readonly ResourceType[];
  /** Quiet time that ends a burst of events (default 100 ms). */
  debounceMs?: number;
  /** Longest a burst can delay a rebuild (default 1 s). */
  debounceMaxMs?: number;
  backoff?: BackoffOptions;
  /** How often resources not served (CRDs not installed) are looked for again (default 60 s). */
  rediscoverMs?: number;
  /** Server-side watch timeout; default a random 300–600 s. */
  watchTimeoutSeconds?: number;
}

export interface WatchedResourceStatus extends Partial<ReflectorStatus> {
  kind: string;
  /** group/version read, or null when the API server serves none of the versions Sluice reads. */
  apiVersion: string | null;
  /** `*` = every namespace. */
  namespace: string;
  objects: number;
  healthy: boolean;
}

export type KubernetesSourceStatus = {
  type: 'kubernetes';
  server: string;
  /** `in-cluster` or the kubeconfig file. */
  config: string;
  namespaces: string[] | 'all';
  secretsNamespace: string;
  /** Every watch has its objects and its last request succeeded. */
  healthy: boolean;
  objects: number;
  /** Kinds whose CRD the API server does not serve (looked for again periodically). */
  notServed: string[];
  lastChangeAt: string | null;
  resources: WatchedResourceStatus[];
};

interface Collection {
  rt: ResourceType;
  version: string;
  namespace: string | null;
  reflector: Reflector;
  keys: Set<string>;
  /** Failed attempts in the current streak (for logging). */
  failures: number;
}

export class KubernetesSource {
  readonly #o: KubernetesSourceOptions;
  readonly #discovery: Discovery;
  readonly #objects = new Map<string, CachedObject>();
  readonly #loader: KubernetesObjectLoader;
  readonly #collections: Collection[] = [];
  #notServed: ResourceType[] = [];
  readonly #debouncer: Debouncer;
  #onChange: (() => void) | null = null;
  #started = false;
  #dirty = false;
  #stopped = false;
  #lastChangeAt: string | null = null;
  #rediscover: NodeJS.Timeout | null = null;
  readonly #failing = new Set<Collection>();
  #outageStart: number | null = null;

  constructor(o: KubernetesSourceOptions) {
    this.#o = o;
    this.#discovery = new Discovery(o.api);
    this.#loader = new KubernetesObjectLoader(() => this.#objects.values());
    this.#debouncer = new Debouncer(() => this.#fire(), o.debounceMs ?? 100, o.debounceMaxMs ?? 1000);
  }

  /** Discovers the served versions, starts every watch, and resolves once all objects are listed. */
  async start(): Promise<void> {
    const resources = this.#o.resources ?? WATCHED_RESOURCES;
    const backoff = new Backoff(this.#o.backoff);
    for (;;) {
      try {
        await this.#discover(resources);
        break;
      } catch (e) {
        if (this.#stopped) return;
        const ms = backoff.next();
        log('warn', 'kubernetes', `discovery at ${this.#o.api.server} failed: ${(e as Error).message}; retrying in ${(ms / 1000).toFixed(1)}s`);
        await new Promise((r) => setTimeout(r, ms));
      }
    }
    const ns = this.#o.namespaces;
    log('info', 'kubernetes', `reading ${this.#collections.length} collections from ${this.#o.api.server} (${this.#o.api.origin}); namespaces: ${ns.length === 0 ? 'all' : ns.join(', ')}; Secrets: ${this.#o.gatewayNamespace} only`);
    if (ns.length > 0 && !ns.includes(this.#o.gatewayNamespace)) {
      log('warn', 'kubernetes', `--watch-namespace does not include the gateway's namespace ${this.#o.gatewayNamespace}: Gateways, mesh-wide policies and Telemetry there are not read`);
    }
    await Promise.all(this.#collections.map((c) => c.reflector.whenSynced()));
    this.#started = true;
    this.#scheduleRediscovery();
    log('info', 'kubernetes', `synced: ${this.#objects.size} objects`);
  }

  /** Calls `onChange` (debounced) whenever a watched object changes. */
  subscribe(onChange: () => void): void {
    this.#onChange = onChange;
    if (this.#dirty) this.#debouncer.kick();
  }

  /** The config source of the pipeline: validated resources with last-good rules. */
  load(): LoadResult {
    return this.#loader.load();
  }

  stop(): void {
    this.#stopped = true;
    this.#debouncer.cancel();
    if (this.#rediscover !== null) clearInterval(this.#rediscover);
    for (const c of this.#collections) c.reflector.stop();
  }

  get healthy(): boolean {
    return this.#collections.every((c) => c.reflector.healthy);
  }

  status(): KubernetesSourceStatus {
    const resources: WatchedResourceStatus[] = this.#collections.map((c) => ({
      kind: c.rt.kind,
      apiVersion: groupVersion(c.rt.group, c.version),
      namespace: c.namespace ?? '*',
      objects: c.keys.size,
      healthy: c.reflector.healthy,
      ...c.reflector.status(),
    }));
    for (const rt of this.#notServed) resources.push({ kind: rt.kind, apiVersion: null, namespace: '*', objects: 0, healthy: true });
    return {
      type: 'kubernetes',
      server: this.#o.api.server,
      config: this.#o.api.origin,
      namespaces: this.#o.namespaces.length === 0 ? 'all' : [...this.#o.namespaces],
      secretsNamespace: this.#o.gatewayNamespace,
      healthy: this.healthy,
      objects: this.#objects.size,
      notServed: this.#notServed.map((rt) => `${rt.kind} (${rt.versions.map((v) => groupVersion(rt.group, v)).join(', ')})`),
      lastChangeAt: this.#lastChangeAt,
      resources,
    };
  }

  async #discover(resources: readonly ResourceType[]): Promise<void> {
    const notServed: ResourceType[] = [];
    for (const rt of resources) {
      if (this.#collections.some((c) => c.rt === rt)) continue;
      const version = await this.#discovery.versionOf(rt);
      if (version === null) { notServed.push(rt); continue; }
      const namespaces: (string | null)[] = rt.scope === 'gateway' ? [this.#o.gatewayNamespace] : this.#o.namespaces.length === 0 ? [null] : [...this.#o.namespaces];
      for (const ns of namespaces) this.#watch(rt, version, ns);
    }
    const was = new Set(this.#notServed.map((rt) => rt.kind));
    for (const rt of notServed) {
      if (was.has(rt.kind)) continue;
      const important = rt.kind === 'Gateway' || rt.kind === 'VirtualService';
      log(important ? 'error' : 'warn', 'kubernetes', `${rt.kind} is not served by the API server (none of ${rt.versions.map((v) => groupVersion(rt.group, v)).join(', ')}): ${rt.group.endsWith('istio.io') ? "Istio's CRDs are not installed (helm install istio-base, or kubectl apply the CRDs)" : 'this cluster has no such API'}; looking again every ${(this.#o.rediscoverMs ?? 60_000) / 1000}s`);
    }
    this.#notServed = notServed;
  }

  #watch(rt: ResourceType, version: string, namespace: string | null): void {
    const c: Collection = { rt, version, namespace, keys: new Set(), failures: 0, reflector: undefined as unknown as Reflector };
    const apiVersion = groupVersion(rt.group, version);
    const path = collectionPath(rt.group, version, rt.plural, namespace);
    c.reflector = new Reflector(this.#o.api, path, {
      replace: (items) => this.#replace(c, apiVersion, items),
      upsert: (obj) => { if (this.#upsert(c, apiVersion, obj)) this.#changed(); },
      remove: (obj) => { if (this.#remove(c, obj)) this.#changed(); },
      failed: (error, retryInMs) => this.#failed(c, error, retryInMs),
      recovered: () => this.#recovered(c),
    }, {
      backoff: this.#o.backoff,
      fieldSelector: rt.fieldSelector,
      ...(this.#o.watchTimeoutSeconds !== undefined ? { watchTimeoutSeconds: this.#o.watchTimeoutSeconds } : {}),
    });
    this.#collections.push(c);
    c.reflector.start();
  }

  /**
   * Logs a failing watch. An API server that goes away breaks every watch at once: the first
   * one is logged, the others only at debug level (/config_status lists each), and a watch that
   * keeps failing is logged on its first and then every 10th attempt.
   */
  #failed(c: Collection, error: string, retryInMs: number): void {
    const others = this.#failing.size;
    this.#failing.add(c);
    if (c.failures === 0) this.#outageStart ??= Date.now();
    const first = c.failures++ === 0;
    const level = (first && others === 0) || c.failures % 10 === 0 ? 'warn' : 'debug';
    log(level, 'kubernetes', `${error}; retrying in ${(retryInMs / 1000).toFixed(1)}s (the last good config keeps serving${others > 0 ? `; ${others} other watch${others === 1 ? '' : 'es'} failing too` : ''})`);
  }

  #recovered(c: Collection): void {
    this.#failing.delete(c);
    log('debug', 'kubernetes', `${c.reflector.path}: connected again after ${c.failures} failed attempt${c.failures === 1 ? '' : 's'}`);
    c.failures = 0;
    if (this.#failing.size === 0 && this.#outageStart !== null) {
      log('info', 'kubernetes', `every watch is connected again (${((Date.now() - this.#outageStart) / 1000).toFixed(1)}s after the first failure)`);
      this.#outageStart = null;
    }
  }

  #scheduleRediscovery(): void {
    if (this.#notServed.length === 0 || this.#rediscover !== null) return;
    this.#rediscover = setInterval(() => {
      if (this.#notServed.length === 0) return;
      this.#discovery.forgetMissing();
      const before = this.#notServed.length;
      this.#discover(this.#notServed).then(() => {
        if (this.#notServed.length < before) log('info', 'kubernetes', `now served: ${before - this.#notServed.length} more kinds`);
      }, (e: Error) => log('warn', 'kubernetes', `discovery failed: ${e.message}`));
    }, this.#o.rediscoverMs ?? 60_000);
    this.#rediscover.unref();
  }

  #key(kind: string, obj: KubeObject): string {
    return `${kind}/${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
  }

  /** A (re)list: objects of this collection missing from it were deleted meanwhile. */
  #replace(c: Collection, apiVersion: string, items: KubeObject[]): void {
    let changed = false;
    const keys = new Set<string>();
    for (const obj of items) {
      if (obj?.metadata?.name === undefined) continue;
      keys.add(this.#key(c.rt.kind, obj));
      if (this.#upsert(c, apiVersion, obj)) changed = true;
    }
    for (const key of c.keys) {
      if (keys.has(key)) continue;
      this.#objects.delete(key);
      changed = true;
    }
    c.keys = keys;
    if (changed) this.#changed();
  }

  /** Caches the object; true when something a gateway reads changed. */
  #upsert(c: Collection, apiVersion: string, obj: KubeObject): boolean {
    if (obj?.metadata?.name === undefined) return false;
    const trimmed = c.rt.project !== undefined ? c.rt.project(obj) : trim(obj);
    const key = this.#key(c.rt.kind, trimmed);
    const content = c.rt.project !== undefined ? JSON.stringify([trimmed.metadata.labels ?? {}, trimmed.spec, trimmed.status]) : contentOf(trimmed);
    const prev = this.#objects.get(key);
    c.keys.add(key);
    this.#objects.set(key, { kind: c.rt.kind, apiVersion, object: trimmed, content });
    return prev === undefined || prev.content !== content;
  }

  #remove(c: Collection, obj: KubeObject): boolean {
    if (obj?.metadata?.name === undefined) return false;
    const key = this.#key(c.rt.kind, obj);
    c.keys.delete(key);
    return this.#objects.delete(key);
  }

  #changed(): void {
    this.#lastChangeAt = new Date().toISOString();
    // Changes during the first sync are part of the first build.
    if (!this.#started || this.#stopped) return;
    this.#dirty = true;
    if (this.#onChange !== null) this.#debouncer.kick();
  }

  #fire(): void {
    this.#dirty = false;
    this.#onChange?.();
  }
}

/** The object without the fields that only cost memory (managedFields, last-applied copies). */
function trim(obj: KubeObject): KubeObject {
  const { managedFields: _mf, ...metadata } = obj.metadata;
  const ann = metadata.annotations;
  if (ann !== undefined && DROPPED_ANNOTATIONS.some((a) => a in ann)) {
    const kept: Record<string, string> = {};
    for (const [k, v] of Object.entries(ann)) if (!DROPPED_ANNOTATIONS.includes(k)) kept[k] = v;
    metadata.annotations = kept;
  }
  return { ...obj, metadata };
}

/** What a gateway reads from an object: everything but metadata bookkeeping and status. */
function contentOf(obj: KubeObject): string {
  // apiVersion and kind too: list items of core kinds carry neither, watch events both.
  const { metadata, status: _status, apiVersion: _a, kind: _k, ...rest } = obj;
  return JSON.stringify([metadata.labels ?? {}, metadata.annotations ?? {}, rest]);
}
