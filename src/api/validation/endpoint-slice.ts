// EndpointSlice (discovery.k8s.io/v1): addresses match addressType, and the slice names its
// Service through the kubernetes.io/service-name label (without it nothing uses the slice).

import type { EndpointSliceResource } from '../types.js';
import type { KindValidator, Path, ValidationContext } from './context.js';
import { checkCoreDocument, coreDocument } from './core.js';
import { fqdnError } from './names.js';
import { isIP } from 'node:net';
import { anyValue, bool, enumOf, list, obj, str, stringList } from './schema.js';
import { endpointPortSchema } from './endpoints.js';
import { CODE_NO_EFFECT } from './virtual-service-actions.js';

function checkSlice(s: EndpointSliceResource, path: Path, ctx: ValidationContext): void {
  const type = s.addressType;
  (s.endpoints ?? []).forEach((ep, i) => {
    ep.addresses.forEach((a, j) => {
      const p = [...path, 'endpoints', i, 'addresses', j];
      if (type === 'IPv4' && isIP(a) !== 4) ctx.error(p, `"${a}" is not an IPv4 address (addressType IPv4)`);
      else if (type === 'IPv6' && isIP(a) !== 6) ctx.error(p, `"${a}" is not an IPv6 address (addressType IPv6)`);
      else if (type === 'FQDN' && fqdnError(a) !== undefined) ctx.error(p, `"${a}" is not a valid FQDN (addressType FQDN)`);
    });
  });
  if (ctx.resource.metadata.labels?.['kubernetes.io/service-name'] === undefined) {
    ctx.warning(['metadata', 'labels'], 'EndpointSlice has no kubernetes.io/service-name label, so it belongs to no Service and is not used', 'add label kubernetes.io/service-name: <service>', CODE_NO_EFFECT);
  }
}

const sliceSchema = coreDocument(
  {
    addressType: enumOf(['IPv4', 'IPv6', 'FQDN']),
    endpoints: list(
      obj(
        {
          addresses: stringList({ minItems: 1, maxItems: 100 }),
          conditions: obj({ ready: bool(), serving: bool(), terminating: bool() }, { unknown: 'warn' }),
          hostname: str(),
          nodeName: str(),
          zone: str(),
          targetRef: anyValue(),
          hints: anyValue(),
          deprecatedTopology: anyValue(),
        },
        { required: ['addresses'], unknown: 'warn' },
      ),
    ),
    ports: list(endpointPortSchema),
  },
  checkSlice,
);

export const validateEndpointSlice: KindValidator = (body, ctx) => {
  if (body.addressType === undefined) ctx.error(['addressType'], 'required field "addressType" is missing', 'set addressType: IPv4 (or IPv6, FQDN)');
  checkCoreDocument(body, sliceSchema, ctx);
};
