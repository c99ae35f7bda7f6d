// `sluice run --source kubernetes`: the entry point run.ts loads (dynamically: the Kubernetes
// client costs start-up time and memory that the file source does not need).

import { KubeConfigApi, loadKubeConfig } from './api-client.js';
import { KubernetesSource } from './source.js';

export { KubernetesSource, type KubernetesSourceStatus } from './source.js';

export interface KubernetesSourceFlags {
  /** `--kubeconfig`; in-cluster config (or $KUBECONFIG, ~/.kube/config) without it. */
  kubeconfig?: string | undefined;
  /** `--watch-namespace` (repeatable); empty = every namespace. */
  namespaces: readonly string[];
  /** `--namespace`: the gateway's own namespace, the only one whose Secrets are read. */
  gatewayNamespace: string;
}

/** The source, not started yet. Throws a message with the fix when no kubeconfig can be loaded. */
export function createKubernetesSource(f: KubernetesSourceFlags): KubernetesSource {
  const { kc, origin } = loadKubeConfig(f.kubeconfig);
  for (const ns of f.namespaces) {
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(ns) || ns.length > 63) throw new Error(`--watch-namespace ${ns}: not a valid namespace name`);
  }
  return new KubernetesSource({ api: new KubeConfigApi(kc, origin), namespaces: [...new Set(f.namespaces)], gatewayNamespace: f.gatewayNamespace });
}
