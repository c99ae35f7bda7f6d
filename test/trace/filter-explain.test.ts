// The explain() hook: a filter tells trace what it would decide, with no side effect, and
// trace reports the decision, the policy that made it and the fix. Filters without a hook
// are listed as such; every Istio filter slot has its filter in this build, and each says why
// it has nothing to do when no policy applies. (This file registers test filters for its own
// process only: vitest runs each file in a fork.) The security filters' explanations are
// tested with real policies in security-explain.test.ts.

import { describe, expect, it } from 'vitest';
import { registerHttpFilter } from '../../src/proxy/http/connection-manager.js';
import { FilterStatus, type HttpFilter } from '../../src/proxy/http/filter.js';
import { sendLocalReply } from '../../src/proxy/http/local-reply.js';
import type { HttpStream } from '../../src/proxy/http/stream.js';
import { docs, gatewayYaml, serviceEntryYaml, virtualServiceYaml } from '../support/yaml.js';
import { configFile, tracer } from './helpers.js';

let onRequestCalls = 0;

/** A stand-in authorization filter: denies requests carrying x-deny, as an RBAC DENY rule would. */
const denyHeader: HttpFilter = {
  name: 'test.deny-header',
  onRequest(s: HttpStream) {
    onRequestCalls++;
    if (s.header('x-deny') === undefined) return FilterStatus.Continue;
    sendLocalReply(s, 403, 'RBAC: access denied', 0, 'rbac_access_denied_matched_policy[ns[istio-system]-policy[deny-header]-rule[0]]');
    return FilterStatus.Stop;
  },
  explain(s: HttpStream) {
    if (s.header('x-deny') === undefined) return { verdict: 'continue', summary: 'no DENY policy matches; no ALLOW policy applies' };
    return {
      verdict: 'reply', status: 403, body: 'RBAC: access denied', details: 'rbac_access_denied_matched_policy[ns[istio-system]-policy[deny-header]-rule[0]]',
      summary: 'RBAC: access denied by AuthorizationPolicy istio-system/deny-header rule 0 (header x-deny present)',
      decidedBy: { resource: 'AuthorizationPolicy istio-system/deny-header', rule: 'spec.rules[0]', file: '/etc/istio/deny.yaml', line: 12 },
      fix: 'remove the x-deny header, or narrow AuthorizationPolicy istio-system/deny-header rule 0',
    };
  },
};

const opaque: HttpFilter = { name: 'test.no-explain', onRequest: () => FilterStatus.Continue };

registerHttpFilter(denyHeader, 20);
registerHttpFilter(opaque, 90);

const yaml = docs(gatewayYaml(['a.example.com']), virtualServiceYaml('a', ['a.example.com'], `  - fault: {abort: {httpStatus: 503, percentage: {value: 10}}}
    route: [{destination: {host: svc}}]`), serviceEntryYaml('svc', 9000));

describe('trace: filters explain their decisions', () => {
  const trace = tracer([configFile(yaml)]);

  it('a denying filter ends the trace with its local reply, the policy that decided, and the fix', () => {
    const t = trace('GET', 'http://a.example.com/', { headers: ['x-deny: 1'] });
    expect(t.outcome).toMatchObject({ kind: 'local_reply', status: 403, body: 'RBAC: access denied' });
    expect(t.outcome.fix).toContain('deny-header');
    const f = t.filters.find((x) => x.name === 'test.deny-header');
    expect(f).toMatchObject({ verdict: 'reply', decidedBy: { resource: 'AuthorizationPolicy istio-system/deny-header', line: 12 } });
    expect(t.upstream).toBeNull();
  });

  it('explain() has no side effect: onRequest is never called by trace', () => {
    const before = onRequestCalls;
    trace('GET', 'http://a.example.com/', { headers: ['x-deny: 1'] });
    trace('GET', 'http://a.example.com/');
    expect(onRequestCalls).toBe(before);
  });

  it('passing filters continue to the router; a filter without a hook says so', () => {
    const t = trace('GET', 'http://a.example.com/');
    expect(t.outcome.kind).toBe('upstream');
    expect(t.filters.find((x) => x.name === 'test.deny-header')?.verdict).toBe('continue');
    expect(t.filters.find((x) => x.name === 'test.no-explain')).toMatchObject({ verdict: 'unknown', summary: expect.stringContaining('no explain hook') });
  });

  it('with no policy, each security filter says it has nothing to do and why; the fault filter explains its odds', () => {
    const t = trace('GET', 'http://a.example.com/');
    const byName = Object.fromEntries(t.filters.map((f) => [f.name, f]));
    expect(t.filters.filter((f) => f.verdict === 'not_configured')).toEqual([]);
    expect(byName['envoy.filters.http.jwt_authn']).toMatchObject({ verdict: 'skip', summary: 'no RequestAuthentication applies to this workload' });
    expect(byName['envoy.filters.http.ext_authz']).toMatchObject({ verdict: 'skip', summary: 'no CUSTOM AuthorizationPolicy applies to this workload' });
    expect(byName['envoy.filters.http.rbac']).toMatchObject({ verdict: 'skip', summary: 'no AuthorizationPolicy applies to this workload' });
    const rateLimits = t.filters.filter((f) => f.name.startsWith('envoy.filters.http.local_ratelimit@'));
    expect(rateLimits.length).toBeGreaterThan(0);
    for (const f of rateLimits) expect(f).toMatchObject({ verdict: 'skip', summary: 'no rate-limit EnvoyFilter applies to this chain' });
    expect(byName['envoy.filters.http.fault']).toMatchObject({ verdict: 'continue', summary: expect.stringContaining('abort with 503 for 10% of requests') });
    expect(byName['envoy.filters.http.cors']?.verdict).toBe('skip');
    // Filters with nothing to do share one step, grouped by reason.
    const skipped = t.steps.filter((s) => s.stage === 'filter' && s.result === 'skipped');
    expect(skipped).toHaveLength(1);
    expect(skipped[0]!.text).toContain('jwt_authn');
    expect(skipped[0]!.detail).toContain('cors: no corsPolicy on this route');
  });
});
