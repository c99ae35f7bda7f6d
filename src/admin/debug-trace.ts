import type { IncomingMessage, ServerResponse } from 'node:http';
import { formatTrace } from '../trace/format.js';
import { parseTraceRequest, TraceRequestError } from '../trace/request.js';
import { traceRequest, type TraceInput } from '../trace/trace.js';

/**
 * `GET /debug/trace?method=GET&url=https://api.example.com/x&header=x-canary:true[&sni=..]
 * [&source-ip=..][&jwt=..][&draw=0.5][&http2=1][&data=1][&format=json]`: the `sluice trace`
 * answer for the snapshot this gateway serves right now. Read-only: nothing is sent upstream,
 * no counter or token bucket moves.
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
    let body: string;
    const json = q.get('format') === 'json';
    try {
      const request = parseTraceRequest({
        method: q.get('method') ?? 'GET',
        url: target,
        headers: q.getAll('header'),
        sourceIp: q.get('source-ip') ?? '127.0.0.1',
        http2: q.get('http2') === '1' || q.get('http2') === 'true',
        hasBody: q.get('data') === '1' || q.get('data') === 'true',
        ...(q.get('sni') !== null ? { sni: q.get('sni')! } : {}),
        ...(q.get('jwt') !== null ? { jwt: q.get('jwt')! } : {}),
        ...(q.get('draw') !== null ? { draw: Number(q.get('draw')) } : {}),
      });
      const trace = traceRequest(input(), request);
      body = json ? `${JSON.stringify(trace, null, 2)}\n` : formatTrace(trace);
    } catch (e) {
      if (!(e instanceof TraceRequestError)) throw e;
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(`${e.message}\n`);
      return;
    }
    res.writeHead(200, { 'content-type': json ? 'application/json' : 'text/plain; charset=utf-8', 'cache-control': 'no-cache' });
    res.end(body);
  };
}
