// The Node baseline: the obvious Node gateway, written the way the referee's
// "node-undici-pool" is — a node:http server whose handler forwards with undici.Pool
// (keep-alive), request body streamed up, response streamed back with pool.stream(), hop-by-hop
// headers dropped. No routing, no logging, no metrics: what every Node proxy costs at least.
//
// env: PORT (HTTP/1.1), UPSTREAM_HOST (127.0.0.1), UPSTREAM_PORT,
//      TLS_PORT + TLS_CERT + TLS_KEY (optional HTTPS listener, TLS terminated here)
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { Pool } from 'undici';

const pool = new Pool(`http://${process.env.UPSTREAM_HOST ?? '127.0.0.1'}:${process.env.UPSTREAM_PORT}`, {
  connections: 128,
  pipelining: 1,
  keepAliveTimeout: 60_000,
  keepAliveMaxTimeout: 600_000,
});

const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authenticate', 'proxy-authorization']);
function strip(src) {
  const out = {};
  for (const k in src) if (!HOP.has(k)) out[k] = src[k];
  return out;
}

function handler(req, res) {
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  pool.stream(
    { path: req.url, method: req.method, headers: strip(req.headers), body: hasBody ? req : null, opaque: res },
    ({ statusCode, headers, opaque }) => {
      opaque.writeHead(statusCode, strip(headers));
      return opaque;
    },
    (err) => {
      if (!err) return;
      if (!res.headersSent) { res.writeHead(502); res.end(); } else res.destroy(err);
    },
  );
}

createServer(handler).listen(Number(process.env.PORT), '127.0.0.1');
if (process.env.TLS_PORT && process.env.TLS_CERT && process.env.TLS_KEY) {
  createTlsServer({ cert: readFileSync(process.env.TLS_CERT), key: readFileSync(process.env.TLS_KEY) }, handler)
    .listen(Number(process.env.TLS_PORT), '127.0.0.1');
}
