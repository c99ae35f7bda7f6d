// PeerAuthentication: CRD shape and istio/istio ValidatePeerAuthentication — port-level mTLS
// only with a workload selector, ports 1..65535. (Gateways ignore PeerAuthentication; its
// server-side TLS is the Gateway's tls block.)

import type { PeerAuthenticationSpec } from '../types.js';
import type { KindValidator, ValidationContext } from './context.js';
import { workloadSelectorSchema } from './common.js';
import { checkIstioDocument } from './document.js';
import { enumOf, map, obj } from './schema.js';
import { isPlainObject } from './walk.js';

const mtlsSchema = obj({ mode: enumOf(['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT']) });

const paSpecSchema = obj({
  selector: workloadSelectorSchema,
  mtls: mtlsSchema,
  portLevelMtls: map(mtlsSchema, {
    key: (k) => (/^\d+$/.test(k) && Number(k) >= 1 && Number(k) <= 65535 ? undefined : `port must be in range 1..65535 (found "${k}")`),
  }),
});

function checkPeerAuthentication(spec: PeerAuthenticationSpec, ctx: ValidationContext): void {
  const pl = spec.portLevelMtls;
  if (pl === undefined || !isPlainObject(pl)) return;
  const emptySelector = !isPlainObject(spec.selector) || !isPlainObject(spec.selector.matchLabels) || Object.keys(spec.selector.matchLabels).length === 0;
  if (emptySelector && Object.keys(pl).length > 0) {
    ctx.error(['spec', 'portLevelMtls'], 'mesh/namespace peer authentication cannot have port level mTLS', 'add selector: {matchLabels: {...}} naming the workload whose ports these are');
  }
  if (Object.keys(pl).length === 0) ctx.error(['spec', 'portLevelMtls'], 'port level mTLS, if defined, must have at least one element', 'remove the empty portLevelMtls');
}

export const validatePeerAuthentication: KindValidator = (body, ctx) => {
  checkIstioDocument(body, paSpecSchema, ctx, false);
  if (isPlainObject(body.spec)) checkPeerAuthentication(body.spec as PeerAuthenticationSpec, ctx);
};
