// Service: the parts Sluice reads (ports with name/port/targetPort/appProtocol, selector, type).
// Port names carry the protocol for Istio (`http-`, `grpc-`, `tcp-`...) when appProtocol is
// absent, so they must be valid and unique.

import type { ServiceSpecK8s } from '../types.js';
import type { KindValidator, Path, ValidationContext } from './context.js';
import { labelsSchema } from './common.js';
import { checkCoreDocument, coreDocument } from './core.js';
import { isDns1123Label } from './names.js';
import { anyValue, bool, enumOf, intOrString, list, obj, str, stringList, uint32, type Schema } from './schema.js';

const svcPort = uint32({ min: 1, max: 65535 });

function checkServiceSpec(spec: ServiceSpecK8s & { externalName?: string }, path: Path, ctx: ValidationContext): void {
  const ports = spec.ports ?? [];
  const names = new Set<string>();
  ports.forEach((p, i) => {
    const pp = [...path, 'ports', i];
    if (p.name === undefined || p.name === '') {
      if (ports.length > 1) ctx.error([...pp, 'name'], 'port name is required when a Service has more than one port', 'name it after the protocol, e.g. http-web or grpc-api');
    } else {
      if (!isDns1123Label(p.name)) ctx.error([...pp, 'name'], `invalid port name "${p.name}"`);
      if (names.has(p.name)) ctx.error([...pp, 'name'], `duplicate port name "${p.name}"`);
      names.add(p.name);
    }
    const t = p.targetPort;
    if (typeof t === 'number' && (t < 1 || t > 65535)) ctx.error([...pp, 'targetPort'], `targetPort ${t} must be in the range 1..65535`);
    if (typeof t === 'string' && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(t)) ctx.error([...pp, 'targetPort'], `targetPort "${t}" is neither a number nor a port name`);
  });
  if (spec.type === 'ExternalName' && (spec.externalName ?? '') === '') ctx.error([...path, 'externalName'], 'type ExternalName needs externalName');
}

const serviceSpec: Schema = obj(
  {
    ports: list(obj({ name: str(), port: svcPort, targetPort: intOrString(), protocol: enumOf(['TCP', 'UDP', 'SCTP']), appProtocol: str(), nodePort: uint32({ max: 65535 }) }, { required: ['port'], unknown: 'warn' })),
    selector: labelsSchema,
    clusterIP: str(),
    clusterIPs: stringList(),
    type: enumOf(['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName']),
    externalName: str(),
    externalIPs: stringList(),
    sessionAffinity: str(),
    sessionAffinityConfig: anyValue(),
    loadBalancerIP: str(),
    loadBalancerClass: str(),
    loadBalancerSourceRanges: stringList(),
    externalTrafficPolicy: str(),
    internalTrafficPolicy: str(),
    ipFamilies: stringList(),
    ipFamilyPolicy: str(),
    publishNotReadyAddresses: bool(),
    healthCheckNodePort: uint32(),
    allocateLoadBalancerNodePorts: bool(),
    trafficDistribution: str(),
  },
  { unknown: 'warn', check: checkServiceSpec },
);

const serviceSchema = coreDocument({ spec: serviceSpec });

export const validateService: KindValidator = (body, ctx) => {
  checkCoreDocument(body, serviceSchema, ctx);
};
