// EnvoyFilter on a sidecar: which patches reach its inbound listener (SIDECAR_INBOUND, matched
// by the application port) and its outbound listeners (SIDECAR_OUTBOUND, one per destination
// port), with workloadSelector and namespace scoping as istiod applies them.

import { describe, expect, it } from 'vitest';
import type { WorkloadOptions } from '../../../src/compile/compile.js';
import type { Snapshot } from '../../../src/compile/snapshot.js';
import { streamRateLimits, type LocalRateLimitInstance, type RateLimitPolicies } from '../../../src/proxy/filters/ratelimit/slots.js';
import { serviceEntryYaml } from '../../support/yaml.js';
import { compileYaml } from './helpers.js';

const APP_PORT = 8080;

const SERVICES = `
${serviceEntryYaml('reviews', undefined, 9080)}
`;

const LRL = (tokens = 3) =>
  `{"@type": type.googleapis.com/udpa.type.v1.TypedStruct, type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit, value: {stat_prefix: http_local_rate_limiter, token_bucket: {max_tokens: ${tokens}, tokens_per_fill: ${tokens}, fill_interval: 60s}, filter_enabled: {runtime_key: e, default_value: {numerator: 100, denominator: HUNDRED}}, filter_enforced: {runtime_key: f, default_value: {numerator: 100, denominator: HUNDRED}}, response_headers_to_add: [{append_action: OVERWRITE_IF_EXISTS_OR_ADD, header: {key: x-local-rate-limit, value: 'true'}}]}}`;

interface EfOptions {
  name?: string;
  namespace?: string;
  selector?: string | null;
  context?: string;
  listener?: string;
}

/** An EnvoyFilter inserting local_ratelimit before the router, Istio's local rate limit task shape. */
function rateLimitFilter(o: EfOptions = {}): string {
  const selector = o.selector === null ? '' : `  workloadSelector: {labels: {${o.selector ?? 'app: httpbin'}}}\n`;
  const listener = o.listener !== undefined ? `${o.listener}, ` : '';
  return `---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: ${o.name ?? 'rl'}, namespace: ${o.namespace ?? 'default'}}
spec:
${selector}  configPatches:
  - applyTo: HTTP_FILTER
    match: {${o.context !== undefined ? `context: ${o.context}, ` : ''}listener: {${listener}filterChain: {filter: {name: envoy.filters.network.http_connection_manager, subFilter: {name: envoy.filters.http.router}}}}}
    patch: {operation: INSERT_BEFORE, value: {name: envoy.filters.http.local_ratelimit, typed_config: ${LRL()}}}
`;
}

const SIDECAR = (o: Partial<WorkloadOptions> = {}): WorkloadOptions => ({
  mode: 'sidecar',
  labels: { app: 'httpbin' },
  namespace: 'default',
  serviceAccount: 'httpbin',
  sidecarPorts: { outboundPort: 15001, inboundPort: 15006, appPort: APP_PORT },
  ...o,
});

function sidecar(yaml: string, o: Partial<WorkloadOptions> = {}): Snapshot {
  return compileYaml(SERVICES + yaml, SIDECAR(o));
}

function inboundLimits(s: Snapshot): RateLimitPolicies | null {
  return s.sidecar!.inbound!.httpChain.policies.rateLimits;
}

/** Route configuration names ("80", "9080") whose outbound listener has a rate limit. */
function outboundPorts(s: Snapshot): string[] {
  const rl = s.sidecar!.outbound.chain.policies.rateLimits;
  return rl === null ? [] : [...(rl.byRouteConfig?.keys() ?? [])];
}

function outcome(s: Snapshot, name = 'rl'): string | undefined {
  return s.envoyFilterPatches?.find((o) => o.resource === `EnvoyFilter default/${name}` || o.resource === `EnvoyFilter istio-system/${name}`)?.outcome;
}

function codes(s: Snapshot): string[] {
  return s.diagnostics.map((d) => d.code);
}

describe('EnvoyFilter context on a sidecar', () => {
  it('SIDECAR_INBOUND: the inbound HTTP chain gets the local rate limit before the router; outbound stays unlimited', () => {
    const s = sidecar(rateLimitFilter({ context: 'SIDECAR_INBOUND' }));
    const rl = inboundLimits(s);
    expect(rl).not.toBeNull();
    expect(rl!.slots[5]).toHaveLength(1);
    expect((rl!.slots[5]![0] as LocalRateLimitInstance).config).toMatchObject({ statPrefix: 'http_local_rate_limiter', bucket: { maxTokens: 3 }, status: 429 });
    expect(s.sidecar!.inbound!.tcpChain.policies.rateLimits).toBeNull();
    expect(s.sidecar!.outbound.chain.policies.rateLimits).toBeNull();
    expect(outcome(s)).toBe('applied');
  });

  it('SIDECAR_OUTBOUND: every outbound HTTP port gets it (route configurations 80 and 9080); inbound stays unlimited', () => {
    const s = sidecar(rateLimitFilter({ context: 'SIDECAR_OUTBOUND' }));
    expect(inboundLimits(s)).toBeNull();
    expect(outboundPorts(s).sort()).toEqual(['80', '9080']);
    expect(outcome(s)).toBe('applied');
  });

  it('ANY (no context): both sides', () => {
    const s = sidecar(rateLimitFilter());
    expect(inboundLimits(s)).not.toBeNull();
    expect(outboundPorts(s).sort()).toEqual(['80', '9080']);
  });

  it('GATEWAY: a sidecar is left alone (SLU0533, no effect); a sidecar-context filter leaves a gateway alone', () => {
    const s = sidecar(rateLimitFilter({ context: 'GATEWAY' }));
    expect(inboundLimits(s)).toBeNull();
    expect(s.sidecar!.outbound.chain.policies.rateLimits).toBeNull();
    expect(codes(s)).toContain('SLU0533');
    expect(outcome(s)).toBe('no_effect');

    const gw = compileYaml(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
${rateLimitFilter({ context: 'SIDECAR_INBOUND', namespace: 'istio-system', selector: 'istio: ingressgateway' })}${rateLimitFilter({ name: 'out', context: 'SIDECAR_OUTBOUND', namespace: 'istio-system', selector: 'istio: ingressgateway' })}`, { labels: { istio: 'ingressgateway' }, namespace: 'istio-system' });
    expect(gw.listeners.flatMap((l) => l.filterChains).map((c) => c.policies.rateLimits)).toEqual([null]);
    expect(gw.envoyFilterPatches?.map((o) => o.outcome)).toEqual(['no_effect', 'no_effect']);
  });
});

describe('listener.portNumber on a sidecar', () => {
  it('SIDECAR_INBOUND matches the application port (the chain Istio gives the Service targetPort), not the inbound listener port', () => {
    expect(inboundLimits(sidecar(rateLimitFilter({ context: 'SIDECAR_INBOUND', listener: `portNumber: ${APP_PORT}` })))).not.toBeNull();
    const on15006 = sidecar(rateLimitFilter({ context: 'SIDECAR_INBOUND', listener: 'portNumber: 15006' }));
    expect(inboundLimits(on15006)).toBeNull();
    expect(outcome(on15006)).toBe('no_effect');
    const d = on15006.diagnostics.find((x) => x.code === 'SLU0535');
    expect(d?.message).toContain(`the application port`);
    expect(d?.message).toContain(`here ${APP_PORT}`);
  });

  it('SIDECAR_INBOUND listener name virtualInbound matches; another name does not', () => {
    expect(inboundLimits(sidecar(rateLimitFilter({ context: 'SIDECAR_INBOUND', listener: 'name: virtualInbound' })))).not.toBeNull();
    expect(inboundLimits(sidecar(rateLimitFilter({ context: 'SIDECAR_INBOUND', listener: 'name: 0.0.0.0_8080' })))).toBeNull();
  });

  it('SIDECAR_OUTBOUND matches the destination (service) port: only that port is limited', () => {
    const s = sidecar(rateLimitFilter({ context: 'SIDECAR_OUTBOUND', listener: 'portNumber: 9080' }));
    expect(outboundPorts(s)).toEqual(['9080']);
    const rl = s.sidecar!.outbound.chain.policies.rateLimits;
    const rcs = s.routeConfigs;
    expect(streamRateLimits(rl, rcs.get('9080')!)?.slots[5]).toHaveLength(1);
    expect(streamRateLimits(rl, rcs.get('80')!)).toBeNull();
    // Unknown ports go to the fallback (Istio's TCP passthrough: no HTTP filters).
    expect(streamRateLimits(rl, rcs.get('*')!)).toBeNull();
  });

  it('SIDECAR_OUTBOUND on a port no service uses: no effect, with the reason', () => {
    const s = sidecar(rateLimitFilter({ context: 'SIDECAR_OUTBOUND', listener: 'portNumber: 7777' }));
    expect(s.sidecar!.outbound.chain.policies.rateLimits).toBeNull();
    expect(s.diagnostics.find((x) => x.code === 'SLU0535')?.message).toContain('no outbound HTTP listener for port 7777');
  });

  it('a sidecar without --app-port has no inbound side: SIDECAR_INBOUND says so', () => {
    const s = sidecar(rateLimitFilter({ context: 'SIDECAR_INBOUND' }), { sidecarPorts: { outboundPort: 15001, inboundPort: 15006, appPort: null } });
    expect(s.sidecar!.inbound).toBeNull();
    expect(s.diagnostics.find((x) => x.code === 'SLU0535')?.message).toContain('--app-port');
  });
});

describe('workloadSelector and namespaces on a sidecar', () => {
  it('the selector must match the sidecar labels', () => {
    expect(inboundLimits(sidecar(rateLimitFilter({ context: 'SIDECAR_INBOUND', selector: 'app: other' })))).toBeNull();
    expect(inboundLimits(sidecar(rateLimitFilter({ context: 'SIDECAR_INBOUND', selector: 'app: httpbin' }), { labels: { app: 'httpbin', version: 'v1' } }))).not.toBeNull();
  });

  it('a filter in another namespace never applies; one in the root namespace without selector applies mesh-wide', () => {
    expect(inboundLimits(sidecar(rateLimitFilter({ context: 'SIDECAR_INBOUND', namespace: 'other' })))).toBeNull();
    expect(inboundLimits(sidecar(rateLimitFilter({ context: 'SIDECAR_INBOUND', namespace: 'istio-system', selector: null })))).not.toBeNull();
    // A selector in the root namespace reaches matching workloads of every namespace.
    expect(inboundLimits(sidecar(rateLimitFilter({ context: 'SIDECAR_INBOUND', namespace: 'istio-system' })))).not.toBeNull();
  });

  it('a namespace-wide filter (no selector) applies to every sidecar of its namespace', () => {
    expect(inboundLimits(sidecar(rateLimitFilter({ context: 'SIDECAR_INBOUND', selector: null }), { labels: { app: 'anything' } }))).not.toBeNull();
  });
});

describe('other supported patches on a sidecar', () => {
  const hcmMerge = (context: string, listener = '') => `---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: hcm, namespace: default}
spec:
  workloadSelector: {labels: {app: httpbin}}
  configPatches:
  - applyTo: NETWORK_FILTER
    match: {context: ${context}, listener: {${listener}filterChain: {filter: {name: envoy.filters.network.http_connection_manager}}}}
    patch:
      operation: MERGE
      value: {typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager, common_http_protocol_options: {idle_timeout: 7s, max_connection_duration: 30s}}}
`;

  it('NETWORK_FILTER MERGE of the connection manager: inbound HTTP chain, or every outbound connection', () => {
    const inb = sidecar(hcmMerge('SIDECAR_INBOUND'));
    expect(inb.sidecar!.inbound!.httpChain.policies).toMatchObject({ idleTimeoutMs: 7000, maxConnectionDurationMs: 30_000 });
    expect(inb.sidecar!.outbound.chain.policies.idleTimeoutMs).not.toBe(7000);
    const out = sidecar(hcmMerge('SIDECAR_OUTBOUND'));
    expect(out.sidecar!.outbound.chain.policies).toMatchObject({ idleTimeoutMs: 7000, maxConnectionDurationMs: 30_000 });
    expect(out.sidecar!.inbound!.httpChain.policies.idleTimeoutMs).not.toBe(7000);
  });

  it('NETWORK_FILTER MERGE for one outbound port is not applied (one explicit-proxy connection serves every port): SLU0539', () => {
    const s = sidecar(hcmMerge('SIDECAR_OUTBOUND', 'portNumber: 9080, '));
    expect(s.sidecar!.outbound.chain.policies.idleTimeoutMs).not.toBe(7000);
    expect(codes(s)).toContain('SLU0539');
    expect(s.envoyFilterPatches?.find((o) => o.resource === 'EnvoyFilter default/hcm')).toMatchObject({ outcome: 'not_applied', code: 'SLU0539' });
  });

  it('VIRTUAL_HOST rate_limits and HTTP_ROUTE per-route config on the inbound route configuration (inbound|<port>||)', () => {
    const s = sidecar(`---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: rl, namespace: default}
spec:
  workloadSelector: {labels: {app: httpbin}}
  configPatches:
  - applyTo: HTTP_FILTER
    match: {context: SIDECAR_INBOUND, listener: {filterChain: {filter: {name: envoy.filters.network.http_connection_manager}}}}
    patch: {operation: INSERT_BEFORE, value: {name: envoy.filters.http.local_ratelimit, typed_config: {"@type": type.googleapis.com/udpa.type.v1.TypedStruct, type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit, value: {stat_prefix: http_local_rate_limiter}}}}
  - applyTo: HTTP_ROUTE
    match: {context: SIDECAR_INBOUND, routeConfiguration: {vhost: {name: "inbound|http|${APP_PORT}", route: {action: ANY}}}}
    patch: {operation: MERGE, value: {typed_per_filter_config: {envoy.filters.http.local_ratelimit: ${LRL(5)}}}}
`);
    const rl = inboundLimits(s)!;
    const inst = rl.slots[0]![0] as LocalRateLimitInstance;
    const route = s.routeConfigs.get(`inbound|${APP_PORT}||`)!.virtualHosts[0]!.routes[0]!;
    expect(inst.perRoute?.get(route)).toMatchObject({ bucket: { maxTokens: 5 } });
    expect(s.envoyFilterPatches?.map((o) => o.outcome)).toEqual(['applied', 'applied']);
  });
});
