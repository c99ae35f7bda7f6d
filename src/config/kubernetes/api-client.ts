// The Kubernetes API as the source needs it: a kubeconfig (in-cluster, --kubeconfig, or the
// usual KUBECONFIG / ~/.kube/config), JSON GETs for discovery and lists, and watch streams.
// @kubernetes/client-node supplies the config, every authentication method (tokens, rotating
// in-cluster token files, client certificates, exec plugins) and the watch stream; lists are
// plain GETs so that list items and watch events reach validation as the same raw JSON (the
// generated typed clients would turn list items into model classes and drop unknown fields).

import { existsSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig, Watch } from '@kubernetes/client-node';

const IN_CLUSTER_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';
/** A list or discovery request that takes longer than this has failed (a watch has its own watchdog). */
const REQUEST_TIMEOUT_MS = 60_000;

/** A failed API request: HTTP status (null for a network error) and the API server's message. */
export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  constructor(message: string, readonly statusCode: number | null, readonly reason = '') {
    super(message);
  }
}

/** A Kubernetes object as JSON. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    creationTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    managedFields?: unknown;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

export interface KubeList {
  metadata?: { resourceVersion?: string; continue?: string };
  items?: KubeObject[];
}

/** One watch event: ADDED, MODIFIED, DELETED, BOOKMARK or ERROR (whose object is a Status). */
export type WatchEventHandler = (type: string, object: Record<string, unknown>) => void;

export interface WatchHandle {
  abort(): void;
}

export interface KubeApi {
  /** The API server URL. */
  readonly server: string;
  /** Where the config came from: `in-cluster`, or the kubeconfig file. */
  readonly origin: string;
  getJson(path: string, query?: Readonly<Record<string, string>>, signal?: AbortSignal): Promise<unknown>;
  /**
   * Starts a watch. `onDone` is called once, when the stream ends: null for a clean close by
   * the server, the error otherwise (with `statusCode` when the server answered non-200).
   */
  watch(path: string, query: Readonly<Record<string, string>>, onEvent: WatchEventHandler, onDone: (err: Error | null) => void): Promise<WatchHandle>;
}

/**
 * The kubeconfig to use: `--kubeconfig FILE`; else the pod's service account when running in a
 * cluster; else $KUBECONFIG or ~/.kube/config. Throws a message with the fix when none fits.
 */
export function loadKubeConfig(file: string | undefined): { kc: KubeConfig; origin: string } {
  const kc = new KubeConfig();
  let origin: string;
  if (file !== undefined) {
    if (!existsSync(file)) throw new Error(`--kubeconfig ${file}: no such file`);
    try {
      kc.loadFromFile(file);
    } catch (e) {
      throw new Error(`--kubeconfig ${file}: ${(e as Error).message}`);
    }
    origin = file;
  } else if (process.env.KUBERNETES_SERVICE_HOST !== undefined && existsSync(IN_CLUSTER_TOKEN)) {
    kc.loadFromCluster();
    origin = 'in-cluster';
  } else {
    const env = process.env.KUBECONFIG;
    const fallback = join(homedir(), '.kube', 'config');
    const paths = env !== undefined && env !== '' ? env.split(':').filter((p) => p !== '') : [fallback];
    const found = paths.find((p) => existsSync(p));
    if (found === undefined) {
      throw new Error('no Kubernetes API configuration: not running in a cluster (no service account token) and no kubeconfig found; pass --kubeconfig FILE (or set KUBECONFIG)');
    }
    try {
      kc.loadFromDefault();
    } catch (e) {
      throw new Error(`kubeconfig ${found}: ${(e as Error).message}`);
    }
    origin = env !== undefined && env !== '' ? env : fallback;
  }
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new Error(`kubeconfig ${origin}: no current context with a cluster; set current-context (kubectl config use-context NAME)`);
  if (cluster.server.startsWith('http:') && cluster.skipTLSVerify !== true) {
    throw new Error(`kubeconfig ${origin}: server ${cluster.server} is plain HTTP; the Kubernetes client only talks HTTPS (or set insecure-skip-tls-verify: true on the cluster)`);
  }
  return { kc, origin };
}

/** The API server's Status message, when the body is one. */
function statusMessage(body: string): { message: string; reason: string } | null {
  try {
    const s = JSON.parse(body) as { kind?: string; message?: string; reason?: string };
    if (s.kind === 'Status' && typeof s.message === 'string') return { message: s.message, reason: s.reason ?? '' };
  } catch { /* not JSON */ }
  return null;
}

export class KubeConfigApi implements KubeApi {
  readonly server: string;
  readonly origin: string;
  readonly #kc: KubeConfig;
  readonly #watch: Watch;

  constructor(kc: KubeConfig, origin: string) {
    this.#kc = kc;
    this.origin = origin;
    this.server = kc.getCurrentCluster()!.server.replace(/\/+$/, '');
    this.#watch = new Watch(kc);
  }

  async getJson(path: string, query: Readonly<Record<string, string>> = {}, signal?: AbortSignal): Promise<unknown> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const opts: RequestOptions = { method: 'GET', headers: { accept: 'application/json' } };
    await this.#kc.applyToHTTPSOptions(opts);
    const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
    return new Promise((resolve, reject) => {
      const req = send(url, { ...opts, ...(signal !== undefined ? { signal } : {}) }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => reject(new KubeApiError(`GET ${url.pathname}: ${e.message}`, null)));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status === 200) {
            try {
              resolve(JSON.parse(body));
            } catch (e) {
              reject(new KubeApiError(`GET ${url.pathname}: the answer is not JSON: ${(e as Error).message}`, status));
            }
            return;
          }
          const s = statusMessage(body);
          reject(new KubeApiError(`GET ${url.pathname}: ${status} ${s?.message ?? (res.statusMessage ?? '')}`.trim(), status, s?.reason ?? ''));
        });
      });
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS / 1000}s`)));
      req.on('error', (e) => reject(new KubeApiError(`GET ${url.pathname}: ${e.message}`, null)));
      req.end();
    });
  }

  async watch(path: string, query: Readonly<Record<string, string>>, onEvent: WatchEventHandler, onDone: (err: Error | null) => void): Promise<WatchHandle> {
    const controller = await this.#watch.watch(path, { ...query }, (type: string, object: Record<string, unknown>) => onEvent(type, object), (err: unknown) => onDone(err === null || err === undefined ? null : (err as Error)));
    return { abort: () => controller.abort() };
  }
}
