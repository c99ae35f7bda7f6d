import { X509Certificate } from 'node:crypto';
import type { Command } from 'commander';
import { snapshotToJson } from '../admin/config-dump.js';
import { buildOffline, chooseWorkload, UsageError } from '../trace/offline.js';
import { collect } from './flags.js';

// `sluice proxy-config` prints a running gateway's snapshot (/config_dump, /clusters) — or the
// snapshot `-c PATH` compiles to — in the table shapes of `istioctl proxy-config`.

/** The config_dump JSON, as far as the tables read it. */
export interface DumpSnapshot {
  version: number;
  workload: { mode: string; labels: Record<string, string>; namespace: string };
  listeners: DumpListener[];
  routeConfigs: Record<string, { name: string; virtualHosts: DumpVirtualHost[] }>;
  clusters: Record<string, DumpCluster>;
  secrets: Record<string, { name: string; cert: string | null; ca: string | null; origin: string; error: string | null }>;
}

interface DumpListener {
  name: string;
  address: string;
  port: number;
  bindPort: number;
  filterChains: { name: string; serverNames: string[]; tls: { mode: string } | null; kind: string; routeConfigName: string | null; l4Routes: { name: string; sniHosts: string[]; clusters: { cluster: string }[] }[]; httpsRedirect: boolean }[];
}

interface DumpVirtualHost {
  name: string;
  domains: string[];
  requireTls: boolean;
  routes: { name: string; match: { conditions: string[] }; action: { kind: string; clusters?: { cluster: string }[]; code?: number; status?: number }; source: { resource: string } }[];
}

interface DumpCluster {
  name: string;
  serviceHost: string;
  subset: string;
  port: number;
  type: string;
  endpoints: { address: string; port: number }[];
  origins: string[];
  tls: { mode: string } | null;
}

/** Host health from the admin `/clusters` text: `cluster::address:port::health_flags::healthy`. */
export type HealthMap = Map<string, Map<string, string>>;

export interface ProxySource {
  snapshot: DumpSnapshot;
  health: HealthMap | null;
  serverInfo: { version?: string; state?: string; config_version?: number } | null;
}

/** Columns padded like istioctl's tabwriter (two spaces between columns). */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('').trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

export async function fetchAdmin(admin: string, path: string): Promise<string> {
  let res: Response;
  try {
    res = await fetch(`http://${admin}${path}`);
  } catch (e) {
    throw new UsageError(`cannot reach the admin API at ${admin}: ${(e as Error).message} (is \`sluice run\` up, with --admin-port?)`);
  }
  if (res.status !== 200) throw new UsageError(`${admin}${path} answered ${res.status}`);
  return res.text();
}

export function parseHealth(text: string): HealthMap {
  const out: HealthMap = new Map();
  for (const line of text.split('\n')) {
    const parts = line.split('::');
    if (parts.length !== 4 || parts[2] !== 'health_flags') continue;
    const m = out.get(parts[0]!) ?? new Map<string, string>();
    m.set(parts[1]!, parts[3]!);
    out.set(parts[0]!, m);
  }
  return out;
}

export interface SourceFlags {
  admin?: string;
  config?: string[];
  gateway?: string;
  sidecar?: string;
  labels?: string;
  namespace?: string;
  mesh?: string;
  credentials?: string;
}

/** The snapshot to print: live from `--admin`, else compiled from `-c` for the chosen workload. */
export async function loadSource(f: SourceFlags): Promise<ProxySource> {
  if (f.admin !== undefined) {
    const snapshot = JSON.parse(await fetchAdmin(f.admin, '/config_dump')) as DumpSnapshot;
    const health = parseHealth(await fetchAdmin(f.admin, '/clusters'));
    const serverInfo = JSON.parse(await fetchAdmin(f.admin, '/server_info')) as ProxySource['serverInfo'];
    return { snapshot, health, serverInfo };
  }
  if (f.config === undefined) throw new UsageError('give --admin HOST:PORT (a running gateway) or -c PATH (compile the config here)');
  const built = buildOffline({ configPaths: f.config, mesh: f.mesh, credentials: f.credentials, workload: chooseWorkload(f) });
  return { snapshot: snapshotToJson(built.snapshot) as DumpSnapshot, health: null, serverInfo: null };
}

function vsName(resource: string): string {
  const m = /^VirtualService ([^/]+)\/(.+)$/.exec(resource);
  return m === null ? resource : `${m[2]}.${m[1]}`;
}

/** istioctl's MATCH column: `/prefix*`, `/exact`, the regex, or `/*`. */
function pathMatch(conditions: readonly string[]): string {
  const c = conditions.find((x) => x.startsWith('path '));
  const extra = conditions.length - (c === undefined ? 0 : 1);
  let out = '/*';
  if (c !== undefined) {
    const m = /^path (exact|prefix|regex) "(.*)"( \(ignore case\))?$/.exec(c);
    if (m !== null) out = m[1] === 'prefix' ? `${m[2]}*` : m[2]!;
  }
  return extra > 0 ? `${out} (+${extra} more)` : out;
}

export function routesTable(s: DumpSnapshot, name?: string): string {
  const rows: string[][] = [];
  for (const rc of Object.values(s.routeConfigs)) {
    if (name !== undefined && rc.name !== name) continue;
    for (const v of rc.virtualHosts) {
      if (v.routes.length === 0) {
        rows.push([rc.name, v.name, v.domains.join(','), v.requireTls ? '/* (https redirect)' : '/*', v.requireTls ? '-' : '404']);
        continue;
      }
      for (const r of v.routes) rows.push([rc.name, v.name, v.domains.join(','), `${pathMatch(r.match.conditions)}${v.requireTls ? ' (https redirect)' : ''}`, vsName(r.source.resource)]);
    }
  }
  return table(['NAME', 'VHOST NAME', 'DOMAINS', 'MATCH', 'VIRTUAL SERVICE'], rows);
}

export function clustersTable(s: DumpSnapshot, f: { fqdn?: string; port?: string; subset?: string }): string {
  const rows: string[][] = [];
  for (const c of Object.values(s.clusters)) {
    if (f.fqdn !== undefined && !c.serviceHost.includes(f.fqdn)) continue;
    if (f.port !== undefined && String(c.port) !== f.port) continue;
    if (f.subset !== undefined && c.subset !== f.subset) continue;
    const dr = c.origins.filter((o) => o.startsWith('DestinationRule ')).map((o) => { const [ns, n] = o.slice(16).split('/'); return `${n}.${ns}`; });
    rows.push([c.serviceHost, String(c.port), c.subset === '' ? '-' : c.subset, 'outbound', c.type.toUpperCase(), dr.join(',')]);
  }
  rows.sort((a, b) => a[0]!.localeCompare(b[0]!) || Number(a[1]) - Number(b[1]) || a[2]!.localeCompare(b[2]!));
  return table(['SERVICE FQDN', 'PORT', 'SUBSET', 'DIRECTION', 'TYPE', 'DESTINATION RULE'], rows);
}

export function listenersTable(s: DumpSnapshot, port?: string): string {
  const rows: string[][] = [];
  for (const l of s.listeners) {
    if (port !== undefined && String(l.bindPort) !== port && String(l.port) !== port) continue;
    for (const c of l.filterChains) {
      const match = c.serverNames.length > 0 ? `SNI: ${c.serverNames.join(',')}` : c.tls !== null ? 'ALL (TLS)' : 'ALL';
      let dest: string;
      if (c.routeConfigName !== null) dest = `Route: ${c.routeConfigName}`;
      else if (c.l4Routes.length === 0) dest = 'Non-HTTP/Non-TCP (no route: closed)';
      else if (c.l4Routes.length === 1) dest = `Cluster: ${c.l4Routes[0]!.clusters.map((x) => x.cluster).join(',')}`;
      else dest = `${c.l4Routes.length} routes: ${c.l4Routes.map((r) => r.name).join(',')}`;
      rows.push([l.address, String(l.bindPort), match, dest]);
    }
  }
  return table(['ADDRESSES', 'PORT', 'MATCH', 'DESTINATION'], rows);
}

export function endpointsTable(s: DumpSnapshot, health: HealthMap | null, cluster?: string): string {
  const rows: string[][] = [];
  for (const c of Object.values(s.clusters)) {
    if (cluster !== undefined && c.name !== cluster) continue;
    const h = health?.get(c.name);
    if (c.type === 'original_dst') { rows.push(['(original destination)', '-', '-', c.name]); continue; }
    if (h !== undefined && h.size > 0) {
      for (const [id, flags] of h) rows.push([id, flags === 'healthy' ? 'HEALTHY' : 'UNHEALTHY', flags.includes('failed_outlier_check') ? 'FAILED' : 'OK', c.name]);
      continue;
    }
    for (const e of c.endpoints) {
      const id = e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
      rows.push([id, health === null ? 'CONFIGURED' : c.type === 'strict_dns' ? 'UNRESOLVED' : 'UNKNOWN', health === null ? '-' : 'OK', c.name]);
    }
  }
  return table(['ENDPOINT', 'STATUS', 'OUTLIER CHECK', 'CLUSTER'], rows);
}

function certRow(name: string, type: string, pem: string): string[] {
  const block = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0];
  if (block === undefined) return [name, type, 'WARMING', 'false', '-', '-', '-'];
  try {
    const c = new X509Certificate(block);
    const now = Date.now();
    const valid = Date.parse(c.validFrom) <= now && now < Date.parse(c.validTo);
    return [name, type, 'ACTIVE', String(valid), c.serialNumber.toLowerCase(), new Date(c.validTo).toISOString().replace('.000', ''), new Date(c.validFrom).toISOString().replace('.000', '')];
  } catch {
    return [name, type, 'WARMING', 'false', '-', '-', '-'];
  }
}

export function secretsTable(s: DumpSnapshot): string {
  const rows: string[][] = [];
  for (const sec of Object.values(s.secrets)) {
    if (sec.error !== null && sec.cert === null && sec.ca === null) { rows.push([sec.name, 'Cert Chain', `MISSING: ${sec.error}`, 'false', '-', '-', '-']); continue; }
    if (sec.cert !== null) rows.push(certRow(sec.name, 'Cert Chain', sec.cert));
    if (sec.ca !== null) rows.push(certRow(sec.cert !== null ? `${sec.name} (ROOTCA)` : sec.name, 'CA', sec.ca));
  }
  return table(['RESOURCE NAME', 'TYPE', 'STATUS', 'VALID CERT', 'SERIAL NUMBER', 'NOT AFTER', 'NOT BEFORE'], rows);
}

interface ProxyConfigFlags extends SourceFlags {
  output: string;
  name?: string;
  fqdn?: string;
  port?: string;
  subset?: string;
  cluster?: string;
}

const KINDS = ['routes', 'clusters', 'listeners', 'endpoints', 'secret', 'all'] as const;

export function registerProxyConfig(program: Command): void {
  program
    .command('proxy-config')
    .alias('pc')
    .description("print a gateway's listeners, routes, clusters, endpoints or secrets in istioctl's table shapes")
    .argument('<kind>', KINDS.join(' | '))
    .option('--admin <host:port>', 'a running gateway\'s admin API (default 127.0.0.1:15000 when no -c is given)')
    .option('-c, --config <path>', 'compile this config instead of asking a running gateway (repeatable)', collect)
    .option('--gateway <k=v,...>', 'with -c: the gateway workload labels')
    .option('--sidecar <ns/sa>', 'with -c: a sidecar workload')
    .option('--namespace <ns>', 'with -c: the workload namespace')
    .option('--mesh <file>', 'with -c: Istio MeshConfig YAML')
    .option('--credentials <dir>', 'with -c: TLS credentials folder')
    .option('--name <name>', 'routes: only this route configuration')
    .option('--fqdn <host>', 'clusters: only hosts containing this')
    .option('--port <port>', 'clusters/listeners: only this port')
    .option('--subset <name>', 'clusters: only this subset')
    .option('--cluster <name>', 'endpoints: only this cluster')
    .option('-o, --output <format>', 'short | json', 'short')
    .action(async (kind: string, flags: ProxyConfigFlags) => {
      process.exitCode = await proxyConfig(kind, flags);
    });
}

async function proxyConfig(kind: string, flags: ProxyConfigFlags): Promise<number> {
  const k = kind === 'secrets' ? 'secret' : kind === 'route' ? 'routes' : kind === 'cluster' ? 'clusters' : kind === 'listener' ? 'listeners' : kind === 'endpoint' ? 'endpoints' : kind;
  if (!(KINDS as readonly string[]).includes(k)) { process.stderr.write(`sluice proxy-config: unknown kind ${kind}; expected ${KINDS.join(', ')}\n`); return 2; }
  if (flags.output !== 'short' && flags.output !== 'json' && flags.output !== 'table') { process.stderr.write(`sluice proxy-config: -o ${flags.output}: expected short or json\n`); return 2; }
  let src: ProxySource;
  try {
    src = await loadSource(flags.config === undefined && flags.admin === undefined ? { ...flags, admin: '127.0.0.1:15000' } : flags);
  } catch (e) {
    if (e instanceof UsageError) { process.stderr.write(`sluice proxy-config: ${e.message}\n`); return 2; }
    throw e;
  }
  const s = src.snapshot;
  if (flags.output === 'json') {
    const pick: Record<string, unknown> = { routes: s.routeConfigs, clusters: s.clusters, listeners: s.listeners, secret: s.secrets, endpoints: Object.fromEntries(Object.values(s.clusters).map((c) => [c.name, { endpoints: c.endpoints, health: src.health?.get(c.name) !== undefined ? Object.fromEntries(src.health.get(c.name)!) : null }])), all: s };
    process.stdout.write(`${JSON.stringify(pick[k], null, 2)}\n`);
    return 0;
  }
  const parts: string[] = [];
  if (k === 'listeners' || k === 'all') parts.push(listenersTable(s, flags.port));
  if (k === 'routes' || k === 'all') parts.push(routesTable(s, flags.name));
  if (k === 'clusters' || k === 'all') parts.push(clustersTable(s, flags));
  if (k === 'endpoints' || k === 'all') parts.push(endpointsTable(s, src.health, flags.cluster));
  if (k === 'secret' || k === 'all') parts.push(secretsTable(s));
  process.stdout.write(parts.join('\n'));
  return 0;
}
