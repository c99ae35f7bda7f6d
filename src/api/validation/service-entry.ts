// ServiceEntry: CRD shape and istio/istio ValidateServiceEntry — hosts, addresses (CIDR only with
// NONE/STATIC), unique port names/numbers, per-resolution endpoint rules, endpoints XOR
// workloadSelector, exportTo (with `~`).

import type { ServiceEntrySpec } from '../types.js';
import type { KindValidator, ValidationContext } from './context.js';
import { alphaWorkloadSelectorSchema, checkExportTo, portNameSchema, portNumberSchema, protocolClass, protocolSchema } from './common.js';
import { checkIstioDocument } from './document.js';
import { fqdnError, hostFix, isPartialWildcard, wildcardDomainError } from './names.js';
import { ipOrCidrError, isCidr, portError } from './net.js';
import { enumOf, list, obj, stringList, uint32 } from './schema.js';
import { isPlainObject, shaped } from './walk.js';
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

type Spec = ServiceEntrySpec;
const P = (...rest: (string | number)[]): (string | number)[] => ['spec', ...rest];

function checkHosts(se: Spec, ctx: ValidationContext): void {
  if (!shaped(se.hosts)) return;
  se.hosts.forEach((h, i) => {
    if (h === '*') {
      ctx.error(P('hosts', i), 'invalid host *', 'a ServiceEntry needs concrete hosts or a "*.suffix" wildcard');
      return;
    }
    const e = wildcardDomainError(h);
    if (e !== undefined) ctx.error(P('hosts', i), e, hostFix(h));
    else if (isPartialWildcard(h)) ctx.warning(P('hosts', i), `partial wildcard "${h}" not allowed`, 'use "*.suffix"');
  });
}

/** Resolution-specific endpoint rules (the switch in ValidateServiceEntry). */
function checkResolution(se: Spec, portNames: Set<string>, ctx: ValidationContext): void {
  const res = se.resolution ?? 'NONE';
  const endpoints = shaped(se.endpoints) ? (se.endpoints ?? []) : [];
  switch (res) {
    case 'NONE':
      if (endpoints.length > 0) ctx.error(P('endpoints'), 'no endpoints should be provided for resolution type none', 'use resolution STATIC (IP endpoints) or DNS');
      if (se.workloadSelector !== undefined) ctx.warning(P('workloadSelector'), 'workloadSelector should not be set when resolution mode is NONE');
      break;
    case 'STATIC':
      endpoints.forEach((ep, i) => checkWorkloadEntry(ep, P('endpoints', i), ctx, { allowFqdn: false, servicePorts: portNames }));
      if (endpoints.length === 0 && se.workloadSelector === undefined) {
        ctx.warning(P('resolution'), 'STATIC resolution without endpoints or workloadSelector: the service has no endpoints', 'list IP endpoints, or select WorkloadEntries/pods with workloadSelector');
      }
      break;
    case 'DNS':
    case 'DNS_ROUND_ROBIN':
      if (endpoints.length === 0 && shaped(se.hosts)) {
        se.hosts.forEach((h, i) => {
          if (fqdnError(h) !== undefined) ctx.error(P('hosts', i), `hosts must be FQDN if no endpoints are provided for resolution mode ${res} ("${h}" is not)`, h.startsWith('*') ? 'a wildcard host cannot be resolved: add endpoints, or use resolution NONE' : undefined);
        });
      }
      if (res === 'DNS_ROUND_ROBIN' && endpoints.length > 1) ctx.error(P('endpoints'), `there must only be 0 or 1 endpoint for resolution mode ${res}`, 'use resolution DNS for several endpoints');
      endpoints.forEach((ep, i) => checkWorkloadEntry(ep, P('endpoints', i), ctx, { allowFqdn: true, servicePorts: portNames }));
      if (se.workloadSelector !== undefined) ctx.warning(P('workloadSelector'), `workloadSelector should not be set when resolution mode is ${res}`);
      if ((se.addresses?.length ?? 0) > 0 && (se.hosts?.length ?? 0) > 1 && (se.ports ?? []).some((p) => shaped(p) && protocolClass(p.protocol ?? 'TCP') === 'tcp')) {
        ctx.warning(P('hosts'), 'service entry can not have more than one host specified simultaneously with address and tcp port');
      }
      break;
    case 'DYNAMIC_DNS':
      if (endpoints.length > 0) ctx.error(P('endpoints'), 'no endpoints should be provided for resolution type DYNAMIC_DNS');
      break;
  }
  if (res !== 'NONE' && (se.hosts?.length ?? 0) > 1) {
    const bad = (se.ports ?? []).find((p) => shaped(p) && p.protocol !== undefined && protocolClass(p.protocol) !== 'http' && protocolClass(p.protocol) !== 'tls');
    const unset = (se.ports ?? []).find((p) => shaped(p) && p.protocol === undefined);
    if (bad !== undefined || unset !== undefined) {
      ctx.error(P('hosts'), 'multiple hosts provided with non-HTTP, non-TLS ports', 'plain TCP cannot tell hosts apart: use one host per ServiceEntry, HTTP/TLS ports, or resolution NONE');
    }
  }
}

function checkServiceEntry(se: Spec, ctx: ValidationContext): void {
  checkHosts(se, ctx);
  if (se.workloadSelector !== undefined && se.endpoints !== undefined) {
    ctx.error(P('workloadSelector'), 'only one of workloadSelector or endpoints is allowed in Service Entry', 'remove endpoints (selected workloads are the endpoints), or the selector');
  }
  let cidr = false;
  (shaped(se.addresses) ? (se.addresses ?? []) : []).forEach((a, i) => {
    cidr ||= isCidr(a);
    const e = ipOrCidrError(a);
    if (e !== undefined) ctx.error(P('addresses', i), e, 'addresses are IPs or CIDR blocks (VIPs), not host names');
  });
  if (cidr && se.resolution !== undefined && se.resolution !== 'NONE' && se.resolution !== 'STATIC') {
    ctx.error(P('addresses'), 'CIDR addresses are allowed only for NONE/STATIC resolution types', 'use single IPs, or resolution NONE/STATIC');
  }
  const names = new Set<string>();
  const numbers = new Map<number, number>();
  (Array.isArray(se.ports) ? se.ports : []).forEach((p, i) => {
    if (!shaped(p)) return;
    if (names.has(p.name)) ctx.error(P('ports', i, 'name'), `service entry port name "${p.name}" already defined`, 'port names must be unique');
    names.add(p.name);
    const prev = numbers.get(p.number);
    if (prev !== undefined) ctx.error(P('ports', i, 'number'), `service entry port ${p.number} already defined (ports[${prev}])`, 'port numbers must be unique');
    else numbers.set(p.number, i);
    if (p.targetPort !== undefined && p.targetPort !== 0) {
      const e = portError(p.targetPort);
      if (e !== undefined) ctx.error(P('ports', i, 'targetPort'), e);
      if ((se.resolution ?? 'NONE') === 'NONE') ctx.warning(P('ports', i, 'targetPort'), 'targetPort has no effect when resolution mode is NONE');
    }
  });
  checkResolution(se, names, ctx);
  if (shaped(se.exportTo)) checkExportTo(se.exportTo, P('exportTo'), ctx, { serviceEntry: true });
}

export const validateServiceEntry: KindValidator = (body, ctx) => {
  checkIstioDocument(body, seSpecSchema, ctx, true);
  if (isPlainObject(body.spec)) checkServiceEntry(body.spec as unknown as Spec, ctx);
};
