import type { IncomingMessage, ServerResponse } from 'node:http';
import { formatTrace } from '../trace/format.js';
import { parseTraceRequest, TraceRequestError } from '../trace/request.js';
import type { TraceRequest } from '../trace/types.js';
import { traceRequestAsync, type TraceInput } from '../trace/trace.js';

/**
 * `GET /debug/trace?method=GET&url=https://api.example.com/x&header=x-canary:true[&sni=..]
 * [&source-ip=..][&jwt=..][&client-cert=PEM][&draw=0.5][&http2=1][&data=1][&format=json]`: the
 * `sluice trace` answer for the snapshot this gateway serves right now. Read-only: nothing is
 * sent upstream, no counter or token bucket moves, the ext_authz and rate limit services are
 * not asked, and JWTs are checked against the JWKS keys this gateway already holds.
 */
export function debugTraceHandler(input: () => TraceInput): (req: IncomingMessage, url: URL, res: ServerResponse) => void {
  return (req, url, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'text/plain', allow: 'GET' });
      res.end('GET only\n');
      return;
    }
    const q = url.searchParams;
    const target = q.get('url');
    if (target === null) {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end('missing url: /debug/trace?method=GET&url=https://host/path[&header=name:value]...[&format=json]\n');
      return;
    }
    const json = q.get('format') === 'json';
    let request: TraceRequest;
    try {
      request = parseTraceRequest({
        method: q.get('method') ?? 'GET',
        url: target,
        headers: q.getAll('header'),
        sourceIp: q.get('source-ip') ?? '127.0.0.1',
        http2: q.get('http2') === '1' || q.get('http2') === 'true',
        hasBody: q.get('data') === '1' || q.get('data') === 'true',
        ...(q.get('sni') !== null ? { sni: q.get('sni')! } : {}),
        ...(q.get('jwt') !== null ? { jwt: q.get('jwt')! } : {}),
        ...(q.get('draw') !== null ? { draw: Number(q.get('draw')) } : {}),
        ...(q.get('client-cert') !== null ? { clientCertPem: q.get('client-cert')! } : {}),
      });
    } catch (e) {
      if (!(e instanceof TraceRequestError)) throw e;
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(`${e.message}\n`);
      return;
    }
    traceRequestAsync(input(), request).then((trace) => {
      res.writeHead(200, { 'content-type': json ? 'application/json' : 'text/plain; charset=utf-8', 'cache-control': 'no-cache' });
      res.end(json ? `${JSON.stringify(trace, null, 2)}\n` : formatTrace(trace));
    }, (e: Error) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`trace failed: ${e.message}\n`);
    });
  };
}
