import type { CompileContext } from './context.js';
import type { RegistryService } from './registry.js';
import type { Endpoint } from './snapshot.js';

/**
 * The SPIFFE identities a client expects from an ISTIO_MUTUAL destination, as Istio derives
 * them: the ServiceEntry's `subjectAltNames` when set, else the service accounts of the
 * endpoints (`spiffe://<trustDomain>/ns/<service ns>/sa/<sa>`). An endpoint whose service
 * account is unknown (a Service endpoint whose Pod is not known) leaves the check to the mesh
 * root alone: any mesh workload is then accepted, which is what an empty list means.
 */
export function expectedMeshIdentities(ctx: CompileContext, service: RegistryService, endpoints: readonly Endpoint[]): string[] {
  if (service.subjectAltNames.length > 0) return [...service.subjectAltNames];
  const out = new Set<string>();
  for (const e of endpoints) {
    if (e.serviceAccount === '') return [];
    out.add(`spiffe://${ctx.workload.trustDomain}/ns/${service.namespace}/sa/${e.serviceAccount}`);
  }
  return [...out].sort();
}
