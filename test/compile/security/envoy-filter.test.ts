// EnvoyFilter patches → what the filter chains carry, and what Sluice says about the rest.

import { describe, expect, it } from 'vitest';
import type { LocalRateLimitInstance } from '../../../src/proxy/filters/ratelimit/slots.js';
import type { Snapshot } from '../../../src/compile/snapshot.js';
import { HTTP_AND_TCP_GATEWAY } from '../../support/yaml.js';
import { chainOf, compileYaml } from './helpers.js';

const GW = `
${HTTP_AND_TCP_GATEWAY}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: istio-system}
spec:
  hosts: ["api.example.com"]
  gateways: [gw]
  http:
  - name: slow-lane
    match: [{uri: {prefix: /slow}}]
    route: [{destination: {host: b.default.svc.cluster.local, port: {number: 80}}}]
  - route: [{destination: {host: b.default.svc.cluster.local, port: {number: 80}}}]
  tcp: [{route: [{destination: {host: b.default.svc.cluster.local, port: {number: 80}}}]}]
`;

const LRL = (bucket = 'max_tokens: 10, tokens_per_fill: 10, fill_interval: 60s', extra = 'filter_enabled: {default_value: {numerator: 100}}, filter_enforced: {default_value: {numerator: 100}}') =>
  `{"@type": type.googleapis.com/udpa.type.v1.TypedStruct, type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit, value: {stat_prefix: rl, token_bucket: {${bucket}}, ${extra}}}`;

function ef(patches: string, meta = 'name: ef, namespace: istio-system', spec = ''): string {
  return `---\napiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata: {${meta}}\nspec:\n  workloadSelector: {labels: {istio: ingressgateway}}\n${spec}  configPatches:\n${patches}`;
}

function httpFilterPatch(op: string, sub: string | null, value: string, match = 'context: GATEWAY'): string {
  const subFilter = sub === null ? '' : `, subFilter: {name: ${sub}}`;
  return `  - applyTo: HTTP_FILTER\n    match: {${match}, listener: {filterChain: {filter: {name: envoy.filters.network.http_connection_manager${subFilter}}}}}\n    patch: {operation: ${op}, value: {name: envoy.filters.http.local_ratelimit, typed_config: ${value}}}\n`;
}

function snap(yaml: string, w: Parameters<typeof compileYaml>[1] = {}): Snapshot {
  return compileYaml(GW + yaml, { labels: { istio: 'ingressgateway' }, namespace: 'istio-system', ...w });
}

/** Slot index of each rate-limit instance on the HTTP chain of port 80. */
function slots(s: Snapshot): number[] {
  const rl = chainOf(s, 80).policies.rateLimits;
  if (rl === null) return [];
  const out: number[] = [];
  rl.slots.forEach((list, i) => { for (const _ of list ?? []) out.push(i); });
  return out;
}

function codes(s: Snapshot): string[] {
  return s.diagnostics.map((d) => d.code);
}

describe('HTTP_FILTER local_ratelimit placement (Istio listener_patch.go semantics)', () => {
  it('INSERT_BEFORE router → right before the router (slot 5)', () => {
    const s = snap(ef(httpFilterPatch('INSERT_BEFORE', 'envoy.filters.http.router', LRL())));
    expect(slots(s)).toEqual([5]);
    const inst = chainOf(s, 80).policies.rateLimits!.slots[5]![0] as LocalRateLimitInstance;
    expect(inst.config).toMatchObject({ statPrefix: 'rl', bucket: { maxTokens: 10, tokensPerFill: 10, fillIntervalMs: 60_000 }, enabledPerMillion: 1_000_000, enforcedPerMillion: 1_000_000, status: 429 });
  });

  it('INSERT_BEFORE without subFilter inserts first, as Istio does (before jwt_authn and rbac)', () => {
    expect(slots(snap(ef(httpFilterPatch('INSERT_BEFORE', null, LRL()))))).toEqual([0]);
  });

  it('INSERT_FIRST → slot 0', () => {
    expect(slots(snap(ef(httpFilterPatch('INSERT_FIRST', 'envoy.filters.http.router', LRL()))))).toEqual([0]);
  });

  it('INSERT_BEFORE rbac lands after jwt_authn, before rbac', () => {
    const ap = '---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a, namespace: istio-system}\nspec: {action: DENY, rules: [{to: [{operation: {paths: [/x]}}]}]}\n';
    const ra = `---\napiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: r, namespace: istio-system}\nspec: {jwtRules: [{issuer: x, jwks: '{"keys":[]}'}]}\n`;
    expect(slots(snap(ap + ra + ef(httpFilterPatch('INSERT_BEFORE', 'envoy.filters.http.rbac', LRL()))))).toEqual([2]);
    expect(slots(snap(ap + ra + ef(httpFilterPatch('INSERT_BEFORE', 'envoy.filters.http.jwt_authn', LRL()))))).toEqual([0]);
    expect(slots(snap(ap + ra + ef(httpFilterPatch('INSERT_AFTER', 'envoy.filters.http.rbac', LRL()))))).toEqual([3]);
  });

  it('INSERT_BEFORE a filter the chain does not have → not applied, reported', () => {
    const s = snap(ef(httpFilterPatch('INSERT_BEFORE', 'envoy.filters.http.rbac', LRL())));
    expect(slots(s)).toEqual([]);
    expect(codes(s)).toContain('SLU0535');
  });

  it('INSERT_AFTER router and ADD would follow the terminal filter: Envoy NACKs, Sluice reports', () => {
    for (const [op, sub] of [['INSERT_AFTER', 'envoy.filters.http.router'], ['ADD', null]] as const) {
      const s = snap(ef(httpFilterPatch(op, sub, LRL())));
      expect(slots(s)).toEqual([]);
      const d = s.diagnostics.find((x) => x.code === 'SLU0524')!;
      expect(d.message).toContain('after the router');
      expect(d.fix).toContain('INSERT_BEFORE');
    }
  });

  it('INSERT_AFTER fault → between cors and the router in Sluice order', () => {
    expect(slots(snap(ef(httpFilterPatch('INSERT_AFTER', 'envoy.filters.http.fault', LRL()))))).toEqual([4]);
  });

  it('priority orders patches: lower priority is applied first (so it ends up later with INSERT_FIRST)', () => {
    const a = ef(httpFilterPatch('INSERT_FIRST', null, LRL('max_tokens: 1, fill_interval: 1s')), 'name: a, namespace: istio-system', '  priority: 10\n');
    const b = ef(httpFilterPatch('INSERT_FIRST', null, LRL('max_tokens: 2, fill_interval: 1s')), 'name: b, namespace: istio-system', '  priority: -5\n');
    const list = chainOf(snap(a + b), 80).policies.rateLimits!.slots[0]! as LocalRateLimitInstance[];
    expect(list.map((i) => i.config!.bucket!.maxTokens)).toEqual([1, 2]);
  });

  it('MERGE into an inserted local_ratelimit changes its config', () => {
    const merge = `  - applyTo: HTTP_FILTER\n    match: {listener: {filterChain: {filter: {name: envoy.filters.network.http_connection_manager, subFilter: {name: envoy.filters.http.local_ratelimit}}}}}\n    patch: {operation: MERGE, value: {typed_config: {"@type": type.googleapis.com/udpa.type.v1.TypedStruct, type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit, value: {token_bucket: {max_tokens: 3}}}}}\n`;
    const s = snap(ef(httpFilterPatch('INSERT_BEFORE', 'envoy.filters.http.router', LRL()) + merge));
    const inst = chainOf(s, 80).policies.rateLimits!.slots[5]![0] as LocalRateLimitInstance;
    expect(inst.config!.bucket).toEqual({ maxTokens: 3, tokensPerFill: 10, fillIntervalMs: 60_000 });
  });

  it('a direct @type with camelCase fields is read too', () => {
    const v = '{"@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit, statPrefix: direct, tokenBucket: {maxTokens: 5, fillInterval: 2s}, filterEnabled: {defaultValue: {numerator: 50, denominator: HUNDRED}}, filterEnforced: {defaultValue: {numerator: 1000000, denominator: MILLION}}}';
    const inst = chainOf(snap(ef(httpFilterPatch('INSERT_BEFORE', 'envoy.filters.http.router', v))), 80).policies.rateLimits!.slots[5]![0] as LocalRateLimitInstance;
    expect(inst.config).toMatchObject({ statPrefix: 'direct', bucket: { maxTokens: 5, tokensPerFill: 1, fillIntervalMs: 2000 }, enabledPerMillion: 500_000, enforcedPerMillion: 1_000_000 });
  });

  it('filter_enabled / filter_enforced unset = 0%: the seed egress trap is reported', () => {
    const s = snap(ef(httpFilterPatch('INSERT_BEFORE', null, LRL('max_tokens: 1000, tokens_per_fill: 1000, fill_interval: 60s', 'x: 1').replace(', x: 1', ''))));
    const inst = chainOf(s, 80).policies.rateLimits!.slots[0]![0] as LocalRateLimitInstance;
    expect(inst.config!.enabledPerMillion).toBe(0);
    expect(s.diagnostics.find((d) => d.code === 'SLU0527')!.fix).toContain('filter_enabled');
    const enforcedOnly = snap(ef(httpFilterPatch('INSERT_BEFORE', null, LRL(undefined, 'filter_enabled: {default_value: {numerator: 100}}'))));
    expect(codes(enforcedOnly)).toContain('SLU0528');
  });

  it('invalid LocalRateLimit configs are refused with the field and Envoy\'s rule', () => {
    const s = snap(ef(httpFilterPatch('INSERT_BEFORE', 'envoy.filters.http.router', LRL('max_tokens: 10, fill_interval: 10ms'))));
    expect(slots(s)).toEqual([]);
    const d = s.diagnostics.find((x) => x.code === 'SLU0523')!;
    expect(d.message).toContain('token_bucket.fill_interval');
    expect(d.message).toContain('>= 50ms');
    const noPrefix = snap(ef(httpFilterPatch('INSERT_BEFORE', 'envoy.filters.http.router', '{"@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit, token_bucket: {max_tokens: 1, fill_interval: 1s}}')));
    expect(noPrefix.diagnostics.find((x) => x.code === 'SLU0523')!.message).toContain('stat_prefix');
  });

  it('other HTTP filters (lua, wasm, ...) are reported as not implemented', () => {
    const lua = `  - applyTo: HTTP_FILTER\n    match: {listener: {filterChain: {filter: {name: envoy.filters.network.http_connection_manager, subFilter: {name: envoy.filters.http.router}}}}}\n    patch: {operation: INSERT_BEFORE, value: {name: envoy.lua, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua, inlineCode: "x"}}}\n`;
    const s = snap(ef(lua));
    expect(s.diagnostics.find((d) => d.code === 'SLU0522')!.message).toContain('envoy.lua');
  });

  it('REMOVE of an Istio filter (rbac) is refused', () => {
    const ap = '---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a, namespace: istio-system}\nspec: {action: DENY, rules: [{to: [{operation: {paths: [/x]}}]}]}\n';
    const rm = `  - applyTo: HTTP_FILTER\n    match: {listener: {filterChain: {filter: {name: envoy.filters.network.http_connection_manager, subFilter: {name: envoy.filters.http.rbac}}}}}\n    patch: {operation: REMOVE}\n`;
    const s = snap(ap + ef(rm));
    expect(codes(s)).toContain('SLU0525');
    expect(chainOf(s, 80).policies.rbac).not.toBeNull();
  });
});

describe('matching: context, ports, namespace', () => {
  it('SIDECAR contexts do not apply to a gateway', () => {
    const s = snap(ef(httpFilterPatch('INSERT_BEFORE', 'envoy.filters.http.router', LRL(), 'context: SIDECAR_INBOUND')));
    expect(slots(s)).toEqual([]);
    expect(codes(s)).toContain('SLU0533');
  });

  it('listener.portNumber matches the port the listener binds (Istio: the target port)', () => {
    const m = (p: number) => `context: GATEWAY, listener: {portNumber: ${p}, filterChain: {filter: {name: envoy.filters.network.http_connection_manager, subFilter: {name: envoy.filters.http.router}}}}`;
    const patch = (p: number) => `  - applyTo: HTTP_FILTER\n    match: {${m(p)}}\n    patch: {operation: INSERT_BEFORE, value: {name: envoy.filters.http.local_ratelimit, typed_config: ${LRL()}}}\n`;
    const mapped = { portMap: new Map([[80, 8080]]) };
    expect(slots(snap(ef(patch(8080)), mapped))).toEqual([5]);
    const byServicePort = snap(ef(patch(80)), mapped);
    expect(slots(byServicePort)).toEqual([]);
    expect(byServicePort.diagnostics.find((d) => d.code === 'SLU0535')!.message).toContain('here 8080');
  });

  it('an EnvoyFilter in another namespace does not apply (and start-up says so)', () => {
    const s = snap(ef(httpFilterPatch('INSERT_BEFORE', 'envoy.filters.http.router', LRL()), 'name: ef, namespace: default'));
    expect(slots(s)).toEqual([]);
    expect(codes(s)).toContain('SLU0501');
  });

  it('TCP chains get no HTTP filters', () => {
    const s = snap(ef(httpFilterPatch('INSERT_BEFORE', 'envoy.filters.http.router', LRL())));
    expect(chainOf(s, 9000, 'tcp').policies.rateLimits).toBeNull();
  });

  it('unsupported applyTo kinds are reported, not silently dropped', () => {
    const s = snap(ef('  - applyTo: CLUSTER\n    match: {cluster: {service: b.default.svc.cluster.local}}\n    patch: {operation: MERGE, value: {connect_timeout: 1s}}\n'));
    expect(s.diagnostics.find((d) => d.code === 'SLU0520')!.message).toContain('applyTo CLUSTER');
  });
});

describe('NETWORK_FILTER MERGE of the HTTP connection manager', () => {
  const perf = (extra = '') => `  - applyTo: NETWORK_FILTER\n    match: {listener: {filterChain: {filter: {name: "envoy.filters.network.http_connection_manager"}}}}\n    patch:\n      operation: MERGE\n      value:\n        typed_config:\n          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager\n          common_http_protocol_options: {max_connection_duration: 3600s, idle_timeout: 300s}\n${extra}`;

  it('the seed gateway-performance filter sets idle_timeout and max_connection_duration', () => {
    const s = snap(ef(perf()));
    expect(chainOf(s, 80).policies).toMatchObject({ idleTimeoutMs: 300_000, maxConnectionDurationMs: 3_600_000 });
    expect(chainOf(s, 9000, 'tcp').policies.idleTimeoutMs).toBe(3_600_000);
    expect(s.diagnostics.filter((d) => d.code.startsWith('SLU05'))).toEqual([]);
  });

  it('fields Sluice does not apply are named', () => {
    const s = snap(ef(perf('          stream_idle_timeout: 10s\n')));
    expect(s.diagnostics.find((d) => d.code === 'SLU0530')!.message).toContain('stream_idle_timeout');
  });
});

describe('VIRTUAL_HOST / HTTP_ROUTE: per-route config and rate_limits', () => {
  const insert = httpFilterPatch('INSERT_BEFORE', 'envoy.filters.http.router', '{"@type": type.googleapis.com/udpa.type.v1.TypedStruct, type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit, value: {stat_prefix: http_local_rate_limiter}}');
  const perRoute = `  - applyTo: HTTP_ROUTE\n    match: {context: GATEWAY, routeConfiguration: {vhost: {name: "api.example.com:80", route: {name: slow-lane}}}}\n    patch:\n      operation: MERGE\n      value:\n        typed_per_filter_config:\n          envoy.filters.http.local_ratelimit: ${LRL('max_tokens: 2, fill_interval: 60s')}\n`;
  const vhostLimits = '  - applyTo: VIRTUAL_HOST\n    match: {context: GATEWAY, routeConfiguration: {vhost: {name: ""}}}\n    patch: {operation: MERGE, value: {rate_limits: [{actions: [{request_headers: {header_name: ":path", descriptor_key: PATH}}]}]}}\n';

  it('typed_per_filter_config on one route (Istio docs pattern: bucket per route, filter-level config without bucket)', () => {
    const s = snap(ef(insert + perRoute));
    const inst = chainOf(s, 80).policies.rateLimits!.slots[5]![0] as LocalRateLimitInstance;
    expect(inst.config!.bucket).toBeNull();
    expect([...inst.perRoute!.keys()].map((k) => (k as { name: string }).name)).toEqual(['slow-lane']);
    expect([...inst.perRoute!.values()][0]!.bucket!.maxTokens).toBe(2);
  });

  it('typed_per_filter_config without the filter inserted has no effect, and is reported', () => {
    expect(codes(snap(ef(perRoute)))).toContain('SLU0536');
  });

  it('VIRTUAL_HOST rate_limits actions are compiled for every virtual host (empty name = any)', () => {
    const s = snap(ef(insert + vhostLimits));
    const rl = chainOf(s, 80).policies.rateLimits!;
    const [scope, limits] = [...rl.routeRateLimits!][0]!;
    expect((scope as { name: string }).name).toBe('api.example.com:80');
    expect(limits[0]!.actions[0]).toEqual({ type: 'request_headers', header: ':path', key: 'PATH', skipIfAbsent: false });
  });

  it('unknown rate limit actions are refused with the supported list', () => {
    const bad = vhostLimits.replace('request_headers: {header_name: ":path", descriptor_key: PATH}', 'dynamic_metadata: {}');
    expect(snap(ef(insert + bad)).diagnostics.find((d) => d.code === 'SLU0523')!.message).toContain('dynamic_metadata is not supported');
  });
});

describe('match.proxy (istiod proxyMatch)', () => {
  const withProxy = (proxy: string): string => httpFilterPatch('INSERT_BEFORE', 'envoy.filters.http.router', LRL(), `context: GATEWAY, proxy: ${proxy}`);

  it('metadata that equals the node metadata of this gateway applies the patch', () => {
    const s = snap(ef(withProxy('{metadata: {ISTIO_VERSION: "1.24.0", NAMESPACE: istio-system, ROUTER_MODE: standard, CLUSTER_ID: Kubernetes}}')));
    expect(slots(s)).toEqual([5]);
    expect(codes(s)).not.toContain('SLU0521');
  });

  it('a metadata value this proxy does not have skips the patch, says which key and what the proxy has', () => {
    const s = snap(ef(withProxy('{metadata: {ROUTER_MODE: sni-dnat}}')));
    expect(slots(s)).toEqual([]);
    const d = s.diagnostics.find((x) => x.code === 'SLU0521')!;
    expect(d.level).toBe('info');
    expect(d.message).toContain('ROUTER_MODE=sni-dnat does not match this proxy (ROUTER_MODE=standard)');
    expect(d.fix).toContain('ISTIO_VERSION=1.24.0');
  });

  it('a sidecar has INTERCEPTION_MODE, not ROUTER_MODE', () => {
    const s = snap(ef(withProxy('{metadata: {INTERCEPTION_MODE: REDIRECT}}')));
    expect(slots(s)).toEqual([]);
    expect(s.diagnostics.find((x) => x.code === 'SLU0521')!.message).toContain('INTERCEPTION_MODE=(not set)');
  });

  it('proxyVersion is a regex against Istio 1.24.0', () => {
    expect(slots(snap(ef(withProxy('{proxyVersion: "^1\\\\.2[0-9].*"}'))))).toEqual([5]);
    expect(slots(snap(ef(withProxy('{proxyVersion: "^1\\\\.1[0-9].*"}'))))).toEqual([]);
  });
});
