import type { SidecarSpec } from '../api/types.js';
import type { Resource } from '../config/resource.js';
import { resourceRef } from '../config/resource.js';
import type { ConfigStore } from '../config/store.js';
import { hostCovers, normalizeHost } from './hosts.js';
import type { RegistryService } from './registry.js';
import { selectorMatches } from './visibility.js';

// What a sidecar sees, as Istio's SidecarScope decides it: the `Sidecar` resource that applies
// to the workload (one with a matching workloadSelector in its namespace, else the namespace's
// selector-less one, else the root namespace's), its `egress[].hosts` (`ns/dnsName` with `*`,
// `.` and `~`), optionally per port. Without a Sidecar resource everything exported to the
// workload's namespace is visible (`*/*`).

interface EgressHost {
  readonly namespace: string;
  readonly host: string;
}

interface EgressListener {
  /** null = every port. */
  readonly port: number | null;
  readonly hosts: readonly EgressHost[];
}

export class SidecarScope {
  /** The Sidecar resource in force, null for the mesh default. */
  readonly resource: Resource<'Sidecar'> | null;
  readonly #listeners: readonly EgressListener[] | null;
  readonly #workloadNamespace: string;

  constructor(resource: Resource<'Sidecar'> | null, workloadNamespace: string, domainSuffix: string) {
    this.resource = resource;
    this.#workloadNamespace = workloadNamespace;
    const egress = resource?.spec.egress;
    this.#listeners = egress === undefined || egress.length === 0 ? null : egress.map((e) => ({
      port: e.port?.number ?? null,
      hosts: e.hosts.map((h) => parseEgressHost(h, resource!.namespace, domainSuffix)),
    }));
  }

  get ref(): string | null {
    return this.resource === null ? null : resourceRef(this.resource);
  }

  /** The Sidecar's outboundTrafficPolicy mode, when it sets one. */
  get outboundTrafficPolicy(): SidecarSpec['outboundTrafficPolicy'] | undefined {
    return this.resource?.spec.outboundTrafficPolicy;
  }

  /** Does an egress entry (for `port`, or any port when null) admit `host` in `namespace`? */
  #admits(namespace: string, hosts: readonly string[], port: number | null): boolean {
    if (this.#listeners === null) return true;
    for (const l of this.#listeners) {
      if (port !== null && l.port !== null && l.port !== port) continue;
      for (const e of l.hosts) {
        if (e.namespace === '~') continue;
        if (e.namespace !== '*' && e.namespace !== namespace) continue;
        for (const h of hosts) if (e.host === '*' || hostCovers(e.host, h) || hostCovers(h, e.host)) return true;
      }
    }
    return false;
  }

  allowsService(s: RegistryService, port: number | null = null): boolean {
    return this.#admits(s.namespace, [s.hostname], port);
  }

  allowsVirtualService(vs: Resource<'VirtualService'>, hosts: readonly string[], port: number | null = null): boolean {
    return this.#admits(vs.namespace, hosts, port);
  }

  get workloadNamespace(): string {
    return this.#workloadNamespace;
  }
}

function parseEgressHost(h: string, sidecarNamespace: string, domainSuffix: string): EgressHost {
  const i = h.indexOf('/');
  const ns = i < 0 ? '*' : h.slice(0, i);
  const name = i < 0 ? h : h.slice(i + 1);
  const namespace = ns === '.' ? sidecarNamespace : ns;
  return { namespace, host: name === '*' ? '*' : normalizeHost(name, namespace === '*' ? sidecarNamespace : namespace, domainSuffix) };
}

/** The Sidecar resource that applies to a workload (Istio's precedence), or null. */
export function selectSidecar(store: ConfigStore, namespace: string, labels: Readonly<Record<string, string>>, rootNamespace: string): Resource<'Sidecar'> | null {
  const all = store.list('Sidecar');
  const inNs = all.filter((s) => s.namespace === namespace);
  const bySelector = inNs.find((s) => s.spec.workloadSelector?.labels !== undefined && Object.keys(s.spec.workloadSelector.labels).length > 0 && selectorMatches(s.spec.workloadSelector.labels, labels));
  if (bySelector !== undefined) return bySelector;
  const nsDefault = inNs.find((s) => s.spec.workloadSelector?.labels === undefined || Object.keys(s.spec.workloadSelector.labels).length === 0);
  if (nsDefault !== undefined) return nsDefault;
  return all.find((s) => s.namespace === rootNamespace && (s.spec.workloadSelector?.labels === undefined || Object.keys(s.spec.workloadSelector.labels).length === 0)) ?? null;
}
