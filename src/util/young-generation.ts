import { PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';

// V8 grows the young generation (two semi-spaces) up to 2 x 16 MiB under allocation pressure.
// For a proxy that is mostly garbage — a request's objects die within milliseconds — a larger
// young generation buys nothing measurable (bench/run.sh: equal req/s, lower p99 with smaller
// scavenges) but costs RSS. `--max-semi-space-size` only works on the command line, which
// `sluice run` does not control; the growth factor is read by V8 each time it grows the young
// generation, so it can be switched at run time: grow (factor 2) while below the cap, stay
// (factor 1) once there. Checked after each GC, so the cap may be passed by one doubling.

/** Semi-space cap: the young generation stays at about 2 x this. */
const SEMI_SPACE_CAP_BYTES = 4 * 1024 * 1024;

let observer: PerformanceObserver | null = null;

function newSpaceBytes(): number {
  for (const s of v8.getHeapSpaceStatistics()) if (s.space_name === 'new_space') return s.space_size;
  return 0;
}

/** Keeps the young generation near 2 x 4 MiB, unless node was started with semi-space flags. */
export function capYoungGeneration(): void {
  if (observer !== null) return;
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  if (flags.some((f) => f.includes('semi-space') || f.includes('semi_space'))) return;
  const cap = 2 * SEMI_SPACE_CAP_BYTES;
  // No growth during start-up: loading and compiling the config is one synchronous burst in
  // which the GC observer cannot run, and would leave a 2 x 8 MiB young generation behind.
  let growing = false;
  v8.setFlagsFromString('--semi-space-growth-factor=1');
  const check = (): void => {
    const grow = newSpaceBytes() < cap;
    if (grow === growing) return;
    growing = grow;
    v8.setFlagsFromString(`--semi-space-growth-factor=${grow ? 2 : 1}`);
  };
  observer = new PerformanceObserver(check);
  observer.observe({ entryTypes: ['gc'] });
}
