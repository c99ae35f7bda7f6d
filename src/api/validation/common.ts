// Shapes and checks shared by several kinds: labels and selectors, target references, exportTo,
// percentages, ports, protocols and destinations. Each mirrors the istio/istio helper named in
// its comment so behaviour stays comparable.

import type { Destination, PolicyTargetReference, WorkloadSelector } from '../types.js';
import type { Path, ValidationContext } from './context.js';
import { hostFix, isDns1123Label, isDns1123Subdomain, wildcardDomainError } from './names.js';
import { portError } from './net.js';
import { enumOf, list, map, num, obj, str, stringList, uint32 } from './schema.js';

// ------------------------------------------------------------------ labels and selectors

const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** labels.Instance.Validate: Kubernetes label keys (`[prefix/]name`) and values. */
export function checkLabels(labels: Record<string, string>, path: Path, ctx: ValidationContext): void {
  for (const [k, v] of Object.entries(labels)) {
    const p = [...path, k];
    const slash = k.split('/');
    const name = slash[slash.length - 1]!;
    if (slash.length > 2 || (slash.length === 2 && !isDns1123Subdomain(slash[0]!)) || name.length > 63 || !LABEL_NAME.test(name)) {
      ctx.error(p, `invalid label key "${k}"`, 'label keys are [prefix/]name with letters, digits, "-", "_" and "." (name ≤ 63 characters)');
    }
    if (v.length > 63 || !LABEL_VALUE.test(v)) ctx.error(p, `invalid label value "${v}"`, 'label values are ≤ 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit');
  }
}

export const labelsSchema = map(str(), { check: checkLabels });

/** validateWorkloadSelector / ValidateAlphaWorkloadSelector: no empty keys, no wildcards. */
function checkSelectorLabels(labels: Record<string, string> | undefined, path: Path, ctx: ValidationContext, what: string): void {
  if (labels === undefined || Object.keys(labels).length === 0) {
    ctx.warning(path, `workload selector specified without labels: ${what}`, 'add labels, or remove the selector to apply it namespace-wide');
    return;
  }
  for (const [k, v] of Object.entries(labels)) {
    if (k === '') ctx.error([...path, k], `empty key is not supported in selector: "=${v}"`);
    if (k.includes('*') || v.includes('*')) ctx.error([...path, k], `wildcard is not supported in selector: "${k}=${v}"`, 'list exact label values');
  }
}

/** `selector` / `workloadSelector` of security, telemetry and DestinationRule: `{matchLabels}`. */
export const workloadSelectorSchema = obj(
  { matchLabels: map(str()) },
  { check: (s: WorkloadSelector, p, ctx) => checkSelectorLabels(s.matchLabels, [...p, 'matchLabels'], ctx, 'it selects every workload in the namespace') },
);

/** The older networking form (ServiceEntry, Sidecar, EnvoyFilter): `{labels}`. */
export const alphaWorkloadSelectorSchema = obj(
  { labels: map(str()) },
  { check: (s: { labels?: Record<string, string> }, p, ctx) => checkSelectorLabels(s.labels, [...p, 'labels'], ctx, 'it applies to all workloads in the namespace') },
);

// ------------------------------------------------------------------ policy target references

const ALLOWED_TARGETS: readonly { group: string; kind: string }[] = [
  { group: '', kind: 'Service' },
  { group: 'networking.istio.io', kind: 'ServiceEntry' },
  { group: 'gateway.networking.k8s.io', kind: 'Gateway' },
  { group: 'gateway.networking.k8s.io', kind: 'GatewayClass' },
];

/** validatePolicyTargetReference: same-namespace Service, ServiceEntry or Gateway API Gateway. */
function checkTargetRef(r: PolicyTargetReference, path: Path, ctx: ValidationContext): void {
  if (r.name === '') ctx.error([...path, 'name'], 'targetRef name must be set');
  if (r.namespace !== undefined && r.namespace !== '') {
    ctx.error([...path, 'namespace'], 'targetRef namespace must not be set; cross namespace referencing is not supported', 'remove namespace; the policy must live in the target\'s namespace');
  }
  const group = r.group === 'core' ? '' : (r.group ?? '');
  if (!ALLOWED_TARGETS.some((t) => t.kind === r.kind && t.group === group)) {
    ctx.error([...path, 'kind'], `targetRef must be to one of ${ALLOWED_TARGETS.map((t) => `${t.group === '' ? 'core' : t.group}/${t.kind}`).join(', ')} but was ${group === '' ? 'core' : group}/${r.kind}`);
  }
}

export const targetRefSchema = obj({ group: str(), kind: str(), name: str(), namespace: str() }, { required: ['kind', 'name'], check: checkTargetRef });

/** The selector / targetRef / targetRefs triple of security and telemetry kinds. */
export const selectorFields = {
  selector: workloadSelectorSchema,
  targetRef: targetRefSchema,
  targetRefs: list(targetRefSchema),
} as const;

/** validateOneOfSelectorType. */
export function checkOneSelectorKind(spec: { selector?: unknown; targetRef?: unknown; targetRefs?: unknown[] }, path: Path, ctx: ValidationContext): void {
  const set = [spec.selector !== undefined, spec.targetRef !== undefined, (spec.targetRefs?.length ?? 0) > 0].filter(Boolean).length;
  if (set > 1) ctx.error(path, 'only one of targetRefs, targetRef or selector can be set', 'use targetRefs for Gateway API / waypoint targets, selector for workloads');
}

// ------------------------------------------------------------------ exportTo

/**
 * validateExportTo: `*`, `.`, namespace names, `~` (ServiceEntry only); no duplicates; `*`/`~`
 * alone; a DestinationRule with a workloadSelector exports only to its own namespace.
 */
export function checkExportTo(exportTo: readonly string[] | undefined, path: Path, ctx: ValidationContext, opts: { serviceEntry?: boolean; drWithSelector?: boolean } = {}): void {
  if (exportTo === undefined || exportTo.length === 0) return;
  const seen = new Set<string>();
  exportTo.forEach((e, i) => {
    const key = e === '.' ? ctx.namespace : e;
    if (seen.has(key)) {
      ctx.error([...path, i], key !== e ? `duplicate entries in exportTo: . and current namespace ${ctx.namespace}` : `duplicate entries in exportTo for entry ${e}`);
      return;
    }
    const valid = e === '*' || e === '.' || (e === '~' && opts.serviceEntry === true) || isDns1123Label(e);
    if (!valid) {
      ctx.error([...path, i], e === '~' ? 'exportTo "~" (visible to no one) is only allowed on ServiceEntry' : `invalid exportTo value "${e}"`, 'use "*" (all namespaces), "." (this namespace) or namespace names');
      return;
    }
    seen.add(key);
  });
  if (opts.drWithSelector === true && seen.size > 0) {
    if (!seen.has(ctx.namespace)) ctx.error(path, 'destination rule with workload selector cannot have exportTo beyond current namespace', 'use exportTo: ["."]');
    else if (seen.size > 1) ctx.error(path, 'destination rule with workload selector cannot have multiple entries in exportTo', 'use exportTo: ["."]');
  }
  if (seen.has('*') && exportTo.length > 1) ctx.error(path, 'cannot have both public (*) and non-public exportTo values for a resource', 'use "*" alone');
  if (seen.has('~') && exportTo.length > 1) ctx.error(path, 'cannot export service entry to no one (~) and someone');
}

export const exportToSchema = stringList();

// ------------------------------------------------------------------ numbers, ports, protocols

/** validatePercentage: `{value}` in 0..100, and no uselessly small non-zero fractions. */
export const percentSchema = obj(
  { value: num() },
  {
    check: (p: { value?: number }, path, ctx) => {
      const v = p.value ?? 0;
      if (v < 0 || v > 100 || (v > 0 && v < 0.0001)) ctx.error([...path, 'value'], `percentage ${v} is neither 0.0, nor in range [0.0001, 100.0]`, 'use a value between 0 and 100');
    },
  },
);

export const portNumberSchema = uint32({
  check: (n: number, path, ctx) => {
    const e = portError(n);
    if (e !== undefined) ctx.error(path, e, 'use a port number between 1 and 65535');
  },
});

/** ValidatePortName: a DNS-1123 label. */
export const portNameSchema = str({
  check: (n: string, path, ctx) => {
    if (!isDns1123Label(n)) ctx.error(path, `invalid port name: "${n}"`, 'use lower-case letters, digits and "-", e.g. "https" or "tcp-postgres"');
  },
});

/** Istio's protocol.Parse set (case-insensitive). */
export const PROTOCOLS = ['HTTP', 'HTTPS', 'HTTP2', 'GRPC', 'GRPC-WEB', 'TCP', 'TLS', 'MONGO', 'REDIS', 'MYSQL', 'UDP', 'HTTP_PROXY'] as const;
export const protocolSchema = enumOf(PROTOCOLS, { caseInsensitive: true });

export type ProtocolClass = 'http' | 'tls' | 'tcp' | 'other';
/** protocol.Instance IsHTTP / IsTLS / IsTCP. */
export function protocolClass(p: string): ProtocolClass {
  switch (p.toUpperCase()) {
    case 'HTTP':
    case 'HTTP2':
    case 'GRPC':
    case 'GRPC-WEB':
    case 'HTTP_PROXY':
      return 'http';
    case 'HTTPS':
    case 'TLS':
      return 'tls';
    case 'TCP':
    case 'MONGO':
    case 'REDIS':
    case 'MYSQL':
      return 'tcp';
    default:
      return 'other';
  }
}

// ------------------------------------------------------------------ destinations

/** validateSubsetName: a DNS-1123 label. */
export function subsetNameError(name: string): string | undefined {
  if (name === '') return 'subset name cannot be empty';
  return isDns1123Label(name) ? undefined : `subset name is invalid: "${name}" (must be a DNS label: lower-case letters, digits and "-")`;
}

/** validateDestination: a service host (not `*`), optional subset and port. */
function checkDestination(d: Destination, path: Path, ctx: ValidationContext): void {
  if (d.host === '*') ctx.error([...path, 'host'], 'invalid destination host *', 'name a service, e.g. "reviews" or "api.example.com"');
  else {
    const e = wildcardDomainError(d.host);
    if (e !== undefined) ctx.error([...path, 'host'], e, hostFix(d.host));
  }
  if (d.subset !== undefined) {
    const e = subsetNameError(d.subset);
    if (e !== undefined) ctx.error([...path, 'subset'], e);
  }
}

export const portSelectorSchema = obj(
  { number: portNumberSchema },
  {
    check: (p: { number?: number }, path, ctx) => {
      if (p.number === undefined) ctx.error([...path, 'number'], 'port number must be set when port is given', 'write port: {number: 8080}, or remove port');
    },
  },
);
export const destinationSchema = obj({ host: str(), subset: str(), port: portSelectorSchema }, { required: ['host'], check: checkDestination });
