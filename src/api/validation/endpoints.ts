// Endpoints (core/v1): addresses must be IPs (Sluice connects to them directly); ports numbered.

import type { KindValidator, Path, ValidationContext } from './context.js';
import { checkCoreDocument, coreDocument } from './core.js';
import { isIpAddress } from './names.js';
import { anyValue, enumOf, list, obj, str, uint32 } from './schema.js';

function checkIp(ip: string, path: Path, ctx: ValidationContext): void {
  if (!isIpAddress(ip)) ctx.error(path, `"${ip}" is not a valid IP address`, 'Endpoints addresses are pod IPs; use a ServiceEntry for DNS names');
}

const address = obj(
  { ip: str({ check: checkIp }), hostname: str(), nodeName: str(), targetRef: anyValue() },
  { required: ['ip'], unknown: 'warn' },
);
export const endpointPortSchema = obj(
  { name: str(), port: uint32({ min: 1, max: 65535 }), protocol: enumOf(['TCP', 'UDP', 'SCTP']), appProtocol: str() },
  { unknown: 'warn' },
);

const endpointsSchema = coreDocument({
  subsets: list(obj({ addresses: list(address), notReadyAddresses: list(address), ports: list(obj(endpointPortSchema.fields, { required: ['port'], unknown: 'warn' })) }, { unknown: 'warn' })),
});

export const validateEndpoints: KindValidator = (body, ctx) => {
  checkCoreDocument(body, endpointsSchema, ctx);
};
