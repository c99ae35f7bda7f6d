import type { Kind } from '../api/types.js';
import { resourceKey, type Resource } from './resource.js';

/**
 * An immutable set of validated resources, one config version. Lists are ordered by `seq`
 * (first appearance), which is the "oldest first" order Istio uses to merge and to break ties.
 */
export class ConfigStore {
  readonly version: number;
  readonly #byKind = new Map<Kind, Resource[]>();
  readonly #byKey = new Map<string, Resource>();

  constructor(resources: readonly Resource[], version: number) {
    this.version = version;
    const sorted = [...resources].sort((a, b) => a.seq - b.seq);
    for (const r of sorted) {
      let list = this.#byKind.get(r.kind);
      if (list === undefined) this.#byKind.set(r.kind, (list = []));
      list.push(r);
      this.#byKey.set(resourceKey(r.kind, r.namespace, r.name), r);
    }
  }

  list<K extends Kind>(kind: K): readonly Resource<K>[] {
    return (this.#byKind.get(kind) ?? []) as Resource<K>[];
  }

  get<K extends Kind>(kind: K, namespace: string, name: string): Resource<K> | undefined {
    return this.#byKey.get(resourceKey(kind, namespace, name)) as Resource<K> | undefined;
  }

  all(): Resource[] {
    return [...this.#byKey.values()].sort((a, b) => a.seq - b.seq);
  }

  get size(): number {
    return this.#byKey.size;
  }
}
