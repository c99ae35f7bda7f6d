import type { Analyzer } from '../analyzer.js';
import { newMessage } from '../messages.js';

/**
 * IST0128/IST0129 (Istio's destinationrule.CaCertificateAnalyzer): TLS origination SIMPLE or
 * MUTUAL without caCertificates or credentialName. Since Istio 1.21 (and in Sluice) the
 * upstream is then verified against the system roots, so this only matters for private CAs;
 * `insecureSkipVerify: true` really turns verification off and is reported too.
 */
export const caCertificatesAnalyzer: Analyzer = {
  name: 'destinationrule.CaCertificateAnalyzer',
  description: 'TLS origination names the CA that verifies the upstream',
  inputs: ['DestinationRule'],
  codes: ['IST0128', 'IST0129'],
  analyze(ctx) {
    for (const dr of ctx.list('DestinationRule')) {
      const top = dr.spec.trafficPolicy?.tls;
      const check = (tls: typeof top, path: (string | number)[], port: number | undefined): void => {
        if (tls?.mode !== 'SIMPLE' && tls?.mode !== 'MUTUAL') return;
        const skip = tls.insecureSkipVerify === true;
        if (!skip && (tls.caCertificates !== undefined || tls.credentialName !== undefined)) return;
        const code = port === undefined ? 'IST0128' : 'IST0129';
        const base = `DestinationRule ${dr.name} in namespace ${dr.namespace} has TLS mode set to ${tls.mode} but no caCertificates are set to validate server identity for host: ${dr.spec.host}${port !== undefined ? ` at port ${port}` : ''}`;
        ctx.report(skip
          ? newMessage(code, dr, [...path, 'insecureSkipVerify'], `${base}; insecureSkipVerify is true, so the server certificate is not verified at all`, 'remove insecureSkipVerify and set caCertificates (or credentialName) to the CA that signs the upstream')
          : newMessage(code, dr, [...path, 'mode'], `${base} (the system roots verify it since Istio 1.21)`, 'set caCertificates or credentialName when the upstream uses a private CA', 'info'));
      };
      check(top, ['spec', 'trafficPolicy', 'tls'], undefined);
      (dr.spec.trafficPolicy?.portLevelSettings ?? []).forEach((p, i) => check(p.tls, ['spec', 'trafficPolicy', 'portLevelSettings', i, 'tls'], p.port?.number));
    }
  },
};
