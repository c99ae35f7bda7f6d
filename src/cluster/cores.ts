import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** Reads a file's text, or null when it is not there (a test passes its own). */
export type ReadText = (path: string) => string | null;

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/**
 * The cores `--concurrency auto` uses: those this process may run on (CPU affinity), capped by
 * the cgroup's CPU quota — a Kubernetes CPU limit — rounded up, as istio-agent sizes Envoy's
 * worker threads from the container's limit rather than from the node's cores.
 */
export function usableCores(read: ReadText = readText, cores = availableParallelism()): number {
  const quota = cgroupCpuQuota(read);
  return quota === null ? cores : Math.max(1, Math.min(cores, Math.ceil(quota)));
}

/** The CPU quota in cores (cgroup v2 `cpu.max`, v1 `cpu.cfs_quota_us`), or null when unlimited. */
function cgroupCpuQuota(read: ReadText): number | null {
  // cgroup v2: the process's own group (from /proc/self/cgroup), then the namespace root.
  const own = /^0::(\/.*)$/m.exec(read('/proc/self/cgroup') ?? '')?.[1];
  for (const dir of [...(own !== undefined && own !== '/' ? [`/sys/fs/cgroup${own}`] : []), '/sys/fs/cgroup']) {
    const max = read(`${dir}/cpu.max`);
    if (max === null) continue;
    const [q, p] = max.trim().split(/\s+/);
    if (q === 'max' || q === undefined || p === undefined) return null;
    const quota = Number(q) / Number(p);
    return Number.isFinite(quota) && quota > 0 ? quota : null;
  }
  // cgroup v1.
  for (const dir of ['/sys/fs/cgroup/cpu', '/sys/fs/cgroup/cpu,cpuacct']) {
    const q = read(`${dir}/cpu.cfs_quota_us`);
    const p = read(`${dir}/cpu.cfs_period_us`);
    if (q === null || p === null) continue;
    const quota = Number(q.trim()) / Number(p.trim());
    return Number.isFinite(quota) && quota > 0 ? quota : null;
  }
  return null;
}
