import { describe, expect, it } from 'vitest';
import { usableCores } from '../../src/cluster/cores.js';

// `--concurrency auto`: the cores, capped by the container's CPU limit (cgroup quota).

const files = (m: Record<string, string>) => (p: string): string | null => m[p] ?? null;

describe('usableCores', () => {
  it('no cgroup files: every core', () => {
    expect(usableCores(files({}), 8)).toBe(8);
  });

  it('cgroup v2 quota of 1.5 CPUs on 8 cores: 2', () => {
    expect(usableCores(files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': '150000 100000\n' }), 8)).toBe(2);
  });

  it('cgroup v2 without a limit ("max"): every core', () => {
    expect(usableCores(files({ '/sys/fs/cgroup/cpu.max': 'max 100000\n' }), 4)).toBe(4);
  });

  it("cgroup v2: the process's own group is read first", () => {
    expect(usableCores(files({ '/proc/self/cgroup': '0::/kubepods/pod1/c1\n', '/sys/fs/cgroup/kubepods/pod1/c1/cpu.max': '300000 100000', '/sys/fs/cgroup/cpu.max': 'max 100000' }), 16)).toBe(3);
  });

  it('cgroup v1 quota of 0.5 CPU: 1; no quota (-1): every core', () => {
    expect(usableCores(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '50000\n', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n' }), 8)).toBe(1);
    expect(usableCores(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1\n', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n' }), 8)).toBe(8);
  });

  it('a quota above the cores: the cores', () => {
    expect(usableCores(files({ '/sys/fs/cgroup/cpu.max': '1600000 100000' }), 2)).toBe(2);
  });

  it('this machine: at least one', () => {
    expect(usableCores()).toBeGreaterThanOrEqual(1);
  });
});
