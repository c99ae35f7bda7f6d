// API objects → validated resources, with the rules of the file loader (src/config/loader.ts):
// every object goes through validateResource; an invalid object is reported and its last good
// version keeps serving (or it stays absent if it never was valid); every valid change applies.
// Diagnostics name the object as `kubernetes://<kind>/<namespace>/<name>` with the field path.

import type { Kind } from '../../api/types.js';
import { validateResource, type ValidationResult } from '../../api/validate.js';
import type { Diagnostic, SourcePos } from '../diagnostic.js';
import type { LoadResult } from '../loader.js';
import { resourceKey, resourceRef, type RawResource, type Resource } from '../resource.js';
import { ConfigStore } from '../store.js';
import type { KubeObject } from './api-client.js';

/** One object as the source caches it. */
export interface CachedObject {
  kind: Kind;
  /** The group/version it was read as (core list items carry no apiVersion/kind of their own). */
  apiVersion: string;
  object: KubeObject;
  /** What the gateway reads from it (spec, data, labels, annotations), to tell real changes from status updates. */
  content: string;
}

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** The position of an API object in diagnostics. */
export function objectAddress(kind: string, namespace: string, name: string): string {
  return `kubernetes://${kind}/${namespace}/${name}`;
}

export function toRawResource(c: CachedObject): RawResource {
  const meta = c.object.metadata;
  const namespace = meta.namespace ?? 'default';
  const source: SourcePos = { file: objectAddress(c.kind, namespace, meta.name), line: 0, col: 0 };
  return {
    apiVersion: c.apiVersion,
    kind: c.kind,
    metadata: meta as RawResource['metadata'],
    body: { ...c.object, apiVersion: c.apiVersion, kind: c.kind },
    source,
    pos: () => source,
  };
}

interface Validated {
  resourceVersion: string;
  content: string;
  result: ValidationResult;
}

interface Good {
  resource: Resource;
  content: string;
}

/**
 * Keeps the last good version of each object across loads. Validation results are cached per
 * object resourceVersion: a rebuild after one change validates one object, not the cluster.
 */
export class KubernetesObjectLoader {
  readonly #objects: () => Iterable<CachedObject>;
  readonly #seq = new Map<string, number>();
  readonly #validated = new Map<string, Validated>();
  #nextSeq = 1;
  #lastGood = new Map<string, Good>();
  #version = 0;
  #fingerprint = '';

  constructor(objects: () => Iterable<CachedObject>) {
    this.#objects = objects;
  }

  load(): LoadResult {
    const diagnostics: Diagnostic[] = [];
    const heldBack: string[] = [];
    const current = new Map<string, Good>();
    const objects = [...this.#objects()];
    // Kubernetes mirrors every Service's Endpoints into EndpointSlices: read the slices when a
    // Service has any (as Istio does), the Endpoints object otherwise, never both (no double endpoints).
    const sliced = new Set<string>();
    for (const c of objects) {
      const svc = c.kind === 'EndpointSlice' ? c.object.metadata.labels?.[SERVICE_NAME_LABEL] : undefined;
      if (svc !== undefined) sliced.add(`${c.object.metadata.namespace ?? 'default'}/${svc}`);
    }
    // Creation order stands in for `seq` (Istio's "oldest first" for merges and conflicts).
    objects.sort(byCreation);
    const seen = new Set<string>();
    for (const c of objects) {
      const meta = c.object.metadata;
      const ns = meta.namespace ?? 'default';
      if (c.kind === 'Endpoints' && sliced.has(`${ns}/${meta.name}`)) continue;
      const key = resourceKey(c.kind, ns, meta.name);
      seen.add(key);
      let seq = this.#seq.get(key);
      if (seq === undefined) this.#seq.set(key, (seq = this.#nextSeq++));
      const rv = meta.resourceVersion ?? '';
      let v = this.#validated.get(key);
      if (v === undefined || v.resourceVersion !== rv || rv === '') {
        v = { resourceVersion: rv, content: c.content, result: validateResource(toRawResource(c), seq) };
        this.#validated.set(key, v);
      }
      diagnostics.push(...v.result.diagnostics);
      if (v.result.ignored) continue;
      if (v.result.resource !== null) {
        current.set(key, { resource: v.result.resource, content: v.content });
        continue;
      }
      const last = this.#lastGood.get(key);
      if (last !== undefined) {
        current.set(key, last);
        heldBack.push(resourceRef(last.resource));
        diagnostics.push({ code: 'SLU0005', level: 'warning', message: `the last valid version of ${resourceRef(last.resource)} keeps serving until this edit is fixed`, resource: resourceRef(last.resource), ...toRawResource(c).source });
      }
    }
    // Deleted objects are forgotten (a later object of the same name starts afresh).
    for (const key of this.#validated.keys()) if (!seen.has(key)) { this.#validated.delete(key); this.#seq.delete(key); }

    const fingerprint = [...current].map(([k, g]) => `${k}\u0001${g.content}`).sort().join('\u0000');
    const changed = fingerprint !== this.#fingerprint;
    if (changed) this.#version++;
    this.#fingerprint = fingerprint;
    this.#lastGood = current;
    return { store: new ConfigStore([...current.values()].map((g) => g.resource), this.#version), diagnostics, heldBack, changed };
  }
}

function byCreation(a: CachedObject, b: CachedObject): number {
  const ta = a.object.metadata.creationTimestamp ?? '';
  const tb = b.object.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = `${a.kind}/${a.object.metadata.namespace ?? ''}/${a.object.metadata.name}`;
  const kb = `${b.kind}/${b.object.metadata.namespace ?? ''}/${b.object.metadata.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}
