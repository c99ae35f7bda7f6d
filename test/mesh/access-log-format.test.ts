import { describe, expect, it } from 'vitest';
import type { DownstreamConnection } from '../../src/proxy/http/stream.js';
import { HttpStream } from '../../src/proxy/http/stream.js';
import { ResponseFlag } from '../../src/proxy/http/response-flags.js';
import { TcpSession } from '../../src/proxy/tcp/tcp-session.js';
import { compileAccessLogFormat } from '../../src/telemetry/access-log-format.js';
import { parseResolveFlag, DnsResolver } from '../../src/proxy/upstream/dns.js';

const conn = (o: Partial<DownstreamConnection> = {}): DownstreamConnection => ({
  proxy: null as never, remoteAddress: '10.0.0.7', remotePort: 40000, localAddress: '10.0.0.1', localPort: 443,
  listener: null as never, chain: null as never, sni: 'api.example.com', tls: true,
  peerSubject: '', peerUriSans: ['spiffe://cluster.local/ns/default/sa/sleep'], peerCertPem: '', snapshot: null as never, ...o,
});

describe('meshConfig.accessLogFormat', () => {
  it('prints Envoy operators for HTTP, including the caller\'s SPIFFE identity', () => {
    const f = compileAccessLogFormat('%DOWNSTREAM_PEER_URI_SAN% %REQ(:METHOD)% %REQ(:AUTHORITY)%%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% %UPSTREAM_CLUSTER% %REQ(USER-AGENT):4% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% 100%');
    const s = new HttpStream(conn(), null as never, null as never);
    s.method = 'GET'; s.authority = 'api.example.com'; s.path = '/v1?x=1'; s.headers = ['user-agent', 'curl/8'];
    s.responseCode = 503; s.responseFlags = ResponseFlag.UF | ResponseFlag.URX; s.clusterName = 'outbound|443||api.example.com';
    expect(f.unknown).toEqual([]);
    expect(f.http(s)).toBe('spiffe://cluster.local/ns/default/sa/sleep GET api.example.com/v1?x=1 503 URX,UF outbound|443||api.example.com curl 10.0.0.7:40000 api.example.com 100%\n');
  });

  it('prints TCP sessions with code 0, the CONNECT authority, and - for HTTP-only fields', () => {
    const f = compileAccessLogFormat('%REQ(:METHOD)% %REQ(:AUTHORITY)% %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %DOWNSTREAM_PEER_URI_SAN%\n');
    const t = new TcpSession(conn({ peerUriSans: [] }));
    t.authority = 'db.example.com:5432'; t.bytesReceived = 17; t.responseFlags = ResponseFlag.UH;
    expect(f.tcp(t)).toBe('- db.example.com:5432 0 UH 17 -\n');
  });

  it('lists operators it does not know (printed as -)', () => {
    const f = compileAccessLogFormat('%NOT_AN_OPERATOR% %UPSTREAM_HOST%');
    expect(f.unknown).toEqual(['%NOT_AN_OPERATOR%']);
  });
});

describe('--resolve HOST:PORT=IP:PORT', () => {
  it('redirects one host and port; HOST=IP keeps the port', async () => {
    const m = parseResolveFlag(['api.example.com:443=127.0.0.1:9443,db.example.com=127.0.0.9', '*.svc.example.com:80=[::1]:8080']);
    const dns = new DnsResolver(m);
    const at = (h: string, p: number) => new Promise((r) => dns.resolveEndpoint(h, p, (_e, eps) => r(eps)));
    expect(await at('api.example.com', 443)).toEqual([{ address: '127.0.0.1', port: 9443 }]);
    expect(await at('db.example.com', 5432)).toEqual([{ address: '127.0.0.9', port: 5432 }]);
    expect(await at('a.svc.example.com', 80)).toEqual([{ address: '::1', port: 8080 }]);
    expect(() => parseResolveFlag(['api.example.com:443=127.0.0.1'])).toThrow(/expected HOST:PORT=IP:PORT/);
  });
});
