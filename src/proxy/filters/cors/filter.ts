import type { CorsConfig } from '../../../compile/policies.js';
import { FilterStatus, watchResponse, type HttpFilter } from '../../http/filter.js';
import type { HeaderList } from '../../http/headers.js';
import { sendLocalReply } from '../../http/local-reply.js';
import type { HttpStream } from '../../http/stream.js';

function allowed(c: CorsConfig, origin: string): boolean {
  for (let i = 0; i < c.allowOrigins.length; i++) if (c.allowOrigins[i]!.test(origin)) return true;
  return false;
}

/**
 * Envoy's CORS filter with the route's corsPolicy: a preflight from an allowed origin is
 * answered here; other requests from an allowed origin get allow-origin (and credentials /
 * expose headers) on the response; a non-matching preflight is forwarded (FORWARD, the
 * default) or answered without CORS headers (IGNORE).
 */
export const corsFilter: HttpFilter = {
  name: 'envoy.filters.http.cors',
  onRequest(s) {
    const c = s.route === null ? null : s.route.filters.cors;
    if (c === null) return FilterStatus.Continue;
    const origin = s.header('origin');
    if (origin === undefined) return FilterStatus.Continue;
    const preflight = s.method === 'OPTIONS' && s.header('access-control-request-method') !== undefined;
    const ok = allowed(c, origin);
    if (preflight) {
      if (!ok) {
        if (c.forwardUnmatchedPreflights) return FilterStatus.Continue;
        sendLocalReply(s, 200, '', 0, 'cors_response');
        return FilterStatus.Stop;
      }
      const h: HeaderList = ['access-control-allow-origin', origin];
      if (c.allowMethods !== '') h.push('access-control-allow-methods', c.allowMethods);
      if (c.allowHeaders !== '') h.push('access-control-allow-headers', c.allowHeaders);
      if (c.maxAge !== '') h.push('access-control-max-age', c.maxAge);
      if (c.allowCredentials) h.push('access-control-allow-credentials', 'true');
      sendLocalReply(s, 200, '', 0, 'cors_response', h);
      return FilterStatus.Stop;
    }
    if (ok) watchResponse(s, corsFilter);
    return FilterStatus.Continue;
  },
  explain(s) {
    const c = s.route === null ? null : s.route.filters.cors;
    if (c === null) return { verdict: 'skip', summary: s.route === null ? 'no route' : 'no corsPolicy on this route' };
    const origin = s.header('origin');
    if (origin === undefined) return { verdict: 'continue', summary: 'no Origin header: not a CORS request' };
    const preflight = s.method === 'OPTIONS' && s.header('access-control-request-method') !== undefined;
    const ok = allowed(c, origin);
    if (!preflight) return { verdict: 'continue', summary: ok ? `origin ${origin} allowed: the response gets access-control-allow-origin` : `origin ${origin} not allowed: the response gets no CORS headers` };
    if (!ok) {
      return c.forwardUnmatchedPreflights
        ? { verdict: 'continue', summary: `preflight from ${origin}, which no allowOrigins entry matches: forwarded upstream (unmatchedPreflights FORWARD)` }
        : { verdict: 'reply', summary: `preflight from ${origin}, which no allowOrigins entry matches: answered without CORS headers (unmatchedPreflights IGNORE)`, status: 200, details: 'cors_response', fix: `add ${origin} to corsPolicy.allowOrigins` };
    }
    const headers: [string, string][] = [['access-control-allow-origin', origin]];
    if (c.allowMethods !== '') headers.push(['access-control-allow-methods', c.allowMethods]);
    if (c.allowHeaders !== '') headers.push(['access-control-allow-headers', c.allowHeaders]);
    if (c.maxAge !== '') headers.push(['access-control-max-age', c.maxAge]);
    if (c.allowCredentials) headers.push(['access-control-allow-credentials', 'true']);
    return { verdict: 'reply', summary: `preflight from allowed origin ${origin}: answered by the proxy`, status: 200, details: 'cors_response', headers };
  },
  onResponseHeaders(s: HttpStream, _status: number, headers: HeaderList) {
    const c = s.route!.filters.cors!;
    headers.push('access-control-allow-origin', s.header('origin')!);
    if (c.allowCredentials) headers.push('access-control-allow-credentials', 'true');
    if (c.exposeHeaders !== '') headers.push('access-control-expose-headers', c.exposeHeaders);
  },
};
