// List + watch of one collection, kept in step with the API server the way client-go's
// reflector does it: list (paged) for a resourceVersion, watch from there, follow
// ADDED/MODIFIED/DELETED and BOOKMARK events, resume from the last resourceVersion when the
// stream ends, relist when the server answers 410 Gone (the version was compacted away), and
// back off exponentially when a request fails.

import type { KubeApi, KubeList, KubeObject, WatchHandle } from './api-client.js';
import { KubeApiError } from './api-client.js';
import { Backoff, type BackoffOptions } from './backoff.js';

const PAGE_SIZE = '500';
/** The server ends each watch after a random 5–10 minutes (client-go's spread), so reconnects do not align. */
const WATCH_TIMEOUT_MIN_S = 300;
/** A watch silent for its timeout plus this long is a dead connection: abort it and reconnect. */
const WATCHDOG_GRACE_MS = 60_000;
/** A stream that ends sooner than this without an event counts as a failure (no tight reconnect loop). */
const SHORT_WATCH_MS = 1000;

export type ReflectorState = 'listing' | 'watching' | 'backoff' | 'stopped';

export interface ReflectorHandlers {
  /** The result of a (re)list: the complete set of this collection's objects. */
  replace(items: KubeObject[]): void;
  upsert(object: KubeObject): void;
  remove(object: KubeObject): void;
  /** A list or watch failed; the reflector retries after `retryInMs`. */
  failed(error: string, retryInMs: number): void;
  /** A list or watch succeeded after failures. */
  recovered(): void;
}

export interface ReflectorOptions {
  backoff?: BackoffOptions;
  fieldSelector?: string | undefined;
  /** Server-side watch timeout (seconds); default a random 300–600. */
  watchTimeoutSeconds?: number;
}

export interface ReflectorStatus {
  path: string;
  state: ReflectorState;
  /** The first list completed: the objects of this collection are known. */
  synced: boolean;
  resourceVersion: string;
  /** The last failure, cleared by the next successful list or watch. */
  lastError: string | null;
  lastErrorAt: string | null;
  lastEventAt: string | null;
  /** Full lists done (the first one, then one per 410 Gone or failed resume). */
  lists: number;
  /** Watches started (resumes included). */
  watches: number;
}

type WatchEnd = { t: 'closed'; events: number; ms: number } | { t: 'expired' } | { t: 'error'; error: Error };

export class Reflector {
  readonly path: string;
  readonly #api: KubeApi;
  readonly #handlers: ReflectorHandlers;
  readonly #fieldSelector: string | undefined;
  readonly #watchTimeoutSeconds: number | undefined;
  readonly #backoff: Backoff;
  #state: ReflectorState = 'listing';
  #rv = '';
  #synced = false;
  #lastError: string | null = null;
  #lastErrorAt: string | null = null;
  #lastEventAt: string | null = null;
  #lists = 0;
  #watches = 0;
  #stopped = false;
  #failing = false;
  #watch: WatchHandle | null = null;
  #listAbort: AbortController | null = null;
  #sleep: { timer: NodeJS.Timeout; wake: () => void } | null = null;
  #endWatch: ((end: WatchEnd) => void) | null = null;
  readonly #synced$: Promise<void>;
  #resolveSynced!: () => void;

  constructor(api: KubeApi, path: string, handlers: ReflectorHandlers, o: ReflectorOptions = {}) {
    this.#api = api;
    this.path = path;
    this.#handlers = handlers;
    this.#fieldSelector = o.fieldSelector;
    this.#watchTimeoutSeconds = o.watchTimeoutSeconds;
    this.#backoff = new Backoff(o.backoff);
    this.#synced$ = new Promise((r) => { this.#resolveSynced = r; });
  }

  start(): void {
    void this.#run();
  }

  /** Resolves once the first list has been delivered. */
  whenSynced(): Promise<void> {
    return this.#synced$;
  }

  stop(): void {
    this.#stopped = true;
    this.#state = 'stopped';
    this.#listAbort?.abort();
    this.#watch?.abort();
    this.#endWatch?.({ t: 'closed', events: 0, ms: 0 });
    if (this.#sleep !== null) { clearTimeout(this.#sleep.timer); this.#sleep.wake(); }
  }

  status(): ReflectorStatus {
    return {
      path: this.path,
      state: this.#state,
      synced: this.#synced,
      resourceVersion: this.#rv,
      lastError: this.#lastError,
      lastErrorAt: this.#lastErrorAt,
      lastEventAt: this.#lastEventAt,
      lists: this.#lists,
      watches: this.#watches,
    };
  }

  /** Healthy: the objects are known and the last request succeeded (a watch is open or resuming). */
  get healthy(): boolean {
    return this.#synced && this.#lastError === null && !this.#stopped;
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      if (this.#rv === '') {
        this.#state = 'listing';
        try {
          await this.#list();
        } catch (e) {
          if (this.#stopped) return;
          await this.#fail(e as Error);
          continue;
        }
      }
      if (this.#stopped) return;
      const end = await this.#watchOnce();
      if (this.#stopped) return;
      if (end.t === 'expired') {
        // The resourceVersion is too old to resume from: relist at once (no delay, as client-go).
        this.#rv = '';
      } else if (end.t === 'error') {
        // 410 as an HTTP status is the same thing as an ERROR event with code 410.
        if ((end.error as KubeApiError).statusCode === 410) this.#rv = '';
        else await this.#fail(end.error);
      } else if (end.events === 0 && end.ms < SHORT_WATCH_MS) {
        // Not a failure (the server may end idle watches), but no tight reconnect loop either.
        await this.#pause(this.#backoff.next());
      }
    }
  }

  async #list(): Promise<void> {
    const items: KubeObject[] = [];
    let rv = '';
    let cont = '';
    this.#listAbort = new AbortController();
    try {
      do {
        const query: Record<string, string> = { limit: PAGE_SIZE };
        if (cont !== '') query.continue = cont;
        if (this.#fieldSelector !== undefined) query.fieldSelector = this.#fieldSelector;
        const page = (await this.#api.getJson(this.path, query, this.#listAbort.signal)) as KubeList;
        items.push(...(page.items ?? []));
        rv = page.metadata?.resourceVersion ?? '';
        cont = page.metadata?.continue ?? '';
      } while (cont !== '' && !this.#stopped);
    } finally {
      this.#listAbort = null;
    }
    if (this.#stopped) return;
    this.#lists++;
    this.#rv = rv;
    this.#handlers.replace(items);
    this.#succeeded();
    if (!this.#synced) {
      this.#synced = true;
      this.#resolveSynced();
    }
  }

  #watchOnce(): Promise<WatchEnd> {
    const timeoutSeconds = this.#watchTimeoutSeconds ?? Math.round(WATCH_TIMEOUT_MIN_S * (1 + Math.random()));
    const query: Record<string, string> = { resourceVersion: this.#rv, allowWatchBookmarks: 'true', timeoutSeconds: String(timeoutSeconds) };
    if (this.#fieldSelector !== undefined) query.fieldSelector = this.#fieldSelector;
    this.#watches++;
    const started = Date.now();
    let events = 0;
    return new Promise<WatchEnd>((resolve) => {
      let done = false;
      let watchdog: NodeJS.Timeout | null = null;
      const finish = (end: WatchEnd): void => {
        if (done) return;
        done = true;
        this.#endWatch = null;
        if (watchdog !== null) clearTimeout(watchdog);
        this.#watch?.abort();
        this.#watch = null;
        resolve(end);
      };
      this.#endWatch = finish;
      const arm = (): void => {
        if (watchdog !== null) clearTimeout(watchdog);
        watchdog = setTimeout(() => finish({ t: 'error', error: new Error(`the watch was silent for ${timeoutSeconds + WATCHDOG_GRACE_MS / 1000}s (dead connection)`) }), timeoutSeconds * 1000 + WATCHDOG_GRACE_MS);
        watchdog.unref();
      };
      arm();
      const onEvent = (type: string, object: Record<string, unknown>): void => {
        if (done) return;
        arm();
        const obj = object as unknown as KubeObject;
        switch (type) {
          case 'ADDED':
          case 'MODIFIED':
            events++;
            this.#lastEventAt = new Date().toISOString();
            this.#handlers.upsert(obj);
            break;
          case 'DELETED':
            events++;
            this.#lastEventAt = new Date().toISOString();
            this.#handlers.remove(obj);
            break;
          case 'BOOKMARK':
            break;
          case 'ERROR': {
            const status = object as { code?: number; message?: string; reason?: string };
            if (status.code === 410) finish({ t: 'expired' });
            else finish({ t: 'error', error: new KubeApiError(`watch ${this.path}: ${status.code ?? ''} ${status.message ?? status.reason ?? 'error event'}`.trim(), status.code ?? null, status.reason ?? '') });
            return;
          }
          default:
            return;
        }
        const rv = obj.metadata?.resourceVersion;
        if (typeof rv === 'string' && rv !== '') this.#rv = rv;
      };
      const onDone = (err: Error | null): void => {
        if (err === null) finish({ t: 'closed', events, ms: Date.now() - started });
        else finish({ t: 'error', error: err });
      };
      this.#api.watch(this.path, query, onEvent, onDone).then(
        (handle) => {
          if (done) { handle.abort(); return; }
          this.#watch = handle;
          this.#state = 'watching';
          this.#succeeded();
        },
        (e: Error) => finish({ t: 'error', error: e }),
      );
    });
  }

  #succeeded(): void {
    this.#backoff.reset();
    this.#lastError = null;
    if (this.#failing) {
      this.#failing = false;
      this.#handlers.recovered();
    }
  }

  async #fail(e: Error): Promise<void> {
    const message = describeError(this.path, e);
    this.#lastError = message;
    this.#lastErrorAt = new Date().toISOString();
    this.#failing = true;
    this.#state = 'backoff';
    const ms = this.#backoff.next();
    this.#handlers.failed(message, ms);
    await this.#pause(ms);
  }

  #pause(ms: number): Promise<void> {
    return new Promise<void>((wake) => {
      const timer = setTimeout(() => { this.#sleep = null; wake(); }, ms);
      this.#sleep = { timer, wake: () => { this.#sleep = null; wake(); } };
    });
  }
}

/** The failure as one line, with the fix for the failures a user can cause. */
function describeError(path: string, e: Error): string {
  const status = (e as KubeApiError).statusCode ?? (e as { statusCode?: number }).statusCode ?? null;
  // node-fetch's words for a stream cut off mid-way (API server restarted, connection reset).
  const what = e.message === 'Premature close'
    ? 'the watch connection broke (premature close)'
    : e.message.replace(/^request to \S+ failed, reason: /, 'cannot reach the API server: ');
  const text = what.startsWith('GET ') || what.startsWith('watch ') ? what : `${path}: ${what}`;
  if (status === 401) return `${text} (the credentials were refused: check the kubeconfig user or the pod's service account token)`;
  if (status === 403) return `${text} (RBAC: grant get, list and watch on this resource to the service account; see deploy/rbac.yaml)`;
  return text;
}
