// ServiceEntry: CRD shape and istio/istio ValidateServiceEntry — hosts, addresses (CIDR only with
// NONE/STATIC), unique port names/numbers, per-resolution endpoint rules, endpoints XOR
// workloadSelector, exportTo (with `~`).

import type { ServiceEntrySpec, WorkloadEntrySpec } from '../types.js';
import type { KindValidator, ValidationContext } from './context.js';
import { alphaWorkloadSelectorSchema, checkExportTo, portNameSchema, portNumberSchema, protocolClass, protocolSchema } from './common.js';
import { checkIstioDocument } from './document.js';
import { fqdnError, hostFix, isPartialWildcard, wildcardDomainError } from './names.js';
import { ipOrCidrError, isCidr, portError } from './net.js';
import { enumOf, list, obj, stringList, uint32 } from './schema.js';
import { cleanItems, isPlainObject, shaped } from './walk.js';
import { checkWorkloadEntry, workloadEntryFields } from './workload-entry.js';

const RESOLUTIONS = ['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN', 'DYNAMIC_DNS'] as const;

const seSpecSchema = obj(
  {
    hosts: stringList({ minItems: 1 }),
    addresses: stringList(),
    ports: list(obj({ number: portNumberSchema, protocol: protocolSchema, name: portNameSchema, targetPort: uint32() }, { required: ['number', 'name'] })),
    location: enumOf(['MESH_EXTERNAL', 'MESH_INTERNAL']),
    resolution: enumOf(RESOLUTIONS),
    endpoints: list(obj(workloadEntryFields)),
    workloadSelector: alphaWorkloadSelectorSchema,
    exportTo: stringList(),
    subjectAltNames: stringList(),
  },
  { required: ['hosts'] },
);

type Port = NonNullable<ServiceEntrySpec['ports']>[number];
const P = (...rest: (string | number)[]): (string | number)[] => ['spec', ...rest];
const strings = (v: unknown): [string, number][] => cleanItems(v as string[]);

/** The well-shaped parts the cross-field rules look at. */
interface View {
  hosts: [string, number][];
  hostCount: number;
  addresses: [string, number][];
  ports: [Port, number][];
  endpoints: [WorkloadEntrySpec, number][];
  hasEndpoints: boolean;
  hasSelector: boolean;
  resolution: string;
}

function checkHosts(v: View, ctx: ValidationContext): void {
  for (const [h, i] of v.hosts) {
    if (h === '*') {
      ctx.error(P('hosts', i), 'invalid host *', 'a ServiceEntry needs concrete hosts or a "*.suffix" wildcard');
      continue;
    }
    const e = wildcardDomainError(h);
    if (e !== undefined) ctx.error(P('hosts', i), e, hostFix(h));
    else if (isPartialWildcard(h)) ctx.warning(P('hosts', i), `partial wildcard "${h}" not allowed`, 'use "*.suffix"');
  }
}

/** Resolution-specific endpoint rules (the switch in ValidateServiceEntry). */
function checkResolution(v: View, portNames: Set<string>, ctx: ValidationContext): void {
  const res = v.resolution;
  const endpoints = v.endpoints;
  switch (res) {
    case 'NONE':
      if (v.hasEndpoints) ctx.error(P('endpoints'), 'no endpoints should be provided for resolution type none', 'use resolution STATIC (IP endpoints) or DNS');
      if (v.hasSelector) ctx.warning(P('workloadSelector'), 'workloadSelector should not be set when resolution mode is NONE');
      break;
    case 'STATIC':
      for (const [ep, i] of endpoints) checkWorkloadEntry(ep, P('endpoints', i), ctx, { allowFqdn: false, servicePorts: portNames });
      if (!v.hasEndpoints && !v.hasSelector) {
        ctx.warning(P('resolution'), 'STATIC resolution without endpoints or workloadSelector: the service has no endpoints', 'list IP endpoints, or select WorkloadEntries/pods with workloadSelector');
      }
      break;
    case 'DNS':
    case 'DNS_ROUND_ROBIN':
      if (!v.hasEndpoints) {
        for (const [h, i] of v.hosts) {
          if (fqdnError(h) !== undefined) ctx.error(P('hosts', i), `hosts must be FQDN if no endpoints are provided for resolution mode ${res} ("${h}" is not)`, h.startsWith('*') ? 'a wildcard host cannot be resolved: add endpoints, or use resolution NONE' : undefined);
        }
      }
      if (res === 'DNS_ROUND_ROBIN' && endpoints.length > 1) ctx.error(P('endpoints'), `there must only be 0 or 1 endpoint for resolution mode ${res}`, 'use resolution DNS for several endpoints');
      for (const [ep, i] of endpoints) checkWorkloadEntry(ep, P('endpoints', i), ctx, { allowFqdn: true, servicePorts: portNames });
      if (v.hasSelector) ctx.warning(P('workloadSelector'), `workloadSelector should not be set when resolution mode is ${res}`);
      if (v.addresses.length > 0 && v.hostCount > 1 && v.ports.some(([p]) => protocolClass(p.protocol ?? 'TCP') === 'tcp')) {
        ctx.warning(P('hosts'), 'service entry can not have more than one host specified simultaneously with address and tcp port');
      }
      break;
    case 'DYNAMIC_DNS':
      if (v.hasEndpoints) ctx.error(P('endpoints'), 'no endpoints should be provided for resolution type DYNAMIC_DNS');
      break;
  }
  // Plain TCP cannot tell hosts apart (no Host header, no SNI) unless the hosts are ignored (NONE).
  if (res !== 'NONE' && v.hostCount > 1 && v.ports.some(([p]) => p.protocol === undefined || (protocolClass(p.protocol) !== 'http' && protocolClass(p.protocol) !== 'tls'))) {
    ctx.error(P('hosts'), 'multiple hosts provided with non-HTTP, non-TLS ports', 'use one host per ServiceEntry, HTTP/TLS ports, or resolution NONE');
  }
}

function checkServiceEntry(raw: Record<string, unknown>, ctx: ValidationContext): void {
  const v: View = {
    hosts: strings(raw.hosts),
    hostCount: Array.isArray(raw.hosts) ? raw.hosts.length : 0,
    addresses: strings(raw.addresses),
    ports: cleanItems(raw.ports as Port[]),
    endpoints: cleanItems(raw.endpoints as WorkloadEntrySpec[]),
    hasEndpoints: Array.isArray(raw.endpoints) && raw.endpoints.length > 0,
    hasSelector: raw.workloadSelector !== undefined,
    resolution: typeof raw.resolution === 'string' ? raw.resolution : 'NONE',
  };
  checkHosts(v, ctx);
  if (v.hasSelector && raw.endpoints !== undefined) {
    ctx.error(P('workloadSelector'), 'only one of workloadSelector or endpoints is allowed in Service Entry', 'remove endpoints (selected workloads are the endpoints), or the selector');
  }
  let cidr = false;
  for (const [a, i] of v.addresses) {
    cidr ||= isCidr(a);
    const e = ipOrCidrError(a);
    if (e !== undefined) ctx.error(P('addresses', i), e, 'addresses are IPs or CIDR blocks (VIPs), not host names');
  }
  if (cidr && v.resolution !== 'NONE' && v.resolution !== 'STATIC') {
    ctx.error(P('addresses'), 'CIDR addresses are allowed only for NONE/STATIC resolution types', 'use single IPs, or resolution NONE/STATIC');
  }
  const names = new Set<string>();
  const numbers = new Map<number, number>();
  for (const [p, i] of v.ports) {
    if (names.has(p.name)) ctx.error(P('ports', i, 'name'), `service entry port name "${p.name}" already defined`, 'port names must be unique');
    names.add(p.name);
    const prev = numbers.get(p.number);
    if (prev !== undefined) ctx.error(P('ports', i, 'number'), `service entry port ${p.number} already defined (ports[${prev}])`, 'port numbers must be unique');
    else numbers.set(p.number, i);
    if (p.targetPort !== undefined && p.targetPort !== 0) {
      const e = portError(p.targetPort);
      if (e !== undefined) ctx.error(P('ports', i, 'targetPort'), e);
      if (v.resolution === 'NONE') ctx.warning(P('ports', i, 'targetPort'), 'targetPort has no effect when resolution mode is NONE');
    }
  }
  checkResolution(v, names, ctx);
  if (shaped(raw.exportTo)) checkExportTo(raw.exportTo as string[], P('exportTo'), ctx, { serviceEntry: true });
}

export const validateServiceEntry: KindValidator = (body, ctx) => {
  checkIstioDocument(body, seSpecSchema, ctx, true);
  if (isPlainObject(body.spec)) checkServiceEntry(body.spec, ctx);
};
