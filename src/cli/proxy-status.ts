import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { snapshotToJson } from '../admin/config-dump.js';
import { buildOffline, UsageError } from '../trace/offline.js';
import { collect } from './flags.js';
import { fetchAdmin, table, type DumpSnapshot } from './proxy-config.js';

// `sluice proxy-status`: istioctl's sync table for Sluice gateways. There is no istiod: a
// gateway is SYNCED when it serves its newest valid config (no reload error, nothing held at a
// last good version); with -c, each section (clusters, listeners, endpoints, routes) is also
// compared with what the files compile to now, so a gateway started from other files shows STALE.

interface StatusFlags {
  admin?: string[];
  config?: string[];
  mesh?: string;
  credentials?: string;
  output: string;
}

interface ConfigStatus {
  version: number;
  appliedAt: string;
  heldBack: string[];
  lastReloadError: string | null;
}

function sluiceVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '-';
  }
}

/** JSON of a section (both sides are compiled for the same workload, ports and address). */
function comparable(v: unknown): string {
  return JSON.stringify(v);
}

function sections(s: DumpSnapshot): Record<'CDS' | 'LDS' | 'EDS' | 'RDS', string> {
  const clusters = Object.values(s.clusters).map((c) => ({ ...c, endpoints: undefined }));
  const endpoints = Object.values(s.clusters).map((c) => [c.name, c.endpoints]);
  const listeners = s.listeners;
  return { CDS: comparable(clusters), LDS: comparable(listeners), EDS: comparable(endpoints), RDS: comparable(s.routeConfigs) };
}

export function registerProxyStatus(program: Command): void {
  program
    .command('proxy-status')
    .alias('ps')
    .description("whether running gateways serve their newest config, in istioctl's proxy-status shape")
    .option('--admin <host:port>', 'a running gateway\'s admin API (repeatable; default 127.0.0.1:15000)', collect)
    .option('-c, --config <path>', 'also compare each gateway with what this config compiles to (repeatable)', collect)
    .option('--mesh <file>', 'with -c: Istio MeshConfig YAML')
    .option('--credentials <dir>', 'with -c: TLS credentials folder')
    .option('-o, --output <format>', 'short | json', 'short')
    .action(async (flags: StatusFlags) => {
      process.exitCode = await proxyStatus(flags);
    });
}

async function proxyStatus(flags: StatusFlags): Promise<number> {
  const admins = flags.admin ?? ['127.0.0.1:15000'];
  const rows: string[][] = [];
  const json: unknown[] = [];
  let stale = false;
  for (const admin of admins) {
    let dump: DumpSnapshot;
    let status: ConfigStatus;
    try {
      dump = JSON.parse(await fetchAdmin(admin, '/config_dump')) as DumpSnapshot;
      status = JSON.parse(await fetchAdmin(admin, '/config_status')) as ConfigStatus;
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      rows.push([admin, '-', 'UNREACHABLE', 'UNREACHABLE', 'UNREACHABLE', 'UNREACHABLE', 'NOT SENT', '-', '-']);
      json.push({ admin, error: e.message });
      stale = true;
      continue;
    }
    const w = dump.workload;
    const name = `${Object.entries(w.labels).map(([k, v]) => `${k}=${v}`).join(',') || w.mode}.${w.namespace}`;
    const base = status.lastReloadError !== null ? 'STALE (reload failed)' : status.heldBack.length > 0 ? `STALE (${status.heldBack.length} held back)` : 'SYNCED';
    const state: Record<'CDS' | 'LDS' | 'EDS' | 'RDS', string> = { CDS: base, LDS: base, EDS: base, RDS: base };
    if (flags.config !== undefined) {
      // Compile for the same workload, ports and address the gateway runs with.
      const portMap = new Map(dump.listeners.map((l) => [l.port, l.bindPort]));
      const built = buildOffline({ configPaths: flags.config, mesh: flags.mesh, credentials: flags.credentials, workload: { mode: w.mode as 'gateway' | 'sidecar', labels: w.labels, namespace: w.namespace, serviceAccount: 'default' }, portMap, listenHost: dump.listeners[0]?.address ?? '0.0.0.0' });
      const want = sections(snapshotToJson(built.snapshot) as DumpSnapshot);
      const got = sections(dump);
      for (const k of ['CDS', 'LDS', 'EDS', 'RDS'] as const) if (want[k] !== got[k]) state[k] = 'STALE (differs from -c)';
    }
    if (Object.values(state).some((x) => x !== 'SYNCED')) stale = true;
    rows.push([name, admin, state.CDS, state.LDS, state.EDS, state.RDS, 'NOT SENT', `files v${status.version}`, sluiceVersion()]);
    json.push({ name, admin, ...state, configVersion: status.version, appliedAt: status.appliedAt, heldBack: status.heldBack, lastReloadError: status.lastReloadError });
  }
  if (flags.output === 'json') process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  else process.stdout.write(table(['NAME', 'ADMIN', 'CDS', 'LDS', 'EDS', 'RDS', 'ECDS', 'CONFIG', 'VERSION'], rows));
  return stale ? 1 : 0;
}
