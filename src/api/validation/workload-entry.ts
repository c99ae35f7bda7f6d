// WorkloadEntry, standalone and as ServiceEntry endpoints (validateWorkloadEntry): an IP, a
// DNS name or `unix://` path, named ports that are DNS labels, valid labels.

import type { WorkloadEntrySpec } from '../types.js';
import type { KindValidator, Path, ValidationContext } from './context.js';
import { checkLabels, portNumberSchema } from './common.js';
import { checkIstioDocument } from './document.js';
import { fqdnError, isDns1123Label, isIpAddress } from './names.js';
import { map, obj, str, uint32 } from './schema.js';

export const workloadEntryFields = {
  address: str(),
  ports: map(portNumberSchema),
  labels: map(str()),
  network: str(),
  locality: str(),
  weight: uint32(),
  serviceAccount: str(),
};

/** ValidateUnixAddress: an absolute file path or an abstract `@name`. */
export function unixAddressError(addr: string): string | undefined {
  if (addr === '') return 'unix address must not be empty';
  if (addr.startsWith('@')) return undefined;
  return addr.startsWith('/') && !addr.endsWith('/') ? undefined : `${addr} is not an absolute path to a file`;
}

export interface EntryRules {
  /** DNS names are allowed (standalone WorkloadEntry, DNS resolution); STATIC wants IPs. */
  allowFqdn: boolean;
  /** Port names declared by the ServiceEntry, when known. */
  servicePorts?: ReadonlySet<string>;
}

export function checkWorkloadEntry(we: WorkloadEntrySpec, path: Path, ctx: ValidationContext, rules: EntryRules): void {
  const addr = we.address ?? '';
  if (addr === '') {
    if ((we.network ?? '') === '') {
      ctx.error([...path, 'address'], 'address is required', 'set the workload IP (or DNS name)');
      return;
    }
    ctx.warning([...path, 'network'], `address is unset with network "${we.network}"`);
  }
  if (addr.startsWith('unix://')) {
    const e = unixAddressError(addr.slice('unix://'.length));
    if (e !== undefined) ctx.error([...path, 'address'], e);
    if (we.ports !== undefined && Object.keys(we.ports).length > 0) ctx.error([...path, 'ports'], `unix endpoint ${addr} must not include ports`);
    if (rules.servicePorts !== undefined && rules.servicePorts.size !== 1) ctx.error([...path, 'address'], 'exactly 1 service port required for unix endpoints');
  } else if (addr !== '' && !isIpAddress(addr)) {
    if (!rules.allowFqdn) ctx.error([...path, 'address'], `endpoint address "${addr}" is not a valid IP address`, 'STATIC resolution needs IP endpoints; use resolution: DNS for host names');
    else if (fqdnError(addr) !== undefined) ctx.error([...path, 'address'], `endpoint address "${addr}" is not a valid FQDN or an IP address`);
  }
  for (const name of Object.keys(we.ports ?? {})) {
    const p = [...path, 'ports', name];
    if (!isDns1123Label(name)) ctx.error(p, `invalid port name: "${name}"`);
    if (rules.servicePorts !== undefined && !rules.servicePorts.has(name)) {
      ctx.error(p, `endpoint port "${name}" is not defined by the service entry`, `use one of the ServiceEntry port names: ${[...rules.servicePorts].join(', ')}`);
    }
  }
  if (we.labels !== undefined) checkLabels(we.labels, [...path, 'labels'], ctx);
}

const weSchema = obj(workloadEntryFields, { check: (we: WorkloadEntrySpec, p, ctx) => checkWorkloadEntry(we, p, ctx, { allowFqdn: true }) });

export const validateWorkloadEntry: KindValidator = (body, ctx) => {
  checkIstioDocument(body, weSchema, ctx, true);
};
