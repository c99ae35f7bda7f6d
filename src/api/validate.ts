import type { Kind } from './types.js';
import type { Diagnostic } from '../config/diagnostic.js';
import type { RawResource, Resource } from '../config/resource.js';
import { ValidationContext, type KindValidator } from './validation/context.js';
import { kindValidators } from './validation/registry.js';

/** The API versions Sluice accepts per kind; versions of one kind share one schema (as Istio). */
const API_VERSIONS: Record<Kind, readonly string[]> = {
  Gateway: ['networking.istio.io/v1alpha3', 'networking.istio.io/v1beta1', 'networking.istio.io/v1'],
  VirtualService: ['networking.istio.io/v1alpha3', 'networking.istio.io/v1beta1', 'networking.istio.io/v1'],
  DestinationRule: ['networking.istio.io/v1alpha3', 'networking.istio.io/v1beta1', 'networking.istio.io/v1'],
  ServiceEntry: ['networking.istio.io/v1alpha3', 'networking.istio.io/v1beta1', 'networking.istio.io/v1'],
  WorkloadEntry: ['networking.istio.io/v1alpha3', 'networking.istio.io/v1beta1', 'networking.istio.io/v1'],
  Sidecar: ['networking.istio.io/v1alpha3', 'networking.istio.io/v1beta1', 'networking.istio.io/v1'],
  // Istio serves EnvoyFilter only as v1alpha3; other versions are accepted with a warning below.
  EnvoyFilter: ['networking.istio.io/v1alpha3', 'networking.istio.io/v1beta1', 'networking.istio.io/v1'],
  AuthorizationPolicy: ['security.istio.io/v1beta1', 'security.istio.io/v1'],
  RequestAuthentication: ['security.istio.io/v1beta1', 'security.istio.io/v1'],
  PeerAuthentication: ['security.istio.io/v1beta1', 'security.istio.io/v1'],
  Telemetry: ['telemetry.istio.io/v1alpha1', 'telemetry.istio.io/v1'],
  // Not a real Istio kind (the seed's mistake (b)); accepted with a warning.
  MeshConfig: ['networking.istio.io/v1alpha3', 'networking.istio.io/v1beta1', 'networking.istio.io/v1', 'install.istio.io/v1alpha1', 'mesh.istio.io/v1alpha1'],
  Secret: ['v1'],
  Service: ['v1'],
  Endpoints: ['v1'],
  EndpointSlice: ['discovery.k8s.io/v1'],
  Pod: ['v1'],
};

const CORE_KINDS: ReadonlySet<string> = new Set(['Secret', 'Endpoints', 'EndpointSlice', 'Pod']);

export function isKnownKind(kind: string): kind is Kind {
  return Object.hasOwn(API_VERSIONS, kind);
}

export interface ValidationResult {
  /** The typed resource, or null when it has errors (it must not reach compile). */
  resource: Resource | null;
  diagnostics: Diagnostic[];
  /** Kind not understood: skipped with a warning. */
  ignored: boolean;
}

/**
 * Validates one raw resource against Istio's schema and webhook rules. Every problem is
 * collected (not only the first), with its file:line:col and field path.
 */
export function validateResource(raw: RawResource, seq: number, defaultNamespace = 'default'): ValidationResult {
  const namespace = typeof raw.metadata.namespace === 'string' && raw.metadata.namespace !== '' ? raw.metadata.namespace : defaultNamespace;
  const ctx = new ValidationContext(raw, namespace);
  if (!isKnownKind(raw.kind)) {
    ctx.warning(['kind'], `kind ${raw.kind} (${raw.apiVersion}) is not used by Sluice; the document is ignored`, undefined, 'SLU0010');
    return { resource: null, diagnostics: ctx.diagnostics, ignored: true };
  }
  const kind = raw.kind;
  const versions = API_VERSIONS[kind];
  if (!versions.includes(raw.apiVersion)) {
    ctx.error(['apiVersion'], `${kind} is not served as ${raw.apiVersion}`, `use apiVersion ${versions[versions.length - 1]}`);
  } else if (kind === 'EnvoyFilter' && raw.apiVersion !== 'networking.istio.io/v1alpha3') {
    ctx.warning(['apiVersion'], `Istio serves EnvoyFilter only as networking.istio.io/v1alpha3; kubectl apply would refuse ${raw.apiVersion}`, 'use apiVersion: networking.istio.io/v1alpha3', 'SLU0011');
  } else if (kind === 'MeshConfig') {
    ctx.warning(['kind'], 'MeshConfig is not a Kubernetes kind: kubectl apply would fail. Sluice reads it as mesh configuration', 'put these fields under meshConfig in the install config (istioctl install --set meshConfig..., IstioOperator spec.meshConfig, or the `mesh` key of ConfigMap istio), or pass them to sluice with --mesh FILE', 'SLU0012');
  }
  const name = raw.metadata.name;
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name) || name.length > 253) {
    ctx.error(['metadata', 'name'], `name "${name}" is not a valid Kubernetes object name`, 'use lower-case letters, digits, "-" and "."; start and end with a letter or digit');
  }
  const validator: KindValidator | undefined = kindValidators[kind];
  if (validator !== undefined) validator(raw.body, ctx);
  if (ctx.hasErrors) return { resource: null, diagnostics: ctx.diagnostics, ignored: false };

  let spec: unknown;
  if (CORE_KINDS.has(kind)) {
    const { apiVersion: _a, kind: _k, metadata: _m, ...rest } = raw.body;
    spec = rest;
  } else if (kind === 'MeshConfig') {
    spec = raw.body.spec ?? {};
  } else {
    spec = raw.body.spec ?? {};
  }
  const resource: Resource = {
    kind,
    apiVersion: raw.apiVersion,
    name,
    namespace,
    labels: raw.metadata.labels ?? {},
    annotations: raw.metadata.annotations ?? {},
    spec: spec as Resource['spec'],
    seq,
    source: raw.source,
    pos: raw.pos,
  };
  return { resource, diagnostics: ctx.diagnostics, ignored: false };
}
