// Istio's standard metrics as a Telemetry resource reshapes them (`metrics.overrides`):
// disabled metrics, and tag overrides — UPSERT a label to a CEL value (a new label adds a
// dimension), REMOVE a label. metrics.ts calls `recordHttp` / `recordTcp` only when the
// snapshot has a Telemetry config (one null check otherwise); when the workload mode has a
// metrics config, the request is recorded here, as plain numbers per label set, and merged
// into metrics.ts's Prometheus families at scrape time (`attach`). A label set both sides
// hold (a reload moved traffic from one side to the other) is summed, so it appears once.

import type { IstioMetricName, MetricOverride, MetricsConfig, TelemetryConfig } from '../compile/telemetry/types.js';
import type { HttpStream } from '../proxy/http/stream.js';
import type { TcpSession } from '../proxy/tcp/tcp-session.js';
import { Attributes } from './cel/attributes.js';
import { celValueToString, ERROR } from './cel/expression.js';
import { telemetryMode } from './mode.js';
import { HistogramData } from './series.js';
import { log } from '../util/log.js';

/**
 * Label sets kept per metric before new ones collapse into one `overflow` series: a tag value
 * taken from a request (`request.host`, a header) must not let clients grow memory without
 * bound. Said once in the log when reached.
 */
export const MAX_SERIES_PER_METRIC = 10_000;

const HTTP_METRICS: readonly IstioMetricName[] = ['REQUEST_COUNT', 'REQUEST_DURATION', 'REQUEST_SIZE', 'RESPONSE_SIZE'];
const TCP_METRICS: readonly IstioMetricName[] = ['TCP_OPENED_CONNECTIONS', 'TCP_CLOSED_CONNECTIONS', 'TCP_SENT_BYTES', 'TCP_RECEIVED_BYTES'];

interface Series {
  readonly labels: Readonly<Record<string, string>>;
  value: number;
  readonly histogram: HistogramData | null;
}

/** A prom-client value entry (what `metric.get()` returns in `values`). */
interface PromValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
  sharedLabels?: Record<string, string | number>;
}

/** One label object per value (prom-client's splayLabels). */
function splay(v: PromValue): PromValue {
  if (v.sharedLabels === undefined) return v;
  const { sharedLabels, ...rest } = v;
  return { ...rest, labels: { ...sharedLabels, ...v.labels } };
}

/** What a registry entry returns from get() (prom-client's MetricObjectWithValues). */
interface PromMetric {
  get(): unknown;
  getForPromString?: () => unknown;
}

/** Labels for the base (Istio) label set of one request or connection, built when a series is new. */
export type BaseLabels = () => Readonly<Record<string, string>>;

export class TelemetryMetrics {
  readonly #series = new Map<IstioMetricName, Map<string, Series>>();
  readonly #overflowed = new Set<IstioMetricName>();
  readonly #durationBuckets: readonly number[];
  readonly #sizeBuckets: readonly number[];

  constructor(durationBuckets: readonly number[], sizeBuckets: readonly number[]) {
    this.#durationBuckets = durationBuckets;
    this.#sizeBuckets = sizeBuckets;
  }

  /**
   * Records the request's HTTP metrics when this mode has a metrics config (disabled metrics
   * are skipped, overridden ones get their labels); false = no config, the caller records it.
   * @param baseKey identifies the request's Istio label set (the caller's series key).
   */
  recordHttp(s: HttpStream, t: TelemetryConfig, baseKey: string, base: BaseLabels): boolean {
    const m = telemetryMode(t, s.conn).metrics;
    if (m === null) return false;
    if (!m.disabled) this.#record(s, m, HTTP_METRICS, [1, performance.now() - s.startMs, s.bytesReceived, s.bytesSent], baseKey, base);
    return true;
  }

  /** The TCP counterpart of recordHttp: opened, closed, sent, received. */
  recordTcp(s: TcpSession, t: TelemetryConfig, baseKey: string, base: BaseLabels): boolean {
    const m = telemetryMode(t, s.conn).metrics;
    if (m === null) return false;
    if (!m.disabled) this.#record(s, m, TCP_METRICS, [1, 1, s.bytesSent, s.bytesReceived], baseKey, base);
    return true;
  }

  #record(s: HttpStream | TcpSession, m: MetricsConfig, names: readonly IstioMetricName[], vals: readonly number[], baseKey: string, base: BaseLabels): void {
    let attrs: Attributes | null = null;
    let baseLabels: Readonly<Record<string, string>> | null = null;
    // Metrics overridden alike (ALL_METRICS) share one MetricOverride: evaluate its tags once.
    let lastOverride: MetricOverride | null = null;
    let lastValues: string[] = [];
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      const o = m.overrides[name] ?? null;
      if (o !== null && o.disabled) continue;
      let key = baseKey;
      if (o !== null) {
        if (o !== lastOverride) {
          attrs ??= new Attributes(s);
          lastValues = tagValues(o, attrs);
          lastOverride = o;
        }
        key = `${baseKey}\u0000${lastValues.join('\u0001')}`;
      }
      let byKey = this.#series.get(name);
      if (byKey === undefined) this.#series.set(name, (byKey = new Map()));
      let series = byKey.get(key);
      if (series === undefined) {
        let values = lastValues;
        if (o !== null && byKey.size >= MAX_SERIES_PER_METRIC) {
          if (!this.#overflowed.has(name)) {
            this.#overflowed.add(name);
            log('warn', 'metrics', `${name}: ${MAX_SERIES_PER_METRIC} label sets from Telemetry tag overrides; further values are counted as "overflow" (check the tag values' cardinality)`);
          }
          values = values.map(() => 'overflow');
          key = `${baseKey}\u0000${values.join('\u0001')}\u0002`;
          series = byKey.get(key);
        }
        if (series === undefined) {
          baseLabels ??= base();
          series = { labels: o === null ? baseLabels : applyTags(baseLabels, o, values), value: 0, histogram: this.#histogramFor(name) };
          byKey.set(key, series);
        }
      }
      if (series.histogram === null) series.value += vals[i]!;
      else series.histogram.observe(vals[i]!);
    }
  }

  #histogramFor(name: IstioMetricName): HistogramData | null {
    switch (name) {
      case 'REQUEST_DURATION': return new HistogramData(this.#durationBuckets);
      case 'REQUEST_SIZE': case 'RESPONSE_SIZE': return new HistogramData(this.#sizeBuckets);
      default: return null;
    }
  }

  /**
   * Makes the registry entry `metric` (a prom-client Counter/Histogram, or any entry with
   * get()) also expose the series of `name` kept here.
   */
  attach(metric: PromMetric, name: IstioMetricName): void {
    // prom-client's histograms render text from getForPromString (labels split into `labels`
    // and `sharedLabels`, and get() calls it): both are replaced by one merged view.
    const hasText = typeof metric.getForPromString === 'function';
    const own = hasText ? metric.getForPromString!.bind(metric) : metric.get.bind(metric);
    const series = (): Map<string, Series> | undefined => this.#series.get(name);
    const merged = async (): Promise<unknown> => {
      const r = (await own()) as { name: string; values: PromValue[] };
      const mine = series();
      if (mine === undefined || mine.size === 0) return hasText ? { ...r, values: r.values.map(splay) } : r;
      return { ...r, values: mergeValues(r.values.map(splay), exportSeries(r.name, mine)) };
    };
    metric.get = merged;
    if (hasText) metric.getForPromString = merged;
  }

}

/** The tag values of one override for one request: REMOVE → '', a failing CEL → 'unknown'. */
function tagValues(o: MetricOverride, a: Attributes): string[] {
  const out: string[] = new Array<string>(o.tags.length);
  for (let i = 0; i < o.tags.length; i++) {
    const t = o.tags[i]!;
    if (t.operation === 'REMOVE') { out[i] = ''; continue; }
    const v = t.program === null ? ERROR : t.program.evaluate(a);
    out[i] = v === ERROR ? 'unknown' : (celValueToString(v) ?? 'unknown');
  }
  return out;
}

function applyTags(base: Readonly<Record<string, string>>, o: MetricOverride, values: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = { ...base };
  for (let i = 0; i < o.tags.length; i++) {
    const t = o.tags[i]!;
    if (t.operation === 'REMOVE') delete labels[t.tag];
    else labels[t.tag] = values[i]!;
  }
  return labels;
}

function exportSeries(name: string, series: Map<string, Series>): PromValue[] {
  const out: PromValue[] = [];
  for (const s of series.values()) {
    const h = s.histogram;
    if (h === null) { out.push({ labels: { ...s.labels }, value: s.value }); continue; }
    let acc = 0;
    for (let i = 0; i < h.bounds.length; i++) {
      acc += h.counts[i]!;
      out.push({ labels: { ...s.labels, le: h.bounds[i]! }, value: acc, metricName: `${name}_bucket` });
    }
    out.push({ labels: { ...s.labels, le: '+Inf' }, value: h.count, metricName: `${name}_bucket` });
    out.push({ labels: { ...s.labels }, value: h.sum, metricName: `${name}_sum` });
    out.push({ labels: { ...s.labels }, value: h.count, metricName: `${name}_count` });
  }
  return out;
}

function valueKey(v: PromValue): string {
  const keys = Object.keys(v.labels).sort();
  let k = v.metricName ?? '';
  for (const l of keys) k += `\u0000${l}=${v.labels[l]}`;
  return k;
}

/** Both sides' values; a label set present on both is summed (a series must appear once). */
function mergeValues(a: readonly PromValue[], b: readonly PromValue[]): PromValue[] {
  const byKey = new Map<string, PromValue>();
  const out: PromValue[] = [];
  for (const v of a) { const c = { ...v }; byKey.set(valueKey(c), c); out.push(c); }
  for (const v of b) {
    const k = valueKey(v);
    const have = byKey.get(k);
    if (have !== undefined) have.value += v.value;
    else { byKey.set(k, v); out.push(v); }
  }
  return out;
}
