import { describe, expect, it } from 'vitest';
import type { DownstreamConnection } from '../../src/proxy/http/stream.js';
import { HttpStream } from '../../src/proxy/http/stream.js';
import { ResponseFlag } from '../../src/proxy/http/response-flags.js';
import { TcpSession } from '../../src/proxy/tcp/tcp-session.js';
import { Attributes } from '../../src/telemetry/cel/attributes.js';
import { celValueToString, compileCel, ERROR } from '../../src/telemetry/cel/expression.js';
import { compileJsonAccessLogFormat, ISTIO_JSON_LABELS } from '../../src/telemetry/access-log-format.js';

const conn = (o: Partial<DownstreamConnection> = {}): DownstreamConnection => ({
  proxy: null as never, remoteAddress: '10.0.0.7', remotePort: 40000, localAddress: '10.0.0.1', localPort: 443,
  listener: { name: '0.0.0.0_443', port: 443 } as never, chain: { name: 'https.443' } as never, sni: 'api.example.com', tls: true,
  peerSubject: 'CN=client', peerUriSans: ['spiffe://cluster.local/ns/default/sa/sleep'], peerCertPem: '-----BEGIN CERTIFICATE-----', tlsVersion: 'TLSv1.3', snapshot: null as never, ...o,
});

function stream(): HttpStream {
  const s = new HttpStream(conn(), null as never, null as never);
  s.method = 'POST'; s.authority = 'api.example.com'; s.path = '/v1beta3/items?page=2'; s.scheme = 'https';
  s.headers = ['User-Agent', 'curl/8', 'X-User', 'alice', 'x-multi', 'a', 'X-Multi', 'b'];
  s.requestId = '6f1c1f7e-0000-4000-8000-000000000000';
  s.responseCode = 503; s.responseFlags = ResponseFlag.UF | ResponseFlag.URX; s.details = 'upstream_reset_before_response_started{connection_failure}';
  s.bytesReceived = 12; s.bytesSent = 91; s.clusterName = 'outbound|8080||api.default.svc.cluster.local'; s.upstreamHost = '10.1.2.3:8080';
  return s;
}

function evaluate(expr: string, s: HttpStream | TcpSession): unknown {
  const r = compileCel(expr);
  if (!r.ok) throw new Error(r.error);
  return r.program.evaluate(new Attributes(s));
}

describe('CEL over Envoy attributes', () => {
  it('reads request, response, connection, source, destination, upstream and xds attributes', () => {
    const s = stream();
    expect(evaluate('response.code >= 400', s)).toBe(true);
    expect(evaluate('response.code', s)).toBe(503n);
    expect(evaluate('request.method == "POST" && request.url_path == "/v1beta3/items" && request.query == "page=2"', s)).toBe(true);
    expect(evaluate('connection.mtls && request.url_path.contains("v1beta3")', s)).toBe(true);
    expect(evaluate("request.headers['x-user']", s)).toBe('alice');
    expect(evaluate("request.headers['x-multi']", s)).toBe('a,b');
    expect(evaluate('request.useragent', s)).toBe('curl/8');
    expect(evaluate('request.host', s)).toBe('api.example.com');
    expect(evaluate('string(destination.port)', s)).toBe('443');
    expect(evaluate('source.address', s)).toBe('10.0.0.7:40000');
    expect(evaluate('upstream.port == 8080 && upstream.address == "10.1.2.3:8080"', s)).toBe(true);
    expect(evaluate('xds.cluster_name', s)).toBe('outbound|8080||api.default.svc.cluster.local');
    expect(evaluate('connection.uri_san_peer_certificate', s)).toBe('spiffe://cluster.local/ns/default/sa/sleep');
    expect(evaluate('connection.requested_server_name == "api.example.com" && connection.tls_version == "TLSv1.3"', s)).toBe(true);
    expect(evaluate('response.code_details.startsWith("upstream_reset")', s)).toBe(true);
    // Envoy's flag bits: UF = 0x20, URX = 0x8000.
    expect(evaluate('response.flags', s)).toBe(0x20n | 0x8000n);
    expect(evaluate('request.size + response.size', s)).toBe(103n);
    expect(evaluate('request.duration >= duration("0s")', s)).toBe(true);
  });

  it('an absent attribute is an evaluation error, not a crash (Envoy: filter false, tag unknown)', () => {
    const s = stream();
    expect(evaluate("request.headers['x-missing'] == 'x'", s)).toBe(ERROR);
    expect(evaluate('request.auth.principal', s)).toBe(ERROR);
    expect(evaluate('has(request.auth)', s)).toBe(false);
    s.requestPrincipal = 'https://auth.example.com/alice';
    s.jwtPayload = { iss: 'https://auth.example.com', sub: 'alice', aud: 'api', groups: ['dev', 'admin'] };
    expect(evaluate('request.auth.principal', s)).toBe('https://auth.example.com/alice');
    expect(evaluate('"admin" in request.auth.claims.groups && request.auth.audiences == ["api"]', s)).toBe(true);
    expect(evaluate('response.code >= 400', new TcpSession(conn()))).toBe(ERROR);
    expect(evaluate('connection.mtls', new TcpSession(conn()))).toBe(true);
  });

  it('is type-checked when compiled: unknown fields and mismatched operands are refused', () => {
    expect(compileCel('response.cod >= 400')).toMatchObject({ ok: false, error: 'No such key: cod' });
    expect(compileCel('response.code >= "400"')).toMatchObject({ ok: false });
    expect(compileCel('foo.bar')).toMatchObject({ ok: false });
    expect(compileCel('response.code >= 400')).toMatchObject({ ok: true, program: { type: 'bool' } });
  });

  it('formats values as Istio labels', () => {
    expect(celValueToString(503n)).toBe('503');
    expect(celValueToString(true)).toBe('true');
    expect(celValueToString('x')).toBe('x');
    expect(celValueToString(null)).toBeNull();
  });
});

describe('JSON access log format', () => {
  it('Istio\'s default JSON line: sorted keys, numbers for codes/bytes/durations, null for absent values', () => {
    const f = compileJsonAccessLogFormat(ISTIO_JSON_LABELS);
    const line = f.http(stream());
    expect(line.endsWith('}\n')).toBe(true);
    const j = JSON.parse(line) as Record<string, unknown>;
    expect(Object.keys(j)).toEqual(Object.keys(ISTIO_JSON_LABELS).sort());
    expect(j).toMatchObject({ response_code: 503, bytes_received: 12, bytes_sent: 91, response_flags: 'URX,UF', method: 'POST', path: '/v1beta3/items?page=2', user_agent: 'curl/8', x_forwarded_for: null, upstream_service_time: null, requested_server_name: 'api.example.com', downstream_remote_address: '10.0.0.7:40000' });
    expect(typeof j.duration).toBe('number');
  });

  it('labels mixing text and operators are strings; TCP sessions get code 0; special characters are escaped', () => {
    const f = compileJsonAccessLogFormat({ summary: '%REQ(:METHOD)% "%REQ(X-USER)%" -> %RESPONSE_CODE%', code: '%RESPONSE_CODE%', ua: '%REQ(USER-AGENT):2%' });
    expect(JSON.parse(f.http(stream()))).toEqual({ code: 503, summary: 'POST "alice" -> 503', ua: 'cu' });
    expect(JSON.parse(f.tcp(new TcpSession(conn())))).toEqual({ code: 0, summary: '- "-" -> 0', ua: null });
  });
});
