// Which version of each watched resource the API server serves: the first of the resource's
// preferred versions whose group/version lists it (GET /apis/<group>/<version>, /api/v1).
// A CRD that is not installed is "not served" — not an error: the gateway runs without it and
// the source looks again later (Istio's CRDs may be installed after the gateway).

import type { KubeApi } from './api-client.js';
import { KubeApiError } from './api-client.js';
import { groupVersion, type ResourceType } from './resources.js';

interface ApiResourceList {
  resources?: { name: string; kind?: string }[];
}

export class Discovery {
  readonly #api: KubeApi;
  /** group/version → plural names served (null: the group/version is not served). */
  readonly #cache = new Map<string, Set<string> | null>();

  constructor(api: KubeApi) {
    this.#api = api;
  }

  /** Forget what was learnt (to look again for resources not served before). */
  forgetMissing(): void {
    for (const [gv, v] of this.#cache) if (v === null || v.size === 0) this.#cache.delete(gv);
  }

  /** The version to use for `rt`, or null when none of its versions is served. Network errors throw. */
  async versionOf(rt: ResourceType): Promise<string | null> {
    for (const v of rt.versions) {
      const served = await this.#resources(rt.group, v);
      if (served?.has(rt.plural) === true) return v;
    }
    return null;
  }

  async #resources(group: string, version: string): Promise<Set<string> | null> {
    const gv = groupVersion(group, version);
    if (this.#cache.has(gv)) return this.#cache.get(gv)!;
    let served: Set<string> | null;
    try {
      const list = (await this.#api.getJson(group === '' ? `/api/${version}` : `/apis/${group}/${version}`)) as ApiResourceList;
      served = new Set((list.resources ?? []).map((r) => r.name));
    } catch (e) {
      if ((e as KubeApiError).statusCode !== 404) throw e;
      served = null;
    }
    this.#cache.set(gv, served);
    return served;
  }
}
