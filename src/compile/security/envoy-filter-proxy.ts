import RE2 from 're2';
import type { Workload } from '../snapshot.js';
import type { Patch, Reporter } from './envoy-filter.js';

// EnvoyFilter `match.proxy`, as istiod's proxyMatch: which proxies a patch is for.

/** The Istio version Sluice answers `match.proxy.proxyVersion` with. */
export const ISTIO_COMPAT_VERSION = '1.24.0';

/**
 * The node metadata an Istio proxy of this workload sends istiod, as `match.proxy.metadata`
 * sees it: the Istio version Sluice is compatible with, the cluster, namespace, service account
 * and mesh, and how the proxy runs (a gateway's ROUTER_MODE, a sidecar's INTERCEPTION_MODE).
 */
export function nodeMetadata(w: Workload): Readonly<Record<string, string>> {
  return {
    ISTIO_VERSION: ISTIO_COMPAT_VERSION,
    CLUSTER_ID: 'Kubernetes',
    NAMESPACE: w.namespace,
    SERVICE_ACCOUNT: w.serviceAccount,
    MESH_ID: w.trustDomain,
    ...(w.mode === 'gateway' ? { ROUTER_MODE: 'standard' } : { INTERCEPTION_MODE: 'REDIRECT' }),
  };
}

/** Does the patch's `match.proxy` select this proxy? A mismatch of metadata is reported (SLU0521). */
export function proxyMatches(p: Patch, r: Reporter): boolean {
  const proxy = p.cp.match?.proxy;
  if (proxy === undefined) return true;
  const want = proxy.metadata ?? {};
  const keys = Object.keys(want);
  if (keys.length > 0) {
    // istiod: every key must equal the node's value exactly.
    const node = nodeMetadata(r.ctx.workload);
    const miss = keys.filter((k) => node[k] !== String(want[k]));
    if (miss.length > 0) {
      r.report(p, ['match', 'proxy', 'metadata'], 'SLU0521', 'info',
        `match.proxy.metadata ${miss.map((k) => `${k}=${String(want[k])}`).join(', ')} does not match this proxy (${miss.map((k) => `${k}=${node[k] ?? '(not set)'}`).join(', ')}); the patch is skipped, as istiod skips it`,
        `this proxy's node metadata: ${Object.entries(node).map(([k, v]) => `${k}=${v}`).join(', ')}`);
      return false;
    }
  }
  if (proxy.proxyVersion !== undefined && proxy.proxyVersion !== '') {
    try {
      return new RE2(`^(?:${proxy.proxyVersion})`).test(ISTIO_COMPAT_VERSION);
    } catch {
      return false;
    }
  }
  return true;
}
