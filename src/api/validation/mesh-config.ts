// MeshConfig documents: not a Kubernetes kind (the seed's mistake (b); validate.ts warns), but
// Sluice reads their `spec` as Istio mesh configuration (the `mesh` key of ConfigMap istio).
// Known fields are checked like istio/istio agent.ValidateMeshConfig; unknown ones only warn,
// since MeshConfig has many fields that do not matter to a gateway and grows every release.

import type { MeshConfig } from '../types.js';
import type { KindValidator, Path, ValidationContext } from './context.js';
import { checkExportTo } from './common.js';
import { checkIstioDocument } from './document.js';
import { parseGoDuration } from './duration.js';
import { checkLocalityLb, localityLbSchema } from './locality.js';
import { isDns1123Label } from './names.js';
import { anyDuration, anyValue, bool, duration, enumOf, list, obj, str, stringList, uint32, type ObjectSchema, type Schema } from './schema.js';
import { retriesSchema } from './virtual-service-actions.js';
import { isPlainObject, shaped } from './walk.js';

/** Mesh objects are lenient: unknown fields warn (SLU0102) instead of failing. */
const o = (fields: Record<string, Schema>, opts: Omit<ObjectSchema, 't' | 'fields' | 'unknown'> = {}): ObjectSchema => obj(fields, { ...opts, unknown: 'warn' });

const port = uint32({ max: 65535 });

// MeshConfig.ExtensionProvider oneof members; their contents are checked where they are used.
const PROVIDER_KINDS = [
  'envoyExtAuthzHttp', 'envoyExtAuthzGrpc', 'zipkin', 'lightstep', 'datadog', 'stackdriver', 'opencensus', 'skywalking',
  'opentelemetry', 'prometheus', 'envoyFileAccessLog', 'envoyHttpAls', 'envoyTcpAls', 'envoyOtelAls', 'sds',
];

const meshSchema = o({
  proxyListenPort: port,
  proxyInboundListenPort: port,
  proxyHttpPort: port,
  connectTimeout: duration(),
  protocolDetectionTimeout: anyDuration(),
  tcpKeepalive: o({ probes: uint32(), time: duration(), interval: duration() }),
  ingressClass: str(),
  ingressService: str(),
  ingressControllerMode: enumOf(['UNSPECIFIED', 'OFF', 'DEFAULT', 'STRICT']),
  ingressSelector: str(),
  enableTracing: bool(),
  accessLogFile: str(),
  accessLogFormat: str(),
  accessLogEncoding: enumOf(['TEXT', 'JSON']),
  enableEnvoyAccessLogService: bool(),
  disableEnvoyListenerLog: bool(),
  defaultConfig: anyValue({ check: (v, p, ctx) => { if (!isPlainObject(v)) ctx.error(p, 'defaultConfig must be a mapping (ProxyConfig)'); } }),
  outboundTrafficPolicy: o({ mode: enumOf(['REGISTRY_ONLY', 'ALLOW_ANY'], { fixes: { REGISTRY_ONLY: 'write mode: REGISTRY_ONLY', ALLOW_ANY: 'write mode: ALLOW_ANY' } }) }),
  inboundTrafficPolicy: o({ mode: enumOf(['PASSTHROUGH', 'LOCALHOST']) }),
  enableAutoMtls: bool(),
  trustDomain: str(),
  trustDomainAliases: stringList(),
  caCertificates: list(anyValue()),
  defaultServiceExportTo: stringList(),
  defaultVirtualServiceExportTo: stringList(),
  defaultDestinationRuleExportTo: stringList(),
  rootNamespace: str(),
  localityLbSetting: localityLbSchema,
  dnsRefreshRate: duration(),
  h2UpgradePolicy: enumOf(['DO_NOT_UPGRADE', 'UPGRADE']),
  inboundClusterStatName: str(),
  outboundClusterStatName: str(),
  serviceSettings: list(anyValue()),
  enablePrometheusMerge: bool(),
  verifyCertificateAtClient: bool(),
  ca: anyValue(),
  extensionProviders: list(o({ name: str({ nonEmpty: true }), ...Object.fromEntries(PROVIDER_KINDS.map((k) => [k, anyValue()])) }, { required: ['name'] })),
  defaultProviders: o({ tracing: stringList(), metrics: stringList(), accessLogging: stringList() }),
  discoverySelectors: list(anyValue()),
  pathNormalization: o({ normalization: enumOf(['DEFAULT', 'NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES']) }),
  defaultHttpRetryPolicy: retriesSchema,
  meshMTLS: anyValue(),
  tlsDefaults: anyValue(),
  serviceScopeConfigs: list(anyValue()),
  configSources: list(anyValue()),
  thriftConfig: anyValue(),
  certificates: list(anyValue()),
  outboundClusterStatNameFormat: str(),
});

/** ValidateTrustDomain: DNS labels, an optional trailing dot. */
function trustDomainError(td: string): string | undefined {
  if (td === '') return 'empty domain name not allowed';
  const parts = td.split('.');
  for (let i = 0; i < parts.length; i++) {
    if (i === parts.length - 1 && parts[i] === '') return undefined;
    if (!isDns1123Label(parts[i]!)) return `trust domain name "${td}" invalid`;
  }
  return undefined;
}

function checkMesh(m: MeshConfig, path: Path, ctx: ValidationContext): void {
  const ct = typeof m.connectTimeout === 'string' ? parseGoDuration(m.connectTimeout) : 0n;
  if (typeof ct === 'bigint' && ct > 3_600_000_000_000n) ctx.error([...path, 'connectTimeout'], `connect timeout ${m.connectTimeout} must be at most 1h`, 'use e.g. 10s');
  if (typeof m.trustDomain === 'string') {
    const e = trustDomainError(m.trustDomain);
    if (e !== undefined) ctx.error([...path, 'trustDomain'], `trustDomain: ${e}`);
  }
  if (shaped(m.trustDomainAliases)) {
    (m.trustDomainAliases ?? []).forEach((td, i) => {
      const e = trustDomainError(td);
      if (e !== undefined) ctx.error([...path, 'trustDomainAliases', i], e);
    });
  }
  if (typeof m.rootNamespace === 'string' && !isDns1123Label(m.rootNamespace)) ctx.error([...path, 'rootNamespace'], `invalid rootNamespace "${m.rootNamespace}"`, 'use a namespace name, e.g. istio-system');
  for (const f of ['defaultServiceExportTo', 'defaultVirtualServiceExportTo', 'defaultDestinationRuleExportTo'] as const) {
    const v = m[f];
    if (Array.isArray(v) && shaped(v)) checkExportTo(v as string[], [...path, f], ctx, { serviceEntry: f === 'defaultServiceExportTo' });
  }
  const lb = m.localityLbSetting;
  if (isPlainObject(lb) && shaped(lb)) checkLocalityLb(lb, [...path, 'localityLbSetting'], ctx, true);
}

export const validateMeshConfig: KindValidator = (body, ctx) => {
  checkIstioDocument(body, meshSchema, ctx, false);
  if (isPlainObject(body.spec)) checkMesh(body.spec as MeshConfig, ['spec'], ctx);
};
