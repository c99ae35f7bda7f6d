import { createServer, type Server } from 'node:http';
import type { Resource } from '../config/resource.js';

/**
 * Small demo backends: one HTTP server per ServiceEntry endpoint on 127.0.0.1, answering
 * JSON that says which service answered and what it received (path, headers), so a curl
 * through the gateway shows where each route went.
 */
export async function startDemoBackends(entries: readonly Resource<'ServiceEntry'>[]): Promise<{ servers: Server[]; ports: Map<string, number> }> {
  const servers: Server[] = [];
  const ports = new Map<string, number>();
  for (const se of entries) {
    for (const ep of se.spec.endpoints ?? []) {
      if (ep.address !== '127.0.0.1') continue;
      for (const port of Object.values(ep.ports ?? {})) {
        if (ports.has(`${se.name}:${port}`)) continue;
        const service = se.name;
        const server = createServer((req, res) => {
          req.resume();
          req.on('end', () => {
            const body = JSON.stringify({ service, method: req.method, path: req.url, host: req.headers.host, headers: req.headers }, null, 2);
            res.writeHead(200, { 'content-type': 'application/json', 'x-demo-backend': service });
            res.end(`${body}\n`);
          });
        });
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(port, '127.0.0.1', () => resolve());
        });
        servers.push(server);
        ports.set(`${se.name}:${port}`, port);
      }
    }
  }
  return { servers, ports };
}
