import type { Analyzer } from '../analyzer.js';
import { newMessage } from '../messages.js';
import { refOf, type GW } from '../util.js';

function compatible(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  return Object.entries(a).every(([k, v]) => b[k] === undefined || b[k] === v);
}

/**
 * IST0138: the same certificate (credentialName or serverCertificate file) on servers of
 * several Gateways of one workload. An HTTP/2 client reuses the connection for every host the
 * certificate covers, and lands in the first Gateway's filter chain: 404 (envoy#6767).
 */
export const duplicateCertificateAnalyzer: Analyzer = {
  name: 'gateway.CertificateAnalyzer',
  description: 'No certificate is shared by servers of different Gateways on one workload',
  inputs: ['Gateway'],
  codes: ['IST0138'],
  analyze(ctx) {
    const byCert = new Map<string, { gw: GW; index: number }[]>();
    for (const gw of ctx.list('Gateway')) {
      gw.spec.servers.forEach((s, index) => {
        const t = s.tls;
        if (t === undefined || t.mode === 'PASSTHROUGH' || t.mode === 'AUTO_PASSTHROUGH' || t.mode === 'ISTIO_MUTUAL') return;
        const key = t.credentialName !== undefined ? `secret:${gw.namespace}/${t.credentialName}` : t.serverCertificate !== undefined ? `file:${t.serverCertificate}` : null;
        if (key === null) return;
        const l = byCert.get(key) ?? [];
        l.push({ gw, index });
        byCert.set(key, l);
      });
    }
    for (const list of byCert.values()) {
      for (const x of list) {
        const others = list.filter((y) => y.gw !== x.gw && compatible(y.gw.spec.selector ?? {}, x.gw.spec.selector ?? {}));
        if (others.length === 0) continue;
        const names = [...new Set([x, ...others].map((y) => refOf(y.gw)))].sort();
        ctx.report(newMessage('IST0138', x.gw, ['spec', 'servers', x.index, 'tls'], `Duplicate certificate in multiple gateways [${names.join(', ')}] may cause 404s if clients re-use HTTP2 connections.`, 'serve these hosts from one Gateway (one server per certificate), or give each Gateway its own certificate'));
      }
    }
  },
};
