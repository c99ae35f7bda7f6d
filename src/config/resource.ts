import type { Kind, ObjectMeta, SpecByKind } from '../api/types.js';
import type { SourcePos } from './diagnostic.js';

/**
 * One Kubernetes-style object as read from a file, before validation. `body` is the whole
 * document as plain JS; `pos` maps a field path (as in `body`) to its position in the file.
 */
export interface RawResource {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  body: Record<string, unknown>;
  /** Position of the document's first node. */
  source: SourcePos;
  /** Position of a field, falling back to the nearest ancestor that exists. */
  pos(path: readonly (string | number)[]): SourcePos;
}

/**
 * A validated resource. `spec` is `body.spec` for Istio kinds and the body minus
 * apiVersion/kind/metadata for Kubernetes core kinds (Secret, Endpoints, EndpointSlice).
 * `seq` orders resources by first appearance: it stands in for creationTimestamp, which
 * Istio uses for "oldest wins" merges and conflicts.
 */
export interface Resource<K extends Kind = Kind> {
  kind: K;
  apiVersion: string;
  name: string;
  namespace: string;
  labels: Readonly<Record<string, string>>;
  annotations: Readonly<Record<string, string>>;
  spec: SpecByKind[K];
  seq: number;
  source: SourcePos;
  /** Field position; path relative to the document root, e.g. ['spec','servers',0]. */
  pos(path: readonly (string | number)[]): SourcePos;
}

export function resourceKey(kind: string, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

export function resourceRef(r: { kind: string; namespace: string; name: string }): string {
  return `${r.kind} ${r.namespace}/${r.name}`;
}
