import { PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import v8 from 'node:v8';

// V8 grows the young generation (two semi-spaces) up to 2 x 16 MiB under allocation pressure.
// `--max-semi-space-size` only works on the command line, which `sluice run` does not control;
// the growth factor is read by V8 each time it grows the young generation, so it can be
// switched at run time.
//
// Growth is kept off (factor 1: 1 MiB semi-spaces) while the process starts (loading modules
// and compiling the config would grow it and leave it there, idle: ~6 MiB of RSS) and while
// scavenges are rare (an idle or lightly loaded gateway: 1000 keep-alive connections opening
// over a second do not need a large young generation). Once allocation is sustained —
// SUSTAINED_GCS scavenges in a row closer than GROW_INTERVAL_MS, which at 1 MiB is > 50 MB/s
// for 0.2 s, the rate of a busy proxy — growth is switched on for good and the observer
// removed: V8 sizes the young generation itself from then on (up to its default 2 x 16 MiB)
// and shrinks it again by itself at a GC with a low allocation rate. An earlier version
// capped it at 2 x 4 MiB by switching the factor back to 1 at the cap: in the same bench run
// (bench/run.sh --rounds 5 --scenarios small,16k,rss --compare) that cost 11% req/s on small
// and 16 KiB GETs and raised the small-GET p99 from 3.6 to 4.4 ms, for no difference in RSS
// at start or with 1000 idle connections (busy 1000: 115 vs 111 MiB).

/** Scavenges at least this close together mean sustained allocation: growing pays. */
const GROW_INTERVAL_MS = 20;
/** ... this many in a row (~0.2 s): a burst, such as 1000 clients connecting at once, is not a load. */
const SUSTAINED_GCS = 10;

let observer: PerformanceObserver | null = null;
/** performance.now() when serving started; GCs before it (start-up) never grow the young generation. */
let servingSince = Infinity;

/** Keeps the young generation at 2 x 1 MiB through start-up and light load; V8's own sizing after sustained load, unless node was started with semi-space flags. */
export function capYoungGeneration(): void {
  if (observer !== null) return;
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  if (flags.some((f) => f.includes('semi-space') || f.includes('semi_space'))) return;
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
    if (closeGcs < SUSTAINED_GCS) return;
    // Sustained load: from now on V8 sizes the young generation itself (up to its default
    // 2 x 16 MiB, shrinking it again at low allocation rates). Capping it (2 x 4 MiB) or
    // switching the growth factor back and forth cost 5-7% req/s and a higher p99 in the same
    // bench run (bench/run.sh --scenarios small: more scavenges, each as short).
    v8.setFlagsFromString('--semi-space-growth-factor=2');
    observer?.disconnect();
  };
  observer = new PerformanceObserver(check);
  observer.observe({ entryTypes: ['gc'] });
}

/** Start-up is over (the first config serves): from now on, sustained load may grow the young generation. */
export function youngGenerationServing(): void {
  if (servingSince === Infinity) servingSince = performance.now();
}
