import type { Analyzer } from '../analyzer.js';
import { newMessage } from '../messages.js';

/**
 * IST0134 (Istio's serviceentry.ProtocolAddressesAnalyzer): a TCP (or protocol-less) port on a
 * ServiceEntry without `addresses` makes sidecars capture all traffic to that port number
 * (0.0.0.0:<port>) for this host.
 */
export const addressesRequiredAnalyzer: Analyzer = {
  name: 'serviceentry.ProtocolAddressesAnalyzer',
  description: 'TCP ServiceEntry ports come with addresses',
  inputs: ['ServiceEntry'],
  codes: ['IST0134'],
  analyze(ctx) {
    for (const se of ctx.list('ServiceEntry')) {
      if ((se.spec.addresses ?? []).length > 0) continue;
      (se.spec.ports ?? []).forEach((p, i) => {
        const proto = (p.protocol ?? '').toUpperCase();
        if (proto !== '' && proto !== 'TCP') return;
        ctx.report(newMessage('IST0134', se, ['spec', 'ports', i, 'protocol'], `ServiceEntry addresses are required for this protocol (port ${p.number} ${proto === '' ? 'without protocol' : 'TCP'}): without them sidecars send all traffic to port ${p.number} here`, 'add spec.addresses (a VIP or CIDR for the host), or declare the port\'s real protocol (HTTP, HTTPS, TLS)'));
      });
    }
  },
};
