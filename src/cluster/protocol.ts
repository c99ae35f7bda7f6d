// Messages between the primary and its workers (`sluice run --concurrency N`).
//
//   primary: flags, first config check (exit 2), admin API, file watcher, token buckets,
//            circuit-breaker limits (leases.ts), outlier detection (outliers.ts),
//            forks N workers and restarts one that dies
//   workers: each builds the same snapshot from the same files and serves the listeners,
//            which node:cluster shares (the primary accepts, workers get connections in turn)

import type { WorkloadCertificate } from '../security/workload-cert.js';

/** A workload certificate as it crosses the IPC channel (dates as ISO text). */
export interface WireCertificate extends Omit<WorkloadCertificate, 'notBefore' | 'notAfter'> {
  notBefore: string;
  notAfter: string;
}

export function toWire(c: WorkloadCertificate): WireCertificate {
  return { ...c, notBefore: c.notBefore.toISOString(), notAfter: c.notAfter.toISOString() };
}

export function fromWire(w: WireCertificate): WorkloadCertificate {
  return { ...w, notBefore: new Date(w.notBefore), notAfter: new Date(w.notAfter) };
}

/** A worker's answer to `ask clusters`: its clusters and filter counters (summed in the primary). */
export interface WorkerStatsView {
  clusters: WorkerClusterView[];
  filters: Record<string, number>;
}

/** What a worker reports about one cluster for /stats and /clusters. */
export interface WorkerClusterView {
  name: string;
  maxConnections: number;
  stats: Record<string, number>;
  byClass: number[];
  hosts: { id: string; activeRequests: number; ejectedUntil: number }[];
  dnsError: string;
}

export interface TokenBucketSpecMessage {
  maxTokens: number;
  tokensPerFill: number;
  fillIntervalMs: number;
}

export type ToWorker =
  /** Build the config again from the files and apply it (the primary saw a change). */
  | { t: 'reload' }
  /** Graceful drain, then exit 0. */
  | { t: 'drain'; timeoutMs: number }
  /** An admin API question; answered with `answer` and the same id. */
  | { t: 'ask'; id: number; what: 'metrics' | 'clusters' }
  /** The primary's answer to a `take`. */
  | { t: 'taken'; id: number; ok: boolean; remaining: number; msToNextFill: number }
  /** The primary's answer to an `incr`: the new totals. */
  | { t: 'incred'; id: number; totals: number[] }
  /** The primary's answer to a `lease`: `n` slots granted, 0 when the cluster is at its limit. */
  | { t: 'leased'; id: number; n: number }
  /** Give back the free slots of circuit-breaker resource `key`; answered with `returned`. */
  | { t: 'reclaim'; key: string }
  /** Outlier detection: `host` of `cluster` has an error streak; report its next success. */
  | { t: 'streak'; cluster: string; host: string }
  /** JWKS of source `key` as the primary holds it: the answer to `jwks` (`id` > 0), or news after any fetch (`id` 0). */
  | { t: 'jwks'; id: number; key: string; text: string; fetchedAt: number; error: string | null }
  /** The gateway's workload certificate (`--mesh-ca-dir`): at a worker's start and after each renewal, before the `reload`. */
  | { t: 'certificate'; cert: WireCertificate; trustDomain: string }
  /** Outlier detection: eject `host` until `until` (ms since the epoch); `reporter` (worker id) counts it in its stats. */
  | { t: 'eject'; cluster: string; host: string; until: number; ejections: number; reporter: number };

export type ToPrimary =
  | { t: 'ready'; version: number; ports: [string, number][]; errors: string[] }
  | { t: 'applied'; version: number; errors: string[] }
  | { t: 'answer'; id: number; data: unknown }
  /** Take one token from the process-wide bucket `key`. */
  | { t: 'take'; id: number; key: string; spec: TokenBucketSpecMessage }
  /** Global rate limit counters kept in the primary (no Redis): add `hits` to each key. */
  | { t: 'incr'; id: number; keys: { key: string; ttlSeconds: number }[]; hits: number }
  /** Fetch JWKS source `key` (the reason is logged); answered with `jwks` and the same id. */
  | { t: 'jwks'; id: number; key: string; why: string; unknownKid: string | null }
  /** A starting worker asks for the gateway's workload certificate (answered with `certificate`). */
  | { t: 'identity' }
  /** Lease `want` slots of circuit-breaker resource `key` (`<cluster>|<resource>`, limit `max`). */
  | { t: 'lease'; id: number; key: string; max: number; want: number }
  /** Took a slot of `key` without a lease (a pool's first connection, as Envoy allows). */
  | { t: 'forced'; key: string; max: number }
  /** The answer to `reclaim`: `n` slots given back. */
  | { t: 'returned'; key: string; n: number }
  /** Outlier detection: an upstream error (or the first success after a streak) for `host` (`address:port`) of `cluster`, which has `hosts` hosts. */
  | { t: 'outlier'; cluster: string; host: string; status: number; local: boolean; hosts: number };

export function isMessage(m: unknown): m is { t: string } {
  return typeof m === 'object' && m !== null && typeof (m as { t?: unknown }).t === 'string';
}
