// Gateway references in VirtualService `gateways` (top level and per match): `ns/name`, a bare
// `name` in the VirtualService's namespace, the reserved `mesh`, or the legacy FQDN form
// (validateGatewayNames).

import { fqdnError, isDns1123Label } from './names.js';

export const MESH_GATEWAY = 'mesh';

export interface Finding {
  level: 'error' | 'warning';
  message: string;
  fix?: string;
}

/** Problems with one gateway reference. */
export function gatewayNameErrors(ref: string): Finding[] {
  const out: Finding[] = [];
  const slash = ref.indexOf('/');
  if (slash < 0) {
    if (ref.includes('.')) {
      const parts = ref.split('.');
      out.push({ level: 'warning', message: `using legacy gatewayName format "${ref}"; prefer the <namespace>/<name> format: "${parts[1]}/${parts[0]}"`, fix: `write "${parts[1]}/${parts[0]}"` });
    }
    const e = fqdnError(ref);
    if (e !== undefined) out.push({ level: 'error', message: `invalid gateway name "${ref}": ${e}`, fix: 'write <namespace>/<gateway-name>, or "mesh" for sidecars' });
    return out;
  }
  const ns = ref.slice(0, slash);
  const name = ref.slice(slash + 1);
  if (ns === '' || name === '') out.push({ level: 'error', message: 'config namespace and gateway name cannot be empty', fix: 'write <namespace>/<gateway-name>' });
  if (ns !== '' && !isDns1123Label(ns)) out.push({ level: 'error', message: `invalid value for namespace: "${ns}"` });
  if (name !== '' && !isDns1123Label(name)) out.push({ level: 'error', message: `invalid value for gateway name: "${name}"`, fix: name.includes('/') ? 'write exactly one "/" between namespace and name' : undefined });
  return out;
}
