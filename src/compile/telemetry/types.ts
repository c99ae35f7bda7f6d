// The compiled Telemetry of one workload (`Snapshot.telemetry`): what Istio's Telemetry API and
// the mesh config's telemetry settings make of access logs, metrics and tracing for this proxy.
// Plain data for config_dump; compiled pieces (CEL programs, log formatters) are
// non-enumerable. `Snapshot.telemetry` is null when nothing is configured: the data plane then
// pays one null check per request and keeps Sluice's defaults.

import type { AccessLogFormat } from '../../telemetry/access-log-format.js';
import type { CelProgram } from '../../telemetry/cel/expression.js';

/** Istio's WorkloadMode: a gateway and a sidecar's outbound side are CLIENT, a sidecar's inbound side SERVER. */
export type WorkloadMode = 'CLIENT' | 'SERVER';

export interface TelemetryConfig {
  /** `Telemetry ns/name` of the resources that apply, in Istio's order (root, namespace, workload). */
  readonly applied: readonly string[];
  /** Gateway and sidecar outbound traffic (Istio's CLIENT mode; gateways report as a client). */
  readonly client: TelemetryModeConfig;
  /** Sidecar inbound traffic (SERVER mode). */
  readonly server: TelemetryModeConfig;
}

export interface TelemetryModeConfig {
  /** null = Sluice's default access log (`--access-log`, Istio's TEXT line or accessLogFormat); [] = none. */
  readonly accessLogs: readonly AccessLogConfig[] | null;
  /** null = Istio's standard metrics unchanged. */
  readonly metrics: MetricsConfig | null;
  /** null = no tracing. */
  readonly tracing: TracingConfig | null;
}

// ---------------------------------------------------------------- access logs

export interface AccessLogConfig {
  /** Provider name (`envoy`, or a meshConfig.extensionProviders name; `mesh` for the legacy meshConfig log). */
  readonly provider: string;
  /** Where lines go: a file path; `/dev/stdout` is Sluice's `--access-log` target (stdout unless changed). */
  readonly path: string;
  readonly encoding: 'TEXT' | 'JSON';
  /** TEXT: the Envoy format (null = Istio's default line); JSON: null. */
  readonly format: string | null;
  /** JSON: the labels (key → Envoy format). */
  readonly labels: Readonly<Record<string, string>> | null;
  /** `filter.expression` (CEL), null = every request. */
  readonly filter: string | null;
  /** Compiled `filter` (non-enumerable). */
  readonly filterProgram: CelProgram | null;
  /** Compiled format (non-enumerable); null = Istio's default TEXT line. */
  readonly formatter: AccessLogFormat | null;
}

// ---------------------------------------------------------------- metrics

/** The Istio standard metrics a Telemetry override can name (MetricSelector.IstioMetric). */
export type IstioMetricName =
  | 'REQUEST_COUNT' | 'REQUEST_DURATION' | 'REQUEST_SIZE' | 'RESPONSE_SIZE'
  | 'TCP_OPENED_CONNECTIONS' | 'TCP_CLOSED_CONNECTIONS' | 'TCP_SENT_BYTES' | 'TCP_RECEIVED_BYTES'
  | 'GRPC_REQUEST_MESSAGES' | 'GRPC_RESPONSE_MESSAGES';

export interface TagOverride {
  readonly tag: string;
  readonly operation: 'UPSERT' | 'REMOVE';
  /** UPSERT: the CEL expression; REMOVE: null. */
  readonly value: string | null;
  /** Compiled `value` (non-enumerable). */
  readonly program: CelProgram | null;
}

/** One metric's overrides after merging every level. */
export interface MetricOverride {
  readonly disabled: boolean;
  /** In tag name order; labels not named keep Istio's value. */
  readonly tags: readonly TagOverride[];
}

export interface MetricsConfig {
  /** Metric providers in effect (`prometheus`); none = Istio metrics are not recorded. */
  readonly providers: readonly string[];
  /** Every metric of this mode disabled (ALL_METRICS disabled, or no Prometheus provider). */
  readonly disabled: boolean;
  /** Overrides by metric; a metric absent here is recorded as Istio records it. */
  readonly overrides: Readonly<Partial<Record<IstioMetricName, MetricOverride>>>;
}

// ---------------------------------------------------------------- tracing

export interface TracingProvider {
  /** meshConfig.extensionProviders name. */
  readonly name: string;
  readonly kind: 'zipkin' | 'opentelemetry';
  /** The collector's service host and port as configured. */
  readonly service: string;
  readonly port: number;
  /** Where spans are sent: an endpoint address from the registry, else the service host (resolved with --resolve / DNS). */
  readonly address: string;
  readonly addressPort: number;
  /** HTTP path: zipkin `/api/v2/spans` (or `path`), OTLP `http.path` (`/v1/traces`). */
  readonly path: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly timeoutMs: number;
  /** Zipkin: tag values longer than this are truncated (Istio's maxTagLength, default 256). */
  readonly maxTagLength: number;
}

export interface CustomTag {
  readonly tag: string;
  readonly kind: 'literal' | 'environment' | 'header';
  /** literal: the value; environment/header: the variable / header name (header lower-case). */
  readonly name: string;
  readonly defaultValue: string;
}

export interface TracingConfig {
  readonly provider: TracingProvider;
  /** 0–100; Telemetry randomSamplingPercentage, else meshConfig.defaultConfig.tracing.sampling, else 1. */
  readonly randomSamplingPercentage: number;
  /** Spans are not exported; context is still propagated and sampled (as Istio documents). */
  readonly disableSpanReporting: boolean;
  readonly useRequestIdForTraceSampling: boolean;
  readonly enableIstioTags: boolean;
  readonly customTags: readonly CustomTag[];
  /** The span's `node_id` / service name (`istio-ingressgateway.istio-system`). */
  readonly serviceName: string;
  /** meshConfig.defaultConfig.meshId, else the trust domain (Istio's istio.mesh_id). */
  readonly meshId: string;
}
