// Istio's HTTP metrics, kept as plain numbers per label set. prom-client hashes the 25 label
// values on every observe(); here a request finds its series with two Map lookups (cluster
// name, then a number) and bumps counters, and the registry reads the numbers at scrape time
// through SeriesMetric (same exposition, same JSON for cluster-wide aggregation).

/** Fixed-bucket histogram: non-cumulative counts, cumulated when exported. */
export class HistogramData {
  readonly bounds: readonly number[];
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length);
  }

  observe(v: number): void {
    const b = this.bounds;
    for (let i = 0; i < b.length; i++) {
      if (v <= b[i]!) { this.counts[i]!++; break; }
    }
    this.sum += v;
    this.count++;
  }
}

/** One label set of the Istio HTTP metrics. */
export class HttpSeries {
  readonly labels: Readonly<Record<string, string>>;
  requests = 0;
  readonly duration: HistogramData;
  readonly requestBytes: HistogramData;
  readonly responseBytes: HistogramData;

  constructor(labels: Readonly<Record<string, string>>, durationBuckets: readonly number[], sizeBuckets: readonly number[]) {
    this.labels = labels;
    this.duration = new HistogramData(durationBuckets);
    this.requestBytes = new HistogramData(sizeBuckets);
    this.responseBytes = new HistogramData(sizeBuckets);
  }
}

interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

/**
 * A prom-client registry entry (duck-typed like prom-client's own metrics: name, help, type,
 * get()) that exposes one field of every series: a counter, or a histogram in prom-client's
 * format (`_bucket` with `le`, `+Inf`, `_sum`, `_count`).
 */
export class SeriesMetric<T> {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'histogram';
  readonly aggregator = 'sum';
  readonly #series: readonly T[];
  readonly #field: (s: T) => number | HistogramData;
  readonly #labels: (s: T) => Readonly<Record<string, string>>;

  constructor(name: string, help: string, type: 'counter' | 'histogram', series: readonly T[], field: (s: T) => number | HistogramData, labels: (s: T) => Readonly<Record<string, string>> = (s) => (s as unknown as HttpSeries).labels) {
    this.name = name;
    this.help = help;
    this.type = type;
    this.#series = series;
    this.#field = field;
    this.#labels = labels;
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: MetricValue[] } {
    const values: MetricValue[] = [];
    for (const s of this.#series) {
      const labels = this.#labels(s);
      const f = this.#field(s);
      if (typeof f === 'number') { values.push({ labels: { ...labels }, value: f }); continue; }
      let acc = 0;
      for (let i = 0; i < f.bounds.length; i++) {
        acc += f.counts[i]!;
        values.push({ labels: { ...labels, le: f.bounds[i]! }, value: acc, metricName: `${this.name}_bucket` });
      }
      values.push({ labels: { ...labels, le: '+Inf' }, value: f.count, metricName: `${this.name}_bucket` });
      values.push({ labels: { ...labels }, value: f.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...labels }, value: f.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** prom-client calls these on registry reset; the series live as long as the process. */
  reset(): void {}
}
