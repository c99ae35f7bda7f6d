// Sidecar: CRD shape and istio/istio ValidateSidecar — ingress/egress listeners (ports, binds,
// unix sockets, the trailing catch-all egress listener), `ns/host` egress hosts, and the
// outbound traffic policy (egressProxy only with ALLOW_ANY). Sluice acts on Sidecar only in
// sidecar mode; gateways ignore it (as Istio's do).

import type { SidecarSpec } from '../types.js';
import type { KindValidator, Path, ValidationContext } from './context.js';
import { alphaWorkloadSelectorSchema, destinationSchema, protocolSchema } from './common.js';
import { checkIstioDocument } from './document.js';
import { serverTlsSchema } from './gateway-tls.js';
import { fqdnError, isDns1123Label, isIpAddress, namespacedHostErrors } from './names.js';
import { portError } from './net.js';
import { enumOf, list, obj, str, stringList, uint32 } from './schema.js';
import { connectionPoolSchema } from './traffic-policy.js';
import { cleanItems, isPlainObject, shaped } from './walk.js';
import { unixAddressError } from './workload-entry.js';

const sidecarPortSchema = obj({ number: uint32(), protocol: protocolSchema, name: str(), targetPort: uint32() });
const captureMode = enumOf(['DEFAULT', 'IPTABLES', 'NONE']);

const sidecarSpecSchema = obj({
  workloadSelector: alphaWorkloadSelectorSchema,
  ingress: list(obj({ port: sidecarPortSchema, bind: str(), captureMode, defaultEndpoint: str(), tls: serverTlsSchema, connectionPool: connectionPoolSchema }, { required: ['port'] })),
  egress: list(obj({ port: sidecarPortSchema, bind: str(), captureMode, hosts: stringList({ minItems: 1 }) }, { required: ['hosts'] })),
  inboundConnectionPool: connectionPoolSchema,
  outboundTrafficPolicy: obj({ mode: enumOf(['REGISTRY_ONLY', 'ALLOW_ANY']), egressProxy: destinationSchema }),
});

interface SidecarPort {
  number?: number;
  protocol?: string;
  name?: string;
  targetPort?: number;
}

function checkPortAndBind(port: SidecarPort, bind: string | undefined, path: Path, ctx: ValidationContext, egress: boolean, mode?: string): void {
  if (port.name !== undefined && port.name !== '' && !isDns1123Label(port.name)) ctx.error([...path, 'port', 'name'], `invalid port name: "${port.name}"`);
  if ((port.targetPort ?? 0) > 0) ctx.error([...path, 'port', 'targetPort'], 'targetPort has no impact on Sidecars');
  const b = bind ?? '';
  if (egress && (port.number ?? 0) === 0) {
    if (!b.startsWith('unix://')) ctx.error([...path, 'bind'], 'sidecar: ports with 0 value must have a unix domain socket bind address', 'set bind: unix:///path/to/socket, or a port number');
    else {
      const e = unixAddressError(b.slice('unix://'.length));
      if (e !== undefined) ctx.error([...path, 'bind'], e);
    }
    if (mode !== undefined && mode !== 'DEFAULT' && mode !== 'NONE') ctx.error([...path, 'captureMode'], 'sidecar: captureMode must be DEFAULT/NONE for unix domain socket listeners');
    return;
  }
  const e = portError(port.number ?? 0);
  if (e !== undefined) ctx.error([...path, 'port', 'number'], e);
  if (b !== '' && !isIpAddress(b)) ctx.error([...path, 'bind'], `${b} is not a valid IP`);
}

function checkDefaultEndpoint(ep: string, path: Path, ctx: ValidationContext): void {
  if (ep.startsWith('unix://')) {
    const e = unixAddressError(ep.slice('unix://'.length));
    if (e !== undefined) ctx.error(path, e);
    return;
  }
  const m = /^(?:\[([^\]]*)\]|([^:]*)):(\d+)$/.exec(ep);
  const host = m?.[1] ?? m?.[2];
  if (m === null || !['', '127.0.0.1', '0.0.0.0', '::1', '::'].includes(host ?? 'x')) {
    ctx.error(path, 'sidecar: defaultEndpoint must be of form 127.0.0.1:<port>,0.0.0.0:<port>,[::1]:port,[::]:port,unix://filepath or unset');
    return;
  }
  const e = portError(Number(m[3]));
  if (e !== undefined) ctx.error(path, e);
}

type Egress = NonNullable<SidecarSpec['egress']>[number];

function checkSidecar(spec: Record<string, unknown>, ctx: ValidationContext): void {
  const count = (x: unknown): number => (Array.isArray(x) ? x.length : 0);
  const egressCount = count(spec.egress);
  if (count(spec.ingress) === 0 && egressCount === 0 && spec.outboundTrafficPolicy === undefined && spec.inboundConnectionPool === undefined) {
    ctx.error(['spec'], 'sidecar: empty configuration provided', 'add egress hosts, ingress listeners or outboundTrafficPolicy');
  }
  const ports = new Set<number>();
  for (const [raw, i] of cleanItems(spec.ingress as unknown[])) {
    const ing = raw as { port: SidecarPort; bind?: string; defaultEndpoint?: string; tls?: { subjectAltNames?: string[]; httpsRedirect?: boolean; credentialName?: string; mode?: string } };
    const p = ['spec', 'ingress', i];
    checkPortAndBind(ing.port, ing.bind, p, ctx, false);
    if (ing.port.number !== undefined && ports.has(ing.port.number)) ctx.error([...p, 'port', 'number'], 'sidecar: ports on IP bound listeners must be unique');
    if (ing.port.number !== undefined) ports.add(ing.port.number);
    if (ing.defaultEndpoint !== undefined && ing.defaultEndpoint !== '') checkDefaultEndpoint(ing.defaultEndpoint, [...p, 'defaultEndpoint'], ctx);
    const tls = ing.tls;
    if (tls !== undefined) {
      if ((tls.subjectAltNames?.length ?? 0) > 0) ctx.error([...p, 'tls', 'subjectAltNames'], 'sidecar: subjectAltNames is not supported in ingress tls');
      if (tls.httpsRedirect === true) ctx.error([...p, 'tls', 'httpsRedirect'], 'sidecar: httpsRedirect is not supported');
      if ((tls.credentialName ?? '') !== '') ctx.error([...p, 'tls', 'credentialName'], 'sidecar: credentialName is not currently supported');
      if (tls.mode === 'ISTIO_MUTUAL' || tls.mode === 'AUTO_PASSTHROUGH') ctx.error([...p, 'tls', 'mode'], `configuration is invalid: cannot set mode to ${tls.mode} in sidecar ingress tls`);
    }
  }
  const egressPorts = new Set<number>();
  const sockets = new Set<string>();
  let catchAll = false;
  for (const [e, i] of cleanItems(spec.egress as Egress[])) {
    const p = ['spec', 'egress', i];
    if (e.port === undefined) {
      if (catchAll) ctx.error(p, 'sidecar: egress can have only one listener with empty port');
      else if (i !== egressCount - 1) ctx.error(p, 'sidecar: the egress listener with empty port should be the last listener in the list', 'move it to the end');
      catchAll = true;
    } else {
      checkPortAndBind(e.port, e.bind, p, ctx, true, e.captureMode);
      const n = e.port.number ?? 0;
      if (n === 0) {
        if (sockets.has(e.bind ?? '')) ctx.error([...p, 'bind'], 'sidecar: unix domain socket values for listeners must be unique');
        sockets.add(e.bind ?? '');
      } else {
        if (egressPorts.has(n)) ctx.error([...p, 'port', 'number'], 'sidecar: ports on IP bound listeners must be unique');
        egressPorts.add(n);
      }
    }
    e.hosts.forEach((h, j) => {
      for (const msg of namespacedHostErrors(h, false)) ctx.error([...p, 'hosts', j], msg, 'write egress hosts as namespace/dnsName, e.g. "./*", "istio-system/*" or "*/api.example.com"');
    });
  }
  const otp = shaped(spec.outboundTrafficPolicy) ? (spec.outboundTrafficPolicy as NonNullable<SidecarSpec['outboundTrafficPolicy']>) : undefined;
  if (otp?.egressProxy !== undefined) {
    const p = ['spec', 'outboundTrafficPolicy', 'egressProxy'];
    if (otp.mode !== 'ALLOW_ANY') ctx.error(p, 'sidecar: egress_proxy must be set only with ALLOW_ANY outbound_traffic_policy mode', 'set mode: ALLOW_ANY');
    const fe = fqdnError(otp.egressProxy.host);
    if (fe !== undefined) ctx.error([...p, 'host'], fe);
    if (otp.egressProxy.port === undefined) ctx.error([...p, 'port'], 'sidecar: egress_proxy port must be non-nil');
  }
}

export const validateSidecar: KindValidator = (body, ctx) => {
  checkIstioDocument(body, sidecarSpecSchema, ctx, true);
  if (isPlainObject(body.spec)) checkSidecar(body.spec, ctx);
};
