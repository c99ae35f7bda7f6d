import type { ObjectReference, ServiceEntrySpec, WorkloadEntrySpec } from '../api/types.js';
import type { Resource } from '../config/resource.js';
import { resourceRef } from '../config/resource.js';
import type { ConfigStore } from '../config/store.js';
import { hostCovers, normalizeHost } from './hosts.js';
import { isVisible } from './visibility.js';

// The service registry: every host a route can name, from ServiceEntries, Kubernetes Services
// (+ Endpoints / EndpointSlices) and WorkloadEntries, as Istio's aggregate registry builds it.

export interface ServicePortInfo {
  readonly number: number;
  readonly name: string;
  /** Upper-case Istio protocol: HTTP, HTTP2, GRPC, HTTPS, TLS, TCP, ... ("" = auto-detect). */
  readonly protocol: string;
  readonly targetPort: number | null;
}

export interface RegistryEndpoint {
  readonly address: string;
  /** Port name → endpoint port. */
  readonly ports: Readonly<Record<string, number>>;
  readonly labels: Readonly<Record<string, string>>;
  readonly locality: string;
  readonly weight: number;
  readonly serviceAccount: string;
  readonly network: string;
}

export interface RegistryService {
  readonly hostname: string;
  readonly namespace: string;
  readonly ports: readonly ServicePortInfo[];
  readonly resolution: 'NONE' | 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN' | 'DYNAMIC_DNS' | 'CLIENT_SIDE_LB';
  readonly location: 'MESH_EXTERNAL' | 'MESH_INTERNAL';
  readonly endpoints: readonly RegistryEndpoint[];
  readonly exportTo: readonly string[];
  readonly addresses: readonly string[];
  readonly subjectAltNames: readonly string[];
  readonly origin: string;
  readonly kubernetes: boolean;
  readonly seq: number;
}

export class ServiceRegistry {
  readonly services: readonly RegistryService[];
  readonly #byHost = new Map<string, RegistryService[]>();
  readonly #wildcards: RegistryService[] = [];

  constructor(services: RegistryService[]) {
    this.services = services;
    for (const s of services) {
      if (s.hostname.startsWith('*')) this.#wildcards.push(s);
      else {
        let l = this.#byHost.get(s.hostname);
        if (l === undefined) this.#byHost.set(s.hostname, (l = []));
        l.push(s);
      }
    }
    // Most specific (longest) wildcard first.
    this.#wildcards.sort((a, b) => b.hostname.length - a.hostname.length);
  }

  /**
   * The service a host names, as seen from `namespace`: exact name first (own namespace, then a
   * Kubernetes Service, then the oldest), else the most specific covering wildcard entry.
   */
  lookup(host: string, namespace: string): RegistryService | undefined {
    const exact = this.#byHost.get(host);
    if (exact !== undefined) {
      const visible = exact.filter((s) => isVisible(s.exportTo, s.namespace, namespace));
      if (visible.length > 0) {
        return (
          visible.find((s) => s.namespace === namespace) ??
          visible.find((s) => s.kubernetes) ??
          visible.reduce((a, b) => (a.seq <= b.seq ? a : b))
        );
      }
    }
    for (const s of this.#wildcards) {
      if (hostCovers(s.hostname, host) && isVisible(s.exportTo, s.namespace, namespace)) return s;
    }
    return undefined;
  }
}

/** Protocol of a Kubernetes service port: appProtocol, else the port name's prefix. */
export function inferProtocol(name: string | undefined, appProtocol: string | undefined): string {
  const p = (appProtocol ?? '').toLowerCase();
  const fromName = (name ?? '').toLowerCase().split('-')[0] ?? '';
  const key = p !== '' ? p.replace(/^kubernetes\.io\//, '') : fromName;
  switch (key) {
    case 'http': case 'http1': return 'HTTP';
    case 'http2': case 'h2c': return 'HTTP2';
    case 'grpc': return 'GRPC';
    case 'grpc-web': return 'GRPC-WEB';
    case 'https': return 'HTTPS';
    case 'tls': return 'TLS';
    case 'tcp': return 'TCP';
    case 'mongo': return 'MONGO';
    case 'redis': return 'REDIS';
    case 'mysql': return 'MYSQL';
    case 'udp': return 'UDP';
    default: return '';
  }
}

function labelsMatch(selector: Readonly<Record<string, string>> | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (selector === undefined) return false;
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return false;
  return true;
}

function fromWorkloadEntry(we: WorkloadEntrySpec): RegistryEndpoint {
  return {
    address: we.address ?? '',
    ports: we.ports ?? {},
    labels: we.labels ?? {},
    locality: we.locality ?? '',
    weight: we.weight ?? 1,
    serviceAccount: we.serviceAccount ?? '', // '' = unknown: no expected mesh identity
    network: we.network ?? '',
  };
}

export function buildRegistry(store: ConfigStore, domainSuffix: string): ServiceRegistry {
  const services: RegistryService[] = [];
  const workloadEntries = store.list('WorkloadEntry');
  const pods = new PodIndex(store.list('Pod'));

  for (const se of store.list('ServiceEntry')) {
    services.push(...fromServiceEntry(se, workloadEntries, domainSuffix));
  }
  for (const svc of store.list('Service')) {
    services.push(fromKubernetesService(svc, store, pods, workloadEntries, domainSuffix));
  }
  return new ServiceRegistry(services);
}

function fromServiceEntry(se: Resource<'ServiceEntry'>, wes: readonly Resource<'WorkloadEntry'>[], domainSuffix: string): RegistryService[] {
  const spec: ServiceEntrySpec = se.spec;
  const resolution = spec.resolution ?? 'NONE';
  let endpoints: RegistryEndpoint[];
  if (spec.workloadSelector?.labels !== undefined) {
    const sel = spec.workloadSelector.labels;
    endpoints = wes
      .filter((we) => we.namespace === se.namespace && labelsMatch(sel, { ...(we.spec.labels ?? {}), ...we.labels }))
      .map((we) => fromWorkloadEntry({ ...we.spec, labels: { ...(we.spec.labels ?? {}), ...we.labels } }));
  } else {
    endpoints = (spec.endpoints ?? []).map(fromWorkloadEntry);
  }
  const ports: ServicePortInfo[] = (spec.ports ?? []).map((p) => ({ number: p.number, name: p.name, protocol: (p.protocol ?? '').toUpperCase(), targetPort: p.targetPort ?? null }));
  return spec.hosts.map((h) => {
    const hostname = normalizeHost(h, se.namespace, domainSuffix);
    // DNS resolution without endpoints resolves the host name itself.
    const eps = endpoints.length === 0 && (resolution === 'DNS' || resolution === 'DNS_ROUND_ROBIN') && !hostname.startsWith('*')
      ? [fromWorkloadEntry({ address: hostname })]
      : endpoints;
    return {
      hostname,
      namespace: se.namespace,
      ports,
      resolution,
      location: spec.location ?? 'MESH_EXTERNAL',
      endpoints: eps,
      exportTo: spec.exportTo ?? [],
      addresses: spec.addresses ?? [],
      subjectAltNames: spec.subjectAltNames ?? [],
      origin: resourceRef(se),
      kubernetes: false,
      seq: se.seq,
    };
  });
}

function fromKubernetesService(svc: Resource<'Service'>, store: ConfigStore, pods: PodIndex, wes: readonly Resource<'WorkloadEntry'>[], domainSuffix: string): RegistryService {
  const spec = svc.spec;
  const ports: ServicePortInfo[] = (spec.ports ?? []).map((p) => ({
    number: p.port,
    name: p.name ?? '',
    protocol: inferProtocol(p.name, p.appProtocol),
    targetPort: typeof p.targetPort === 'number' ? p.targetPort : null,
  }));
  const endpoints: RegistryEndpoint[] = [];
  const eps = store.get('Endpoints', svc.namespace, svc.name);
  for (const subset of eps?.spec.subsets ?? []) {
    const portMap: Record<string, number> = {};
    for (const p of subset.ports ?? []) portMap[p.name ?? ''] = p.port;
    for (const a of subset.addresses ?? []) {
      endpoints.push(podEndpoint(a.ip, byServicePortName(ports, portMap), pods.find(svc.namespace, a.targetRef, a.ip)));
    }
  }
  for (const slice of store.list('EndpointSlice')) {
    if (slice.namespace !== svc.namespace || slice.labels['kubernetes.io/service-name'] !== svc.name) continue;
    const portMap: Record<string, number> = {};
    for (const p of slice.spec.ports ?? []) if (p.port !== undefined) portMap[p.name ?? ''] = p.port;
    for (const e of slice.spec.endpoints ?? []) {
      if (e.conditions?.ready === false) continue;
      for (const address of e.addresses) {
        endpoints.push(podEndpoint(address, byServicePortName(ports, portMap), pods.find(svc.namespace, e.targetRef, address)));
      }
    }
  }
  if (spec.selector !== undefined) {
    for (const we of wes) {
      const labels = { ...(we.spec.labels ?? {}), ...we.labels };
      if (we.namespace === svc.namespace && labelsMatch(spec.selector, labels)) endpoints.push(fromWorkloadEntry({ ...we.spec, labels }));
    }
  }
  return {
    hostname: `${svc.name}.${svc.namespace}.svc.${domainSuffix}`,
    namespace: svc.namespace,
    ports,
    resolution: 'CLIENT_SIDE_LB',
    location: 'MESH_INTERNAL',
    endpoints,
    exportTo: svc.annotations['networking.istio.io/exportTo']?.split(',').map((s) => s.trim()) ?? [],
    addresses: spec.clusterIP !== undefined && spec.clusterIP !== 'None' ? [spec.clusterIP] : [],
    subjectAltNames: [],
    origin: resourceRef(svc),
    kubernetes: true,
    seq: svc.seq,
  };
}

/** What an endpoint of a Kubernetes Service takes from its Pod (Istio's pod cache). */
interface PodInfo {
  readonly labels: Readonly<Record<string, string>>;
  readonly serviceAccount: string;
}

/**
 * The Pods behind Endpoints / EndpointSlice addresses, as Istio finds them: by the address's
 * `targetRef` (kind Pod), else by IP among the namespace's running Pods (an IP two Pods share,
 * e.g. hostNetwork Pods on one node, names none). Terminated Pods (Succeeded/Failed) are left out.
 */
class PodIndex {
  readonly #byName = new Map<string, PodInfo>();
  readonly #byIp = new Map<string, PodInfo | null>();

  constructor(pods: readonly Resource<'Pod'>[]) {
    for (const p of pods) {
      const phase = p.spec.status?.phase;
      if (phase === 'Succeeded' || phase === 'Failed') continue;
      const spec = p.spec.spec;
      // The API server defaults the service account to "default" (ServiceAccount admission).
      const info: PodInfo = { labels: p.labels, serviceAccount: spec?.serviceAccountName || spec?.serviceAccount || 'default' };
      this.#byName.set(`${p.namespace}/${p.name}`, info);
      const ips = new Set<string>();
      if (p.spec.status?.podIP) ips.add(p.spec.status.podIP);
      for (const x of p.spec.status?.podIPs ?? []) if (x.ip !== '') ips.add(x.ip);
      for (const ip of ips) {
        const key = `${p.namespace}/${ip}`;
        this.#byIp.set(key, this.#byIp.has(key) ? null : info);
      }
    }
  }

  find(namespace: string, ref: ObjectReference | undefined, ip: string): PodInfo | undefined {
    if (ref?.kind === 'Pod' && typeof ref.name === 'string') {
      const byRef = this.#byName.get(`${typeof ref.namespace === 'string' && ref.namespace !== '' ? ref.namespace : namespace}/${ref.name}`);
      if (byRef !== undefined) return byRef;
    }
    return this.#byIp.get(`${namespace}/${ip}`) ?? undefined;
  }
}

/**
 * An endpoint of a Kubernetes Service. Without its Pod (none given, or not seen yet) it has no
 * labels (no subset selects it) and no known service account (no expected identity).
 */
function podEndpoint(address: string, ports: Record<string, number>, pod: PodInfo | undefined): RegistryEndpoint {
  return { address, ports, labels: pod?.labels ?? {}, locality: '', weight: 1, serviceAccount: pod?.serviceAccount ?? '', network: '' };
}

/** Endpoints list ports by the Service port's name; re-key them by service port name. */
function byServicePortName(ports: readonly ServicePortInfo[], portMap: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of ports) {
    const v = portMap[p.name] ?? (ports.length === 1 ? Object.values(portMap)[0] : undefined);
    if (v !== undefined) out[p.name] = v;
  }
  return out;
}

/** The endpoint port for service port `p`: named in the endpoint, else targetPort, else the port. */
export function endpointPort(ep: RegistryEndpoint, p: ServicePortInfo): number {
  return ep.ports[p.name] ?? p.targetPort ?? p.number;
}
