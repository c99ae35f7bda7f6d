// DestinationRule TrafficPolicy (also used per subset and per port): load balancer, connection
// pool, outlier detection, client TLS, tunnel, PROXY protocol. Mirrors istio/istio
// validateTrafficPolicy and its helpers, plus the placement hints for fields written one level
// off (the seed's mistake (f): h2UpgradePolicy outside connectionPool.http).

import type { ClientTLSSettings, ConnectionPoolSettings, LoadBalancerSettings, OutlierDetection, TrafficPolicy } from '../types.js';
import type { Path, ValidationContext } from './context.js';
import { portSelectorSchema } from './common.js';
import { checkLocalityLb, localityLbSchema } from './locality.js';
import { fqdnError, isIpAddress } from './names.js';
import { anyDuration, bool, duration, enumOf, int32, list, num, obj, str, stringList, uint32, type ObjectSchema } from './schema.js';

// ------------------------------------------------------------------ connection pool

const nonNegative = int32({ min: 0 });

const tcpPoolFields = {
  maxConnections: nonNegative,
  connectTimeout: duration(),
  tcpKeepalive: obj({ probes: uint32(), time: duration(), interval: duration() }),
  maxConnectionDuration: duration(),
  idleTimeout: duration(),
};
const httpPoolFields = {
  http1MaxPendingRequests: nonNegative,
  http2MaxRequests: nonNegative,
  maxRequestsPerConnection: nonNegative,
  maxRetries: nonNegative,
  idleTimeout: duration(),
  h2UpgradePolicy: enumOf(['DEFAULT', 'DO_NOT_UPGRADE', 'UPGRADE']),
  useClientProtocol: bool(),
  maxConcurrentStreams: nonNegative,
};

/** Fix text for a pool field written in the wrong block. */
function placement(fields: Record<string, unknown>, block: 'tcp' | 'http'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of Object.keys(fields)) {
    out[f] = f === 'h2UpgradePolicy'
      ? 'h2UpgradePolicy is an HTTP setting: move it under connectionPool.http (it upgrades HTTP/1.1 requests to HTTP/2 towards the upstream)'
      : `${f} is a ${block.toUpperCase()} setting: move it under connectionPool.${block}`;
  }
  return out;
}

function checkPool(p: ConnectionPoolSettings, path: Path, ctx: ValidationContext): void {
  if (p.http === undefined && p.tcp === undefined) ctx.error(path, 'connection pool must have at least one field', 'add tcp: {...} and/or http: {...}, or remove connectionPool');
  if (p.http?.h2UpgradePolicy === 'UPGRADE' && p.http.useClientProtocol === true) {
    ctx.error([...path, 'http', 'useClientProtocol'], 'use client protocol must not be true when H2UpgradePolicy is UPGRADE', 'keep one: UPGRADE forces HTTP/2 upstream, useClientProtocol mirrors the downstream protocol');
  }
}

export const connectionPoolSchema = obj(
  {
    tcp: obj(tcpPoolFields, { hints: placement(httpPoolFields, 'http') }),
    http: obj(httpPoolFields, { hints: placement(tcpPoolFields, 'tcp') }),
  },
  { hints: { ...placement(tcpPoolFields, 'tcp'), ...placement(httpPoolFields, 'http') }, check: checkPool },
);

// ------------------------------------------------------------------ load balancer

function isPrime(x: number): boolean {
  if (x !== 0 && x < 4) return true;
  if (x % 2 === 0) return false;
  for (let f = 3; f * f <= x; f += 2) if (x % f === 0) return false;
  return true;
}

function checkLoadBalancer(lb: LoadBalancerSettings & { localityLbSetting?: unknown }, path: Path, ctx: ValidationContext): void {
  if (lb.simple === 'LEAST_CONN') ctx.warning([...path, 'simple'], 'LEAST_CONN is deprecated', 'use LEAST_REQUEST (the default since Istio 1.14)', 'SLU0103');
  const ch = lb.consistentHash;
  if (ch === undefined) return;
  const cp = [...path, 'consistentHash'];
  if (ch.minimumRingSize !== undefined && ch.minimumRingSize !== 0 && (ch.ringHash !== undefined || ch.maglev !== undefined)) {
    ctx.error([...cp, 'minimumRingSize'], 'only one of minimumRingSize or maglev/ringHash can be specified', 'move the value to ringHash.minimumRingSize');
  }
  const ml = ch.maglev;
  if (ml !== undefined) {
    const size = ml.tableSize ?? 0;
    if (size === 0) ctx.error([...cp, 'maglev', 'tableSize'], 'tableSize must be set for maglev', 'use a prime, e.g. 65537');
    else if (size >= 5000011) ctx.error([...cp, 'maglev', 'tableSize'], 'tableSize must be less than 5000011 for maglev');
    else if (!isPrime(size)) ctx.error([...cp, 'maglev', 'tableSize'], `tableSize ${size} must be a prime number for maglev`, 'use a prime, e.g. 65537');
  }
  if (ch.httpHeaderName === undefined && ch.httpCookie === undefined && ch.useSourceIp === undefined && ch.httpQueryParameterName === undefined) {
    ctx.error(cp, 'consistentHash needs a hash key', 'set one of httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName');
  }
}

export function loadBalancerSchema(): ObjectSchema {
  return obj(
    {
      simple: enumOf(['UNSPECIFIED', 'LEAST_CONN', 'RANDOM', 'PASSTHROUGH', 'ROUND_ROBIN', 'LEAST_REQUEST']),
      consistentHash: obj(
        {
          httpHeaderName: str(),
          httpCookie: obj({ name: str({ nonEmpty: true }), path: str(), ttl: anyDuration(), attributes: list(obj({ name: str(), value: str() })) }, { required: ['name'] }),
          useSourceIp: bool(),
          httpQueryParameterName: str(),
          ringHash: obj({ minimumRingSize: uint32({ max: Number.MAX_SAFE_INTEGER }) }),
          maglev: obj({ tableSize: uint32({ max: Number.MAX_SAFE_INTEGER }) }),
          minimumRingSize: uint32({ max: Number.MAX_SAFE_INTEGER, deprecated: 'consistent hash minimumRingSize is deprecated, use ringHash.minimumRingSize instead' }),
        },
        { oneOf: [['httpHeaderName', 'httpCookie', 'useSourceIp', 'httpQueryParameterName'], ['ringHash', 'maglev']] },
      ),
      localityLbSetting: localityLbSchema,
      warmupDurationSecs: duration(),
      warmup: obj({ duration: duration(), minimumPercent: num({ min: 0, max: 100 }), aggression: num({ min: 1 }) }),
    },
    { oneOf: [['simple', 'consistentHash']], check: checkLoadBalancer },
  );
}

// ------------------------------------------------------------------ outlier detection

function checkOutlier(o: OutlierDetection, path: Path, ctx: ValidationContext): void {
  if (o.consecutiveErrors !== undefined && o.consecutiveErrors !== 0) {
    ctx.warning([...path, 'consecutiveErrors'], 'outlier detection consecutive errors is deprecated, use consecutiveGatewayErrors or consecutive5xxErrors instead', undefined, 'SLU0103');
  }
  if (o.splitExternalLocalOriginErrors !== true && (o.consecutiveLocalOriginFailures ?? 0) > 0) {
    ctx.error([...path, 'consecutiveLocalOriginFailures'], 'outlier detection consecutive local origin failures is specified, but split external local origin errors is set to false', 'add splitExternalLocalOriginErrors: true');
  }
}

const outlierSchema = obj(
  {
    splitExternalLocalOriginErrors: bool(),
    consecutiveLocalOriginFailures: uint32(),
    consecutiveGatewayErrors: uint32(),
    consecutive5xxErrors: uint32(),
    interval: duration(),
    baseEjectionTime: duration(),
    maxEjectionPercent: int32({ min: 0, max: 100 }),
    minHealthPercent: int32({ min: 0, max: 100 }),
    consecutiveErrors: int32(),
  },
  { check: checkOutlier },
);

// ------------------------------------------------------------------ client TLS

const set = (s: string | undefined): boolean => s !== undefined && s !== '';

/** agent.ValidateTLS plus the ISTIO_MUTUAL rule. */
function checkClientTls(t: ClientTLSSettings, path: Path, ctx: ValidationContext): void {
  const files = (['clientCertificate', 'privateKey', 'caCertificates', 'caCrl'] as const).filter((f) => set(t[f]));
  if (t.mode === 'ISTIO_MUTUAL') {
    for (const f of [...files, ...(set(t.credentialName) ? ['credentialName'] : [])]) {
      ctx.error([...path, f], `ISTIO_MUTUAL cannot have ${f}: the proxy's own mesh certificate is used`, 'remove it; only sni and subjectAltNames apply to ISTIO_MUTUAL');
    }
    return;
  }
  if (t.insecureSkipVerify === true) {
    if (t.mode === 'SIMPLE' && (set(t.caCertificates) || set(t.credentialName) || t.subjectAltNames !== undefined)) {
      ctx.error([...path, 'insecureSkipVerify'], 'cannot specify caCertificates or credentialName or subjectAltNames when insecureSkipVerify is set true', 'remove the verification settings, or insecureSkipVerify');
    }
    if (t.mode === 'MUTUAL' && (set(t.caCertificates) || t.subjectAltNames !== undefined)) {
      ctx.error([...path, 'insecureSkipVerify'], 'cannot specify caCertificates or subjectAltNames when insecureSkipVerify is set true', 'remove the verification settings, or insecureSkipVerify');
    }
  }
  if ((t.mode === 'SIMPLE' || t.mode === 'MUTUAL') && set(t.credentialName)) {
    if (files.length > 0) ctx.error([...path, files[0]!], 'cannot specify client certificates or CA certificate or CA CRL if credentialName is set', `remove ${files.join(', ')}; put the material into Secret "${t.credentialName}"`);
    return;
  }
  if (t.mode === 'MUTUAL') {
    if (!set(t.clientCertificate)) ctx.error([...path, 'clientCertificate'], 'client certificate required for mutual tls', 'set clientCertificate + privateKey, or credentialName');
    if (!set(t.privateKey)) ctx.error([...path, 'privateKey'], 'private key required for mutual tls', 'set privateKey, or credentialName');
  }
}

export const clientTlsSchema = obj(
  {
    mode: enumOf(['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL']),
    clientCertificate: str(),
    privateKey: str(),
    caCertificates: str(),
    credentialName: str(),
    subjectAltNames: stringList(),
    sni: str(),
    insecureSkipVerify: bool(),
    caCrl: str(),
  },
  { check: checkClientTls },
);

// ------------------------------------------------------------------ traffic policy

function checkTunnel(t: { protocol?: string; targetHost?: string; targetPort?: number }, path: Path, ctx: ValidationContext): void {
  if (t.protocol !== undefined && t.protocol !== '' && t.protocol !== 'CONNECT' && t.protocol !== 'POST') ctx.error([...path, 'protocol'], 'tunnel protocol must be "CONNECT" or "POST"');
  const host = t.targetHost ?? '';
  if (fqdnError(host) !== undefined && !isIpAddress(host)) ctx.error([...path, 'targetHost'], `tunnel target host must be valid FQDN or IP address: "${host}"`);
  if (t.targetPort === undefined || t.targetPort < 1 || t.targetPort > 65535) ctx.error([...path, 'targetPort'], `tunnel target port is invalid: ${t.targetPort ?? 0}`);
}

const POLICY_PARTS = ['loadBalancer', 'connectionPool', 'outlierDetection', 'tls'] as const;

function checkPortPolicy(p: TrafficPolicy, path: Path, ctx: ValidationContext): void {
  if (!POLICY_PARTS.some((f) => p[f] !== undefined)) ctx.error(path, 'port traffic policy must have at least one field', 'add loadBalancer, connectionPool, outlierDetection or tls');
}

function checkTrafficPolicy(p: TrafficPolicy & { retryBudget?: unknown }, path: Path, ctx: ValidationContext): void {
  const any = POLICY_PARTS.some((f) => p[f] !== undefined) || p.portLevelSettings !== undefined || p.tunnel !== undefined || p.proxyProtocol !== undefined || p.retryBudget !== undefined;
  if (!any) ctx.error(path, 'traffic policy must have at least one field', 'remove the empty trafficPolicy');
  if (p.tunnel !== undefined && p.proxyProtocol !== undefined) ctx.error([...path, 'proxyProtocol'], 'tunnel and proxyProtocol must not be set together');
  if (p.loadBalancer?.localityLbSetting !== undefined) {
    checkLocalityLb(p.loadBalancer.localityLbSetting, [...path, 'loadBalancer', 'localityLbSetting'], ctx, p.outlierDetection !== undefined);
  }
  const ports = new Map<number, number>();
  (p.portLevelSettings ?? []).forEach((pl, i) => {
    if (pl.loadBalancer?.localityLbSetting !== undefined) {
      checkLocalityLb(pl.loadBalancer.localityLbSetting, [...path, 'portLevelSettings', i, 'loadBalancer', 'localityLbSetting'], ctx, pl.outlierDetection !== undefined);
    }
    const n = pl.port?.number;
    if (n === undefined) return;
    const prev = ports.get(n);
    if (prev !== undefined) ctx.error([...path, 'portLevelSettings', i, 'port', 'number'], `port ${n} already has settings in portLevelSettings[${prev}]`, 'merge the two entries');
    else ports.set(n, i);
  });
}

const policyParts = {
  loadBalancer: loadBalancerSchema(),
  connectionPool: connectionPoolSchema,
  outlierDetection: outlierSchema,
  tls: clientTlsSchema,
};

export const trafficPolicySchema = obj(
  {
    ...policyParts,
    portLevelSettings: list(obj({ port: portSelectorSchema, ...policyParts }, { required: ['port'], check: checkPortPolicy })),
    tunnel: obj({ protocol: str(), targetHost: str(), targetPort: uint32() }, { check: checkTunnel }),
    proxyProtocol: obj({ version: enumOf(['V1', 'V2']) }),
    retryBudget: obj({ percent: num({ min: 0, max: 100 }), minRetryConcurrency: uint32() }),
  },
  { check: checkTrafficPolicy },
);

