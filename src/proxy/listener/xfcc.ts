import { getHeader, removeHeader, type HeaderList } from '../http/headers.js';
import type { DownstreamConnection } from '../http/stream.js';

/**
 * `x-forwarded-client-cert` at the edge, per the chain's forwardClientCertDetails (Envoy's
 * HCM semantics; Istio's gateway default SANITIZE_SET): without a client certificate every
 * mode but ALWAYS_FORWARD_ONLY drops what the client sent; with one, SANITIZE_SET replaces it
 * with this connection's element, APPEND_FORWARD appends it, FORWARD_ONLY keeps the header.
 */
export function applyForwardClientCert(h: HeaderList, conn: DownstreamConnection): void {
  const mode = conn.chain.forwardClientCertDetails ?? 'SANITIZE_SET';
  const mine = conn.xfcc ?? '';
  if (mode === 'ALWAYS_FORWARD_ONLY') return;
  if (mine === '' || mode === 'SANITIZE') { removeHeader(h, 'x-forwarded-client-cert'); return; }
  if (mode === 'FORWARD_ONLY') return;
  if (mode === 'APPEND_FORWARD') {
    const prev = getHeader(h, 'x-forwarded-client-cert');
    removeHeader(h, 'x-forwarded-client-cert');
    h.push('x-forwarded-client-cert', prev === undefined || prev === '' ? mine : `${prev},${mine}`);
    return;
  }
  removeHeader(h, 'x-forwarded-client-cert');
  h.push('x-forwarded-client-cert', mine);
}
