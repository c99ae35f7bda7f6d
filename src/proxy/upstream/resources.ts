// Circuit breakers: Envoy's per-cluster ResourceManager. Each cluster has four counted
// resources — connections (`tcp.maxConnections`), pending requests (`http1MaxPendingRequests`),
// active requests (`http2MaxRequests`, HTTP/1.1 and HTTP/2 alike) and active retries
// (`maxRetries`) — shared by everything in the gateway that talks to the cluster, as Envoy's
// are shared by its worker threads. In one process a resource is a counter; with
// `--concurrency N` the limit is held by the primary and each worker leases slots from it
// (src/cluster/leases.ts), so the limits hold for the gateway, not per worker.

/** Limits at or above this are never reached (Istio's defaults are 2^32-1): no counting across processes. */
export const UNLIMITED = 2 ** 31 - 1;

export type ResourceName = 'connections' | 'pending' | 'requests' | 'retries';

export interface Resource {
  /** The configured limit. */
  max: number;
  /** Taken by this process now. */
  readonly count: number;
  /** Takes one at once if the limit allows; false when it does not (or not without asking the primary). */
  tryAcquire(): boolean;
  /** Takes one; calls back with false when the cluster is at its limit. Calls back at once when it can. */
  acquire(cb: (ok: boolean) => void): void;
  /** Takes one even above the limit (Envoy: a pool with no connection always opens one). */
  force(): void;
  release(): void;
}

/** A resource counted in this process only (`--concurrency 1`). */
export class LocalResource implements Resource {
  max: number;
  count = 0;

  constructor(max: number) {
    this.max = max;
  }

  tryAcquire(): boolean {
    if (this.count >= this.max) return false;
    this.count++;
    return true;
  }

  acquire(cb: (ok: boolean) => void): void {
    cb(this.tryAcquire());
  }

  force(): void {
    this.count++;
  }

  release(): void {
    this.count--;
  }
}

/** Makes the resource `key` (`<cluster>|<resource>`) with limit `max`. */
export type ResourceFactory = (key: string, max: number) => Resource;

export const localResources: ResourceFactory = (_key, max) => new LocalResource(max);

/**
 * The resources of a process, by cluster name: a cluster rebuilt by a reload keeps counting
 * on the same resources, so connections still draining on the old cluster stay counted.
 */
export class ResourceRegistry {
  readonly #factory: ResourceFactory;
  readonly #byKey = new Map<string, Resource>();

  constructor(factory: ResourceFactory = localResources) {
    this.#factory = factory;
  }

  get(cluster: string, name: ResourceName, max: number): Resource {
    const key = `${cluster}|${name}`;
    let r = this.#byKey.get(key);
    if (r === undefined) this.#byKey.set(key, (r = this.#factory(key, max)));
    else r.max = max;
    return r;
  }
}

/** One cluster's circuit breakers. */
export class ClusterResources {
  readonly connections: Resource;
  readonly pending: Resource;
  readonly requests: Resource;
  readonly retries: Resource;

  constructor(registry: ResourceRegistry, cluster: string, limits: { maxConnections: number; maxPendingRequests: number; maxRequests: number; maxRetries: number }) {
    this.connections = registry.get(cluster, 'connections', limits.maxConnections);
    this.pending = registry.get(cluster, 'pending', limits.maxPendingRequests);
    this.requests = registry.get(cluster, 'requests', limits.maxRequests);
    this.retries = registry.get(cluster, 'retries', limits.maxRetries);
  }
}
