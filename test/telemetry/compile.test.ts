import { describe, expect, it } from 'vitest';
import { docs, gatewayYaml } from '../support/yaml.js';
import { compileTelemetryYaml, telemetry } from './helpers.js';

const GW = gatewayYaml(['*']);

const SEED_METRICS = `apiVersion: telemetry.istio.io/v1alpha1
kind: Telemetry
metadata:
  name: gateway-metrics
  namespace: istio-system
spec:
  selector:
    matchLabels:
      istio: ingressgateway
  metrics:
  - providers:
    - name: prometheus
    overrides:
    - match:
        metric: REQUEST_COUNT
      tagOverrides:
        source_principal:
          operation: UPSERT
          value: request.auth.principal
        response_code:
          operation: UPSERT
          value: response.code`;

const SEED_LOGGING = `apiVersion: telemetry.istio.io/v1alpha1
kind: Telemetry
metadata:
  name: gateway-logging
  namespace: istio-system
spec:
  selector:
    matchLabels:
      istio: ingressgateway
  accessLogging:
  - providers:
    - name: envoy
    filter:
      expression: response.code >= 400 # Log errors only`;

describe('Telemetry compile: nothing configured', () => {
  it('leaves the snapshot without telemetry (the data plane keeps its defaults)', () => {
    expect(compileTelemetryYaml(GW).snapshot.telemetry).toBeNull();
    expect(compileTelemetryYaml(GW, 'accessLogFormat: "%RESPONSE_CODE%\\n"').snapshot.telemetry).toBeNull();
    expect(compileTelemetryYaml(GW, 'defaultProviders: {accessLogging: [envoy], metrics: [prometheus]}').snapshot.telemetry).toBeNull();
  });

  it('a Telemetry that only restates the defaults changes nothing', () => {
    const { snapshot } = compileTelemetryYaml(docs(GW, telemetry('t', 'istio-system', 'accessLogging: [{providers: [{name: envoy}]}]\nmetrics: [{providers: [{name: prometheus}]}]')));
    expect(snapshot.telemetry).toBeNull();
  });
});

describe('Telemetry compile: the seed document', () => {
  it('applies both Telemetries to the ingress gateway, in order', () => {
    const { snapshot, diagnostics } = compileTelemetryYaml(docs(GW, SEED_METRICS, SEED_LOGGING));
    expect(diagnostics.filter((d) => d.level !== 'info')).toEqual([]);
    const t = snapshot.telemetry!;
    expect(t.applied).toEqual(['Telemetry istio-system/gateway-metrics', 'Telemetry istio-system/gateway-logging']);
    expect(t.client.accessLogs).toHaveLength(1);
    const log = t.client.accessLogs![0]!;
    expect(log).toMatchObject({ provider: 'envoy', path: '/dev/stdout', encoding: 'TEXT', format: null, filter: 'response.code >= 400' });
    expect(log.filterProgram?.type).toBe('bool');
    const rc = t.client.metrics!.overrides.REQUEST_COUNT!;
    expect(rc.disabled).toBe(false);
    expect(rc.tags.map((x) => [x.tag, x.operation, x.value])).toEqual([['response_code', 'UPSERT', 'response.code'], ['source_principal', 'UPSERT', 'request.auth.principal']]);
    expect(rc.tags.every((x) => x.program !== null)).toBe(true);
    expect(t.client.metrics!.overrides.REQUEST_DURATION).toBeUndefined();
    expect(t.client.tracing).toBeNull();
  });

  it('does not apply them to a workload the selector does not pick, nor from another namespace', () => {
    expect(compileTelemetryYaml(docs(GW, SEED_LOGGING), '', { labels: { istio: 'egressgateway' } }).snapshot.telemetry).toBeNull();
    expect(compileTelemetryYaml(docs(GW, SEED_LOGGING.replace('namespace: istio-system', 'namespace: default'))).snapshot.telemetry).toBeNull();
  });

  it('config_dump carries the settings, not the compiled programs', () => {
    const { snapshot } = compileTelemetryYaml(docs(GW, SEED_METRICS, SEED_LOGGING));
    const json = JSON.parse(JSON.stringify(snapshot.telemetry)) as { client: { accessLogs: Record<string, unknown>[] } };
    expect(Object.keys(json.client.accessLogs[0]!).sort()).toEqual(['encoding', 'filter', 'format', 'labels', 'path', 'provider']);
  });
});

describe('Telemetry compile: access logging across levels', () => {
  const root = (spec: string) => telemetry('mesh-default', 'istio-system', spec);
  const ns = (spec: string) => telemetry('ns-default', 'edge', spec);
  const wl = (spec: string) => telemetry('gw', 'edge', `selector: {matchLabels: {app: edge-gw}}\n${spec}`);
  const at = { namespace: 'edge', labels: { app: 'edge-gw' } };

  it('inherits the root filter; a namespace Telemetry disables logging; a workload one enables it again', () => {
    const filtered = compileTelemetryYaml(docs(root('accessLogging: [{providers: [{name: envoy}], filter: {expression: "response.code >= 500"}}]')), '', at).snapshot.telemetry!;
    expect(filtered.client.accessLogs!.map((l) => l.filter)).toEqual(['response.code >= 500']);
    const off = compileTelemetryYaml(docs(root('accessLogging: [{providers: [{name: envoy}], filter: {expression: "response.code >= 500"}}]'), ns('accessLogging: [{disabled: true}]')), '', at).snapshot.telemetry!;
    expect(off.client.accessLogs).toEqual([]);
    const on = compileTelemetryYaml(docs(root('accessLogging: [{providers: [{name: envoy}], filter: {expression: "response.code >= 500"}}]'), ns('accessLogging: [{disabled: true}]'), wl('accessLogging: [{providers: [{name: envoy}], filter: {expression: "response.code == 404"}}]')), '', at).snapshot.telemetry!;
    expect(on.applied).toEqual(['Telemetry istio-system/mesh-default', 'Telemetry edge/ns-default', 'Telemetry edge/gw']);
    expect(on.client.accessLogs!.map((l) => l.filter)).toEqual(['response.code == 404']);
  });

  it('disabling with no provider named disables Sluice\'s default log (envoy)', () => {
    const t = compileTelemetryYaml(docs(GW, telemetry('quiet', 'istio-system', 'accessLogging: [{disabled: true}]'))).snapshot.telemetry!;
    expect(t.client.accessLogs).toEqual([]);
  });

  it('match.mode SERVER leaves a gateway (a client) alone; CLIENT applies to it', () => {
    expect(compileTelemetryYaml(docs(GW, telemetry('t', 'istio-system', 'accessLogging: [{match: {mode: SERVER}, disabled: true}]'))).snapshot.telemetry).toBeNull();
    expect(compileTelemetryYaml(docs(GW, telemetry('t', 'istio-system', 'accessLogging: [{match: {mode: CLIENT}, disabled: true}]'))).snapshot.telemetry!.client.accessLogs).toEqual([]);
  });

  it('a sidecar compiles client and server modes apart', () => {
    const t = compileTelemetryYaml(telemetry('t', 'default', 'accessLogging: [{match: {mode: SERVER}, disabled: true}]'), '', { mode: 'sidecar', namespace: 'default', labels: { app: 'x' } }).snapshot.telemetry!;
    expect(t.client.accessLogs).toBeNull();
    expect(t.server.accessLogs).toEqual([]);
  });

  it('a Telemetry whose targetRefs names this Gateway API gateway applies', () => {
    const wl = { labels: { 'gateway.networking.k8s.io/gateway-name': 'edge' } };
    const t = compileTelemetryYaml(telemetry('t', 'istio-system', 'targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: edge}]\naccessLogging: [{disabled: true}]'), '', wl).snapshot.telemetry!;
    expect(t.client.accessLogs).toEqual([]);
    expect(compileTelemetryYaml(telemetry('t', 'istio-system', 'targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: other}]\naccessLogging: [{disabled: true}]'), '', wl).snapshot.telemetry).toBeNull();
  });

  it('envoyFileAccessLog providers: a file with a text format, JSON labels; the built-in takes the mesh encoding', () => {
    const mesh = `accessLogEncoding: JSON
extensionProviders:
- name: audit
  envoyFileAccessLog:
    path: /tmp/audit.log
    logFormat:
      text: "%REQ(:AUTHORITY)% %RESPONSE_CODE%\\n"
- name: json-file
  envoyFileAccessLog:
    path: /tmp/access.json
    logFormat:
      labels: {code: "%RESPONSE_CODE%", host: "%REQ(:AUTHORITY)%"}`;
    const t = compileTelemetryYaml(docs(GW, telemetry('t', 'istio-system', 'accessLogging: [{providers: [{name: envoy}, {name: audit}, {name: json-file}]}]')), mesh).snapshot.telemetry!;
    const logs = t.client.accessLogs!;
    expect(logs.map((l) => [l.provider, l.path, l.encoding])).toEqual([['envoy', '/dev/stdout', 'JSON'], ['audit', '/tmp/audit.log', 'TEXT'], ['json-file', '/tmp/access.json', 'JSON']]);
    expect(logs[0]!.labels).toHaveProperty('response_code', '%RESPONSE_CODE%');
    expect(logs[1]!.format).toBe('%REQ(:AUTHORITY)% %RESPONSE_CODE%\n');
    expect(logs[2]!.labels).toEqual({ code: '%RESPONSE_CODE%', host: '%REQ(:AUTHORITY)%' });
  });

  it('meshConfig.accessLogEncoding JSON alone switches the default log to Istio\'s JSON line', () => {
    const t = compileTelemetryYaml(GW, 'accessLogEncoding: JSON').snapshot.telemetry!;
    expect(t.applied).toEqual([]);
    expect(t.client.accessLogs!.map((l) => [l.provider, l.encoding])).toEqual([['envoy', 'JSON']]);
  });

  it('reports unknown and unsupported providers, and filters that can never evaluate', () => {
    const mesh = 'extensionProviders: [{name: als, envoyHttpAls: {service: als.default.svc.cluster.local, port: 9000}}]';
    const { snapshot, diagnostics } = compileTelemetryYaml(docs(GW, telemetry('t', 'istio-system', 'accessLogging:\n- providers: [{name: nope}, {name: als}, {name: envoy}]\n  filter: {expression: "response.cod >= 400"}')), mesh);
    const codes = diagnostics.map((d) => `${d.code} ${d.path}`);
    expect(codes).toContain('SLU0601 spec.accessLogging[0].providers');
    expect(codes).toContain('SLU0602 spec.accessLogging[0].providers');
    expect(codes).toContain('SLU0603 spec.accessLogging[0].filter.expression');
    expect(diagnostics.find((d) => d.code === 'SLU0603')!.message).toMatch(/No such key: cod/);
    // The filter that fails is kept: Envoy writes no line for it.
    expect(snapshot.telemetry!.client.accessLogs!.map((l) => l.provider)).toEqual(['envoy']);
    expect(snapshot.telemetry!.client.accessLogs![0]!.filterProgram!.expression).toBe('false');
  });
});

describe('Telemetry compile: metrics', () => {
  it('ALL_METRICS disabled at the root, enabled again for the workload with its own overrides', () => {
    const yaml = docs(GW,
      telemetry('mesh-default', 'istio-system', 'metrics: [{providers: [{name: prometheus}], overrides: [{match: {metric: ALL_METRICS}, disabled: true}]}]'),
      telemetry('gw', 'istio-system', `selector: {matchLabels: {istio: ingressgateway}}
metrics:
- overrides:
  - match: {metric: ALL_METRICS}
    disabled: false
  - match: {metric: REQUEST_DURATION}
    disabled: true
  - tagOverrides:
      destination_principal: {operation: REMOVE}
      request_host: {value: request.host}`));
    const m = compileTelemetryYaml(yaml).snapshot.telemetry!.client.metrics!;
    expect(m.disabled).toBe(false);
    expect(m.overrides.REQUEST_DURATION!.disabled).toBe(true);
    expect(m.overrides.REQUEST_COUNT!.tags.map((t) => `${t.operation} ${t.tag}`)).toEqual(['REMOVE destination_principal', 'UPSERT request_host']);
    expect(m.overrides.TCP_SENT_BYTES!.tags).toHaveLength(2);
    // Overridden alike: one object, so the data plane evaluates the tags once per request.
    expect(m.overrides.TCP_SENT_BYTES).toBe(m.overrides.REQUEST_COUNT);
  });

  it('any later override for the mode switches a disabled-all back on (Istio: root disables, namespace enables)', () => {
    const yaml = docs(GW,
      telemetry('mesh-default', 'istio-system', 'metrics: [{overrides: [{disabled: true}]}]'),
      telemetry('gw', 'istio-system', 'selector: {matchLabels: {istio: ingressgateway}}\nmetrics: [{overrides: [{match: {metric: REQUEST_COUNT}, tagOverrides: {x: {value: request.host}}}]}]'));
    const m = compileTelemetryYaml(yaml).snapshot.telemetry!.client.metrics!;
    expect(m.disabled).toBe(false);
    expect(Object.keys(m.overrides)).toEqual(['REQUEST_COUNT']);
    // ...but not for the other mode's override.
    const server = compileTelemetryYaml(docs(GW,
      telemetry('mesh-default', 'istio-system', 'metrics: [{overrides: [{disabled: true}]}]'),
      telemetry('gw', 'istio-system', 'selector: {matchLabels: {istio: ingressgateway}}\nmetrics: [{overrides: [{match: {metric: REQUEST_COUNT, mode: SERVER}, tagOverrides: {x: {value: request.host}}}]}]'))).snapshot.telemetry!.client.metrics!;
    expect(server.disabled).toBe(true);
  });

  it('ALL_METRICS disabled switches the mode off', () => {
    const m = compileTelemetryYaml(docs(GW, telemetry('t', 'istio-system', 'metrics: [{overrides: [{disabled: true}]}]'))).snapshot.telemetry!.client.metrics!;
    expect(m.disabled).toBe(true);
  });

  it('overrides accumulate from the root down, the more specific tag value winning', () => {
    const yaml = docs(GW,
      telemetry('root', 'istio-system', 'metrics: [{overrides: [{match: {metric: REQUEST_COUNT}, tagOverrides: {a: {value: "\'root\'"}, b: {value: "\'root\'"}}}]}]'),
      telemetry('gw', 'istio-system', 'selector: {matchLabels: {istio: ingressgateway}}\nmetrics: [{overrides: [{match: {metric: REQUEST_COUNT}, tagOverrides: {b: {value: "\'gw\'"}}}]}]'));
    const rc = compileTelemetryYaml(yaml).snapshot.telemetry!.client.metrics!.overrides.REQUEST_COUNT!;
    expect(rc.tags.map((t) => `${t.tag}=${t.value}`)).toEqual(["a='root'", "b='gw'"]);
  });

  it('a provider that is not Prometheus turns Istio metrics off (reported)', () => {
    const { snapshot, diagnostics } = compileTelemetryYaml(docs(GW, telemetry('t', 'istio-system', 'metrics: [{providers: [{name: stackdriver}]}]')));
    expect(snapshot.telemetry!.client.metrics).toMatchObject({ disabled: true, providers: [] });
    expect(diagnostics.map((d) => d.code)).toContain('SLU0601');
  });

  it('a tag value that cannot evaluate is reported; customMetric and reportingInterval are noted', () => {
    const { diagnostics } = compileTelemetryYaml(docs(GW, telemetry('t', 'istio-system', `metrics:
- reportingInterval: 10s
  overrides:
  - match: {customMetric: my_metric}
    disabled: true
  - match: {metric: REQUEST_COUNT}
    tagOverrides:
      who: {value: request.headers.user.nope}
      bad-name: {value: request.host}`)));
    const byCode = (c: string) => diagnostics.filter((d) => d.code === c).map((d) => d.path);
    expect(byCode('SLU0603')).toEqual(['spec.metrics[0].overrides[1].tagOverrides.who.value']);
    expect(byCode('SLU0606')).toEqual(expect.arrayContaining(['spec.metrics[0].reportingInterval', 'spec.metrics[0].overrides[0].match.customMetric', 'spec.metrics[0].overrides[1].tagOverrides.bad-name']));
  });
});

describe('Telemetry compile: tracing', () => {
  const mesh = `defaultConfig: {tracing: {sampling: 25}}
extensionProviders:
- name: zipkin
  zipkin: {service: zipkin.istio-system.svc.cluster.local, port: 9411}
- name: otel
  opentelemetry:
    service: otel-collector.observability.svc.cluster.local
    port: 4318
    http: {path: /v1/traces, timeout: 2s, headers: [{name: X-Tenant, value: acme}]}
- name: otel-grpc
  opentelemetry: {service: otel-collector.observability.svc.cluster.local, port: 4317}`;
  const collector = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: zipkin, namespace: istio-system}
spec:
  hosts: [zipkin.istio-system.svc.cluster.local]
  ports: [{number: 9411, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {http: 19411}}]`;

  it('the provider, sampling (Telemetry, else defaultConfig.tracing.sampling), custom tags, and the collector from the registry', () => {
    const t = compileTelemetryYaml(docs(GW, collector, telemetry('t', 'istio-system', `tracing:
- providers: [{name: zipkin}]
  customTags:
    team: {literal: {value: edge}}
    user: {header: {name: X-User, defaultValue: anonymous}}`)), mesh).snapshot.telemetry!;
    const tr = t.client.tracing!;
    expect(tr.provider).toMatchObject({ kind: 'zipkin', address: '127.0.0.1', addressPort: 19411, path: '/api/v2/spans', maxTagLength: 256 });
    expect(tr.randomSamplingPercentage).toBe(25);
    expect(tr.useRequestIdForTraceSampling).toBe(true);
    expect(tr.serviceName).toBe('istio-ingressgateway.istio-system');
    expect(tr.customTags).toEqual([{ tag: 'team', kind: 'literal', name: 'edge', defaultValue: '' }, { tag: 'user', kind: 'header', name: 'x-user', defaultValue: 'anonymous' }]);
  });

  it('a more specific Telemetry switches provider and overrides fields one by one', () => {
    const t = compileTelemetryYaml(docs(GW,
      telemetry('root', 'istio-system', 'tracing: [{providers: [{name: zipkin}], randomSamplingPercentage: 10, disableSpanReporting: true}]'),
      telemetry('gw', 'istio-system', 'selector: {matchLabels: {istio: ingressgateway}}\ntracing: [{providers: [{name: otel}], randomSamplingPercentage: 100}]')), mesh).snapshot.telemetry!;
    const tr = t.client.tracing!;
    expect(tr.provider).toMatchObject({ kind: 'opentelemetry', path: '/v1/traces', timeoutMs: 2000, headers: [['x-tenant', 'acme']] });
    expect(tr.randomSamplingPercentage).toBe(100);
    expect(tr.disableSpanReporting).toBe(true);
  });

  it('meshConfig.defaultProviders.tracing traces without any Telemetry', () => {
    const t = compileTelemetryYaml(GW, `${mesh}\ndefaultProviders: {tracing: [zipkin]}`).snapshot.telemetry!;
    expect(t.client.tracing!.provider.name).toBe('zipkin');
  });

  it('OTLP over gRPC is refused with the fix; an unknown collector host is sent to by name and reported', () => {
    const grpc = compileTelemetryYaml(docs(GW, telemetry('t', 'istio-system', 'tracing: [{providers: [{name: otel-grpc}]}]')), mesh);
    expect(grpc.snapshot.telemetry).toBeNull();
    expect(grpc.diagnostics.find((d) => d.code === 'SLU0602')!.fix).toMatch(/http: \{path: \/v1\/traces\}/);
    const byName = compileTelemetryYaml(docs(GW, telemetry('t', 'istio-system', 'tracing: [{providers: [{name: otel}]}]')), mesh);
    expect(byName.snapshot.telemetry!.client.tracing!.provider).toMatchObject({ address: 'otel-collector.observability.svc.cluster.local', addressPort: 4318 });
    expect(byName.diagnostics.map((d) => d.code)).toContain('SLU0605');
  });
});
