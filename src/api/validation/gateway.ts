// Gateway: CRD shape plus istio/istio ValidateGateway / validateServer / validateServerPort /
// validateServerBind. TLS rules live in gateway-tls.ts.

import type { Server } from '../types.js';
import type { KindValidator, Path, ValidationContext } from './context.js';
import { protocolClass, protocolSchema } from './common.js';
import { checkIstioDocument } from './document.js';
import { checkServerTls, serverTlsSchema } from './gateway-tls.js';
import { hostFix, isDns1123Label, isIpAddress, namespacedHostErrors } from './names.js';
import { portError } from './net.js';
import { list, map, obj, str, stringList, uint32 } from './schema.js';
import { cleanItems, isPlainObject, shaped } from './walk.js';

export const CODE_UNSUPPORTED = 'SLU0120';

const portSchema = obj(
  { number: uint32(), protocol: protocolSchema, name: str({ nonEmpty: true }), targetPort: uint32() },
  { required: ['number', 'protocol', 'name'] },
);

const serverSchema = obj(
  {
    port: portSchema,
    bind: str(),
    hosts: stringList({ minItems: 1 }),
    tls: serverTlsSchema,
    defaultEndpoint: str(),
    name: str(),
  },
  { required: ['port', 'hosts'], check: checkServer },
);

const gatewaySpecSchema = obj({ selector: map(str()), servers: list(serverSchema, { minItems: 1 }) }, { required: ['servers'] });

function checkServer(s: Server, path: Path, ctx: ValidationContext): void {
  s.hosts.forEach((h, i) => {
    for (const e of namespacedHostErrors(h, true)) ctx.error([...path, 'hosts', i], e, `${hostFix(h.slice(h.indexOf('/') + 1))}; hosts are [namespace/]dnsName, e.g. "api.example.com", "prod/*.example.com" or "*"`);
  });
  const unix = s.bind?.startsWith('unix://') === true;
  if (s.port.number > 0 || !unix) {
    const e = portError(s.port.number);
    if (e !== undefined) ctx.error([...path, 'port', 'number'], e);
  }
  if (s.port.targetPort !== undefined && s.port.targetPort > 0) {
    ctx.error([...path, 'port', 'targetPort'], 'targetPort has no impact on Gateways', 'remove targetPort; the gateway Service maps the port (Sluice: --port-map)');
  }
  if (s.bind !== undefined && s.bind !== '') {
    if (unix) {
      const p = s.bind.slice('unix://'.length);
      if (p === '' || (!p.startsWith('@') && (!p.startsWith('/') || p.endsWith('/')))) ctx.error([...path, 'bind'], `${p} is not an absolute path to a file`);
      if (s.port.number !== 0) ctx.error([...path, 'port', 'number'], 'port number must be 0 for unix domain socket');
    } else if (!isIpAddress(s.bind)) {
      ctx.error([...path, 'bind'], `${s.bind} is not a valid IP`);
    }
  }
  const proto = s.port.protocol.toUpperCase();
  if (proto === 'UDP' || proto === 'HTTP_PROXY') {
    ctx.warning([...path, 'port', 'protocol'], `protocol ${proto} is accepted by Istio but gateways (and Sluice) serve no listener for it`, 'use HTTP, HTTPS, HTTP2, GRPC, TLS or TCP', CODE_UNSUPPORTED);
  }
  checkServerTls(s, path, ctx);
  if (s.tls?.httpsRedirect === true && protocolClass(proto) !== 'http') {
    ctx.warning([...path, 'tls', 'httpsRedirect'], 'tls.httpsRedirect should only be used with http servers', 'put httpsRedirect: true on the plain HTTP server (port 80) and remove it here');
  }
}

/** Cross-server rules; runs after the walk on the well-shaped servers only. */
function checkGatewaySpec(raw: Record<string, unknown>, path: Path, ctx: ValidationContext): void {
  const portNames = new Map<string, number>();
  const serverNames = new Map<string, number>();
  for (const [s, i] of cleanItems(raw.servers as Server[])) {
    const prev = portNames.get(s.port.name);
    if (prev !== undefined) ctx.error([...path, 'servers', i, 'port', 'name'], `port names in servers must be unique: duplicate name ${s.port.name} (also servers[${prev}])`, `rename it, e.g. "${s.port.name}-${s.port.number}"`);
    else portNames.set(s.port.name, i);
    if (s.name !== undefined && s.name !== '') {
      const p = serverNames.get(s.name);
      if (p !== undefined) ctx.warning([...path, 'servers', i, 'name'], `server name "${s.name}" is also used by servers[${p}]; stats prefixes will collide`, 'give each server a unique name');
      else serverNames.set(s.name, i);
    }
  }
  const selector = shaped(raw.selector) ? (raw.selector as Record<string, string>) : {};
  for (const [k, v] of Object.entries(selector)) {
    if (k === '') ctx.error([...path, 'selector', k], 'empty label key in selector');
    if (v.includes('*')) ctx.error([...path, 'selector', k], `wildcard is not supported in selector: "${k}=${v}"`);
  }
}

export const validateGateway: KindValidator = (body, ctx) => {
  const name = ctx.resource.metadata.name;
  if (!isDns1123Label(name)) ctx.error(['metadata', 'name'], `invalid gateway name: "${name}" (must be a DNS label: no dots)`, `rename it, e.g. "${name.toLowerCase().replace(/[^a-z0-9-]/g, '-')}"`);
  checkIstioDocument(body, gatewaySpecSchema, ctx, true);
  if (isPlainObject(body.spec)) checkGatewaySpec(body.spec, ['spec'], ctx);
};
