// The API resources the Kubernetes source watches: the Istio kinds Sluice reads, and the core
// objects that make up the service registry and TLS credentials (as istiod + the gateway's SDS).

import type { Kind } from '../../api/types.js';
import type { KubeObject } from './api-client.js';

/** Which namespaces a resource is watched in. */
export type WatchScope =
  /** `--watch-namespace` (every namespace by default). */
  | 'watched'
  /** Only the gateway's own namespace (`--namespace`): Secrets, as Istio's SDS reads them. */
  | 'gateway';

export interface ResourceType {
  kind: Kind;
  /** API group; '' is the core group (/api/v1). */
  group: string;
  /** Versions to try, preferred first: the first one the API server serves is used. */
  versions: readonly string[];
  plural: string;
  scope: WatchScope;
  /** Server-side field selector for list and watch. */
  fieldSelector?: string;
  /**
   * Keeps only what the gateway reads of each object (memory, and no rebuild when anything else
   * changes); the status it keeps counts as content. Without it: everything but status.
   */
  project?: (obj: KubeObject) => KubeObject;
}

const TERMINAL_PHASES = new Set(['Succeeded', 'Failed']);

/**
 * A Pod as the service registry reads it: labels, service account, IPs, and whether it has
 * terminated. Container statuses, conditions and annotations change all the time and are dropped,
 * so Pod churn rebuilds nothing unless a label, the service account or an IP changed.
 */
export function projectPod(obj: KubeObject): KubeObject {
  const m = obj.metadata;
  const spec = (obj.spec ?? {}) as Record<string, unknown>;
  const status = (obj.status ?? {}) as Record<string, unknown>;
  const keep = <T extends Record<string, unknown>>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
  return {
    metadata: keep({ name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion, creationTimestamp: m.creationTimestamp, labels: m.labels }),
    spec: keep({ serviceAccountName: spec.serviceAccountName, serviceAccount: spec.serviceAccount, hostNetwork: spec.hostNetwork }),
    status: keep({
      podIP: status.podIP,
      podIPs: status.podIPs,
      phase: typeof status.phase === 'string' && TERMINAL_PHASES.has(status.phase) ? status.phase : undefined,
    }),
  } as KubeObject;
}

const NETWORKING = ['v1', 'v1beta1', 'v1alpha3'] as const;
const SECURITY = ['v1', 'v1beta1'] as const;
const TELEMETRY = ['v1', 'v1alpha1'] as const;

/**
 * Everything watched. Istio kinds fall back to older versions on older control planes
 * (networking.istio.io/v1 exists since Istio 1.22; EnvoyFilter is served only as v1alpha3).
 */
export const WATCHED_RESOURCES: readonly ResourceType[] = [
  { kind: 'Gateway', group: 'networking.istio.io', versions: NETWORKING, plural: 'gateways', scope: 'watched' },
  { kind: 'VirtualService', group: 'networking.istio.io', versions: NETWORKING, plural: 'virtualservices', scope: 'watched' },
  { kind: 'DestinationRule', group: 'networking.istio.io', versions: NETWORKING, plural: 'destinationrules', scope: 'watched' },
  { kind: 'ServiceEntry', group: 'networking.istio.io', versions: NETWORKING, plural: 'serviceentries', scope: 'watched' },
  { kind: 'WorkloadEntry', group: 'networking.istio.io', versions: NETWORKING, plural: 'workloadentries', scope: 'watched' },
  { kind: 'Sidecar', group: 'networking.istio.io', versions: NETWORKING, plural: 'sidecars', scope: 'watched' },
  { kind: 'EnvoyFilter', group: 'networking.istio.io', versions: NETWORKING, plural: 'envoyfilters', scope: 'watched' },
  { kind: 'AuthorizationPolicy', group: 'security.istio.io', versions: SECURITY, plural: 'authorizationpolicies', scope: 'watched' },
  { kind: 'RequestAuthentication', group: 'security.istio.io', versions: SECURITY, plural: 'requestauthentications', scope: 'watched' },
  { kind: 'PeerAuthentication', group: 'security.istio.io', versions: SECURITY, plural: 'peerauthentications', scope: 'watched' },
  { kind: 'Telemetry', group: 'telemetry.istio.io', versions: TELEMETRY, plural: 'telemetries', scope: 'watched' },
  { kind: 'Service', group: '', versions: ['v1'], plural: 'services', scope: 'watched' },
  { kind: 'Endpoints', group: '', versions: ['v1'], plural: 'endpoints', scope: 'watched' },
  { kind: 'EndpointSlice', group: 'discovery.k8s.io', versions: ['v1'], plural: 'endpointslices', scope: 'watched' },
  // Endpoints take their labels (subsets) and service account (mTLS identity) from their Pod.
  { kind: 'Pod', group: '', versions: ['v1'], plural: 'pods', scope: 'watched', project: projectPod },
  // Istio's credential controller leaves out Helm release and service-account token Secrets:
  // they are never TLS credentials, and they are the biggest and most frequently written.
  { kind: 'Secret', group: '', versions: ['v1'], plural: 'secrets', scope: 'gateway', fieldSelector: 'type!=helm.sh/release.v1,type!=kubernetes.io/service-account-token' },
];

export function groupVersion(group: string, version: string): string {
  return group === '' ? version : `${group}/${version}`;
}

/** The collection path of a resource, cluster-wide (namespace null) or in one namespace. */
export function collectionPath(group: string, version: string, plural: string, namespace: string | null): string {
  const base = group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
  return namespace === null ? `${base}/${plural}` : `${base}/namespaces/${encodeURIComponent(namespace)}/${plural}`;
}
