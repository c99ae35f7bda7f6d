// The `sluice run` flags of the config source, checked before anything starts. No Kubernetes
// client here: run.ts imports this module statically, the client only with --source kubernetes.

export interface SourceFlags {
  source?: string | undefined;
  config?: string[] | undefined;
  kubeconfig?: string | undefined;
  watchNamespace?: string[] | undefined;
  concurrency: number;
}

/**
 * `--source files` (default: the -c paths) or `--source kubernetes` (the API server). The two
 * are not layered: a gateway has one source of truth, as an Istio gateway has one istiod.
 * Returns the error to print (exit 2), or null.
 */
export function sourceFlagsError(f: SourceFlags): string | null {
  const source = f.source ?? 'files';
  if (source !== 'files' && source !== 'kubernetes') return `--source ${source}: expected files or kubernetes`;
  if (source === 'files') {
    if (f.kubeconfig !== undefined) return '--kubeconfig is for --source kubernetes (add --source kubernetes, or drop --kubeconfig to serve the -c files)';
    if (f.watchNamespace !== undefined) return '--watch-namespace is for --source kubernetes (add --source kubernetes, or drop --watch-namespace to serve the -c files)';
    return null;
  }
  if (f.config !== undefined) {
    return '-c/--config and --source kubernetes cannot be combined: the gateway reads either files or the Kubernetes API (apply the files to the cluster with kubectl apply -f, or drop --source kubernetes)';
  }
  if (f.concurrency > 1) {
    return '--concurrency and --source kubernetes cannot be combined yet: each worker would open its own watches; scale out with more replicas (deploy/ sets an HPA) instead';
  }
  return null;
}
