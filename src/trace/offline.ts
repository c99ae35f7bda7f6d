import type { Mode } from '../compile/snapshot.js';
import { ConfigPipeline, type BuildResult } from '../config/pipeline.js';

/** Which proxy a trace or test looks through: `--gateway labels` or `--sidecar ns/sa`. */
export interface WorkloadFlags {
  gateway?: string | undefined;
  sidecar?: string | undefined;
  labels?: string | undefined;
  namespace?: string | undefined;
  serviceAccount?: string | undefined;
  /** Sidecar: the application port (as `sluice run --app-port`), so the inbound side exists. */
  appPort?: string | undefined;
  /** Sidecar: as `sluice run --inbound-port` / `--outbound-port`. */
  inboundPort?: string | undefined;
  outboundPort?: string | undefined;
}

export interface WorkloadChoice {
  mode: Mode;
  labels: Record<string, string>;
  namespace: string;
  serviceAccount: string;
  sidecarPorts?: { outboundPort: number; inboundPort: number; appPort: number | null };
}

function portFlag(flag: string, v: string | undefined, dflt: number | null): number | null {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`${flag} ${v}: expected a port number (1-65535)`);
  return n;
}

/** A flag value the user got wrong; the CLI prints it and exits 2. */
export class UsageError extends Error {}

export function parseLabelList(text: string, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',')) {
    const t = part.trim();
    if (t === '') continue;
    const eq = t.indexOf('=');
    if (eq <= 0) throw new UsageError(`${flag} ${t}: expected key=value`);
    out[t.slice(0, eq)] = t.slice(eq + 1);
  }
  return out;
}

/**
 * `--gateway istio=ingressgateway` (default, like `sluice run`), or `--sidecar ns/sa` for a
 * mesh workload; `--namespace` and `--labels` refine either.
 */
export function chooseWorkload(f: WorkloadFlags): WorkloadChoice {
  if (f.gateway !== undefined && f.sidecar !== undefined) throw new UsageError('--gateway and --sidecar exclude each other');
  if (f.sidecar !== undefined) {
    const m = /^([a-z0-9-]+)\/([a-z0-9.-]+)$/.exec(f.sidecar);
    if (m === null) throw new UsageError(`--sidecar ${f.sidecar}: expected NAMESPACE/SERVICE_ACCOUNT`);
    const sidecarPorts = { outboundPort: portFlag('--outbound-port', f.outboundPort, 15001)!, inboundPort: portFlag('--inbound-port', f.inboundPort, 15006)!, appPort: portFlag('--app-port', f.appPort, null) };
    return { mode: 'sidecar', labels: parseLabelList(f.labels ?? '', '--labels'), namespace: m[1]!, serviceAccount: m[2]!, sidecarPorts };
  }
  if (f.appPort !== undefined || f.inboundPort !== undefined || f.outboundPort !== undefined) throw new UsageError('--app-port, --inbound-port and --outbound-port go with --sidecar');
  const labels = parseLabelList(f.gateway ?? f.labels ?? 'istio=ingressgateway', f.gateway !== undefined ? '--gateway' : '--labels');
  return { mode: 'gateway', labels, namespace: f.namespace ?? 'istio-system', serviceAccount: f.serviceAccount ?? 'default' };
}

export interface OfflineConfig {
  configPaths: readonly string[];
  mesh?: string | undefined;
  credentials?: string | undefined;
  workload: WorkloadChoice;
  /** As `sluice run --port-map` / `--listen-host` (only listener names and addresses depend on them). */
  portMap?: ReadonlyMap<number, number>;
  listenHost?: string;
}

/** The snapshot `sluice run` would serve for this workload, built by the same pipeline. */
export function buildOffline(o: OfflineConfig): BuildResult {
  const pipeline = new ConfigPipeline({
    configPaths: o.configPaths,
    meshFile: o.mesh,
    credentialsDir: o.credentials,
    workload: {
      mode: o.workload.mode, labels: o.workload.labels, namespace: o.workload.namespace, serviceAccount: o.workload.serviceAccount,
      ...(o.workload.sidecarPorts !== undefined ? { sidecarPorts: o.workload.sidecarPorts } : {}),
      ...(o.portMap !== undefined ? { portMap: o.portMap } : {}), ...(o.listenHost !== undefined ? { listenHost: o.listenHost } : {}),
    },
  });
  return pipeline.build();
}
