import { PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import v8 from 'node:v8';

// V8 grows the young generation (two semi-spaces) up to 2 x 16 MiB under allocation pressure.
// For a proxy that is mostly garbage — a request's objects die within milliseconds — a larger
// young generation buys nothing measurable (bench/run.sh: equal req/s, lower p99 with smaller
// scavenges) but costs RSS. `--max-semi-space-size` only works on the command line, which
// `sluice run` does not control; the growth factor is read by V8 each time it grows the young
// generation, so it can be switched at run time: grow (factor 2) while below the cap, stay
// (factor 1) once there. Checked after each GC, so the cap may be passed by one doubling.
//
// Growth is also kept off (1 MiB semi-spaces) while the process starts (loading modules and
// compiling the config would grow it to the cap and leave it there, idle: ~6 MiB of RSS) and
// whenever scavenges are rare (an idle or lightly loaded gateway: 1000 keep-alive connections
// opening over a second do not need a large young generation). It grows only under sustained
// allocation — SUSTAINED_GCS scavenges in a row closer than GROW_INTERVAL_MS, which at 1 MiB is
// > 50 MB/s for 0.2 s, the rate of a busy proxy — where the larger young generation saves scavenges (bench: −15% req/s at 1 MiB).
// V8 shrinks it again by itself at a GC with a low allocation rate.

/** Semi-space cap: the young generation stays at about 2 x this. */
const SEMI_SPACE_CAP_BYTES = 4 * 1024 * 1024;
/** Scavenges at least this close together mean sustained allocation: growing pays. */
const GROW_INTERVAL_MS = 20;
/** ... this many in a row (~0.2 s): a burst, such as 1000 clients connecting at once, is not a load. */
const SUSTAINED_GCS = 10;

let observer: PerformanceObserver | null = null;
/** performance.now() when serving started; GCs before it (start-up) never grow the young generation. */
let servingSince = Infinity;

function newSpaceBytes(): number {
  for (const s of v8.getHeapSpaceStatistics()) if (s.space_name === 'new_space') return s.space_size;
  return 0;
}

/** Keeps the young generation at 2 x 1 MiB at rest and near 2 x 4 MiB under load, unless node was started with semi-space flags. */
export function capYoungGeneration(): void {
  if (observer !== null) return;
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  if (flags.some((f) => f.includes('semi-space') || f.includes('semi_space'))) return;
  const cap = 2 * SEMI_SPACE_CAP_BYTES;
  let growing = false;
  let lastGc = -Infinity;
  let closeGcs = 0;
  v8.setFlagsFromString('--semi-space-growth-factor=1');
  const check = (list: { getEntries(): PerformanceEntry[] }): void => {
    // Entries arrive in batches after the fact; their start times tell how close the GCs were.
    for (const e of list.getEntries()) {
      if (e.startTime < servingSince) continue;
      closeGcs = e.startTime - lastGc < GROW_INTERVAL_MS ? closeGcs + 1 : 0;
      lastGc = e.startTime;
    }
    const grow = closeGcs >= SUSTAINED_GCS && newSpaceBytes() < cap;
    if (grow === growing) return;
    growing = grow;
    v8.setFlagsFromString(`--semi-space-growth-factor=${grow ? 2 : 1}`);
  };
  observer = new PerformanceObserver(check);
  observer.observe({ entryTypes: ['gc'] });
}

/** Start-up is over (the first config serves): from now on, sustained load may grow the young generation. */
export function youngGenerationServing(): void {
  if (servingSince === Infinity) servingSince = performance.now();
}
