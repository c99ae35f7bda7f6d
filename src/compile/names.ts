// Generated names, exactly as Istio generates them: they show in logs, metrics, config_dump
// and trace, and users search for them.

/** `outbound|8080|v1|reviews.default.svc.cluster.local` (subset may be empty). */
export function clusterName(port: number, subset: string, host: string): string {
  return `outbound|${port}|${subset}|${host}`;
}

export function parseClusterName(name: string): { port: number; subset: string; host: string } | null {
  const parts = name.split('|');
  if (parts.length !== 4 || parts[0] !== 'outbound') return null;
  return { port: Number(parts[1]), subset: parts[2]!, host: parts[3]! };
}

export function listenerName(address: string, bindPort: number): string {
  return `${address}_${bindPort}`;
}

export function httpRouteConfigName(port: number): string {
  return `http.${port}`;
}

export function httpsRouteConfigName(port: number, portName: string, gateway: string, namespace: string): string {
  return `https.${port}.${portName}.${gateway}.${namespace}`;
}

export function virtualHostName(host: string, port: number): string {
  return `${host}:${port}`;
}

/**
 * A VirtualService `gateways` entry as `namespace/name` (or `mesh`): bare names are relative to
 * the VirtualService's namespace; the legacy FQDN form `name.ns.svc.cluster.local` is accepted.
 */
export function gatewayRef(ref: string, vsNamespace: string): string {
  if (ref === 'mesh') return ref;
  const slash = ref.indexOf('/');
  if (slash >= 0) return ref;
  const dot = ref.indexOf('.');
  if (dot >= 0) {
    const [name, ns] = ref.split('.');
    return `${ns}/${name}`;
  }
  return `${vsNamespace}/${ref}`;
}
