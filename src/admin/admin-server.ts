import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Diagnostic } from '../config/diagnostic.js';
import type { ProxyRuntime } from '../proxy/runtime.js';
import { snapshotToJson } from './config-dump.js';
import { filterStatLines } from '../proxy/filters/stats.js';

/** What the admin API reports about config: which version serves, and what is wrong. */
export interface ConfigStatus {
  version: number;
  appliedAt: string;
  diagnostics: Diagnostic[];
  heldBack: string[];
  lastReloadError: string | null;
  /** Where the config comes from (files, or the Kubernetes API and the health of its watches). */
  source?: { type: 'files' | 'kubernetes'; healthy: boolean; [detail: string]: unknown };
  /** With --concurrency N: each worker's process id and the config version it serves. */
  workers?: { pid: number; version: number }[];
}

export interface AdminOptions {
  runtime: ProxyRuntime;
  status: () => ConfigStatus;
  /** Extra routes added by other features (e.g. /debug/trace). */
  routes?: Map<string, (req: IncomingMessage, url: URL, res: ServerResponse) => void>;
  onQuit: () => void;
  startedAt: Date;
  /** With --concurrency N: gathers the workers' cluster stats before /stats and /clusters. */
  refresh?: () => Promise<void>;
  /** The filters' counters when they live elsewhere (summed over `--concurrency` workers). */
  filterStats?: () => ReadonlyMap<string, number>;
}

/**
 * Envoy-style admin API: /ready, /config_dump, /stats/prometheus, /stats, /clusters,
 * /listeners, /server_info, plus /config_status (Sluice: serving version and diagnostics).
 */
export function startAdmin(host: string, port: number, o: AdminOptions): Promise<Server> {
  const server = createServer((req, res) => {
    handle(req, res, o).catch((e: Error) => { res.statusCode = 500; res.end(`${e.message}\n`); });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.removeListener('error', reject); resolve(server); });
  });
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-cache' });
  res.end(body);
}

async function handle(req: IncomingMessage, res: ServerResponse, o: AdminOptions): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://admin');
  const rt = o.runtime;
  const extra = o.routes?.get(url.pathname);
  if (extra !== undefined) { extra(req, url, res); return; }
  if (o.refresh !== undefined && (url.pathname === '/stats' || url.pathname === '/clusters')) await o.refresh();
  switch (url.pathname) {
    case '/ready':
    case '/healthz/ready':
      if (rt.listeners.draining) send(res, 503, 'text/plain', 'DRAINING\n');
      else send(res, 200, 'text/plain', 'LIVE\n');
      return;
    case '/config_dump':
      send(res, 200, 'application/json', `${JSON.stringify(snapshotToJson(rt.snapshot), null, 2)}\n`);
      return;
    case '/config_status':
      send(res, 200, 'application/json', `${JSON.stringify(o.status(), null, 2)}\n`);
      return;
    case '/stats/prometheus':
      send(res, 200, rt.metrics.registry.contentType, await rt.metrics.registry.metrics());
      return;
    case '/stats': {
      const lines: string[] = [];
      for (const c of rt.clusters.all()) {
        for (const [k, v] of Object.entries(c.stats)) if (typeof v === 'number') lines.push(`cluster.${c.config.name}.${k}: ${v}`);
        c.stats.byClass.forEach((n, cls) => { if (cls > 0) lines.push(`cluster.${c.config.name}.upstream_rq_${cls}xx: ${n}`); });
      }
      lines.push(...filterStatLines(o.filterStats?.()));
      send(res, 200, 'text/plain', `${lines.join('\n')}\n`);
      return;
    }
    case '/clusters': {
      const lines: string[] = [];
      const now = Date.now();
      for (const c of rt.clusters.all()) {
        lines.push(`${c.config.name}::default_priority::max_connections::${c.resources.connections.max}`);
        for (const h of c.hosts) {
          lines.push(`${c.config.name}::${h.id}::rq_active::${h.activeRequests}`);
          lines.push(`${c.config.name}::${h.id}::health_flags::${h.ejectedUntil > now ? '/failed_outlier_check' : 'healthy'}`);
        }
        if (c.dnsError !== '') lines.push(`${c.config.name}::dns_error::${c.dnsError}`);
      }
      send(res, 200, 'text/plain', `${lines.join('\n')}\n`);
      return;
    }
    case '/listeners': {
      const bound = rt.listeners.boundPorts();
      const out = rt.snapshot.listeners.map((l) => ({ name: l.name, address: l.address, port: l.port, bindPort: bound.get(l.name) ?? l.bindPort, filterChains: l.filterChains.map((c) => c.name) }));
      send(res, 200, 'application/json', `${JSON.stringify(out, null, 2)}\n`);
      return;
    }
    case '/server_info':
      send(res, 200, 'application/json', `${JSON.stringify({ version: 'sluice', state: rt.listeners.draining ? 'DRAINING' : 'LIVE', uptime_seconds: Math.round((Date.now() - o.startedAt.getTime()) / 1000), config_version: rt.snapshot.version, command_line: process.argv.slice(2) }, null, 2)}\n`);
      return;
    case '/quitquitquit':
      if (req.method !== 'POST') { send(res, 405, 'text/plain', 'POST only\n'); return; }
      send(res, 200, 'text/plain', 'OK\n');
      o.onQuit();
      return;
    case '/':
      send(res, 200, 'text/plain', ['/ready', '/config_dump', '/config_status', '/stats', '/stats/prometheus', '/clusters', '/listeners', '/server_info', '/quitquitquit (POST)', ...(o.routes?.keys() ?? [])].join('\n') + '\n');
      return;
    default:
      send(res, 404, 'text/plain', 'not found\n');
  }
}
