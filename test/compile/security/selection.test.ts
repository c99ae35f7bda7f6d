import { describe, expect, it } from 'vitest';
import { findPolicyScopeProblems, findWorkloadScopeProblems } from '../../../src/compile/security/index.js';
import { policyAttaches, selectPolicies, type PolicyTarget } from '../../../src/compile/security/selection.js';
import type { Resource } from '../../../src/config/resource.js';
import { compileYaml, storeFromYaml } from './helpers.js';

const gateway: PolicyTarget = { namespace: 'istio-system', labels: { istio: 'ingressgateway', app: 'istio-ingressgateway' }, rootNamespace: 'istio-system', gateways: ['istio-system/main-gateway'] };
const appPod: PolicyTarget = { namespace: 'shop', labels: { app: 'cart' }, rootNamespace: 'istio-system', gateways: [] };

function ap(ns: string, spec: string): string {
  return `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: ${ns}}\nspec: ${spec}\n`;
}

function attaches(yaml: string, t: PolicyTarget): boolean {
  const { store, diagnostics } = storeFromYaml(yaml);
  expect(diagnostics.filter((d) => d.level === 'error')).toEqual([]);
  const r = [...store.list('AuthorizationPolicy'), ...store.list('RequestAuthentication'), ...store.list('EnvoyFilter')][0]!;
  return policyAttaches(r as Resource<'AuthorizationPolicy'>, t);
}

describe('which policies attach to a workload (Istio ShouldAttachPolicy)', () => {
  const grid: [string, string, PolicyTarget, boolean][] = [
    ['selector in the workload namespace', ap('istio-system', '{selector: {matchLabels: {istio: ingressgateway}}}'), gateway, true],
    ['selector with a label the workload lacks', ap('istio-system', '{selector: {matchLabels: {istio: egressgateway}}}'), gateway, false],
    ['selector in another namespace (the seed trap)', ap('default', '{selector: {matchLabels: {istio: ingressgateway}}}'), gateway, false],
    ['namespace-wide policy (no selector) in the workload namespace', ap('shop', '{action: DENY, rules: [{}]}'), appPod, true],
    ['namespace-wide policy of another namespace', ap('default', '{action: DENY, rules: [{}]}'), appPod, false],
    ['root namespace without selector = whole mesh', ap('istio-system', '{action: DENY, rules: [{}]}'), appPod, true],
    ['root namespace with selector reaches matching workloads in every namespace', ap('istio-system', '{selector: {matchLabels: {app: cart}}}'), appPod, true],
    ['root namespace with a non-matching selector', ap('istio-system', '{selector: {matchLabels: {app: other}}}'), appPod, false],
    ['targetRef on a non-Gateway-API workload is ignored', ap('istio-system', '{targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: main}]}'), gateway, false],
    ['targetRef to the Gateway API gateway this workload is', ap('istio-system', '{targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: main}]}'), { ...gateway, labels: { 'gateway.networking.k8s.io/gateway-name': 'main' } }, true],
    ['targetRef to another Gateway API gateway', ap('istio-system', '{targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: other}]}'), { ...gateway, labels: { 'gateway.networking.k8s.io/gateway-name': 'main' } }, false],
    ['EnvoyFilter workloadSelector', 'apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata: {name: f, namespace: istio-system}\nspec: {workloadSelector: {labels: {istio: ingressgateway}}, configPatches: []}\n', gateway, true],
    ['EnvoyFilter in default with a gateway selector', 'apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata: {name: f, namespace: default}\nspec: {workloadSelector: {labels: {istio: ingressgateway}}, configPatches: []}\n', gateway, false],
    ['RequestAuthentication selector', 'apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: r, namespace: istio-system}\nspec: {selector: {matchLabels: {istio: ingressgateway}}, jwtRules: [{issuer: x, jwks: \'{"keys":[]}\'}]}\n', gateway, true],
  ];
  for (const [name, yaml, t, want] of grid) it(name, () => expect(attaches(yaml, t)).toBe(want));

  it('lists own-namespace policies before root-namespace ones', () => {
    const { store } = storeFromYaml(`${ap('istio-system', '{action: DENY, rules: [{}]}').replace('name: p', 'name: root')}---\n${ap('shop', '{action: DENY, rules: [{}]}').replace('name: p', 'name: own')}`);
    expect(selectPolicies(store, 'AuthorizationPolicy', appPod).map((r) => r.name)).toEqual(['own', 'root']);
  });
});

// The seed's security section, as written: policies in `default`, gateways in istio-system.
const SEED = `
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: main-gateway, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["api.example.com"]}]
---
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: istio-egressgateway, namespace: istio-system}
spec:
  selector: {istio: egressgateway}
  servers: [{port: {number: 443, name: tls, protocol: TLS}, hosts: ["*.googleapis.com"], tls: {mode: PASSTHROUGH}}]
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: restrict-egress, namespace: default}
spec:
  selector: {matchLabels: {istio: egressgateway}}
  action: ALLOW
  rules: [{to: [{operation: {hosts: ["api.trusted-service.com", "*.internal.company.com"], ports: ["443", "8443"]}}]}]
---
apiVersion: security.istio.io/v1beta1
kind: RequestAuthentication
metadata: {name: jwt-auth, namespace: default}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  jwtRules: [{issuer: "https://auth.example.com", jwksUri: "https://auth.example.com/.well-known/jwks.json", audiences: ["api.example.com"]}]
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: require-jwt, namespace: default}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  action: ALLOW
  rules: [{from: [{source: {requestPrincipals: ["*"]}}]}]
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: nobody, namespace: default}
spec:
  selector: {matchLabels: {app: does-not-exist}}
`;

describe('findPolicyScopeProblems (for `sluice analyze`)', () => {
  it('flags the seed policies: selector matches a gateway in istio-system, policy lives in default', () => {
    const { store } = storeFromYaml(SEED);
    const ds = findPolicyScopeProblems(store, { rootNamespace: 'istio-system' });
    const by = (name: string) => ds.find((d) => d.resource?.endsWith(`default/${name}`));
    for (const name of ['restrict-egress', 'jwt-auth', 'require-jwt']) {
      const d = by(name)!;
      expect(d, name).toBeDefined();
      expect(d.code).toBe('SLU0501');
      expect(d.level).toBe('warning');
      expect(d.message).toContain('namespace istio-system');
      expect(d.fix).toContain('move it to namespace istio-system');
      expect(d.path).toBe('spec.selector');
      expect(d.line).toBeGreaterThan(0);
    }
    expect(by('restrict-egress')!.message).toContain('Gateway istio-system/istio-egressgateway');
    expect(by('jwt-auth')!.message).toContain('tokens are not validated there');
  });

  it('reports a selector that matches no known workload as IST0127', () => {
    const { store } = storeFromYaml(SEED);
    const d = findPolicyScopeProblems(store).find((x) => x.resource === 'AuthorizationPolicy default/nobody')!;
    expect(d.code).toBe('IST0127');
    expect(d.message).toBe('No matching workloads for this resource with the following labels: app=does-not-exist');
  });

  it('stays quiet when the policies are where Istio applies them (no false positives)', () => {
    const fixed = SEED.replace(/namespace: default/g, 'namespace: istio-system').replace(/---\napiVersion: security.istio.io\/v1beta1\nkind: AuthorizationPolicy\nmetadata: \{name: nobody[\s\S]*$/, '');
    const { store } = storeFromYaml(fixed);
    expect(findPolicyScopeProblems(store)).toEqual([]);
  });

  it('counts workloads passed by the caller (the running gateway) and Services', () => {
    const { store } = storeFromYaml(`${ap('shop', '{selector: {matchLabels: {app: cart}}}')}---\napiVersion: v1\nkind: Service\nmetadata: {name: cart, namespace: shop}\nspec: {selector: {app: cart}, ports: [{port: 80}]}\n`);
    expect(findPolicyScopeProblems(store)).toEqual([]);
  });
});

describe('start-up warning for the running workload', () => {
  it('compile reports SLU0501 for each seed policy that selects this gateway from another namespace', () => {
    const snap = compileYaml(SEED, { labels: { istio: 'ingressgateway' }, namespace: 'istio-system' });
    const ds = snap.diagnostics.filter((d) => d.code === 'SLU0501');
    expect(ds.map((d) => d.resource).sort()).toEqual(['AuthorizationPolicy default/require-jwt', 'RequestAuthentication default/jwt-auth']);
    // …and, as in Istio, they do not apply.
    const chain = snap.listeners[0]!.filterChains[0]!;
    expect(chain.policies.jwt).toBeNull();
    expect(chain.policies.rbac).toBeNull();
  });

  it('findWorkloadScopeProblems is silent for policies in the workload or root namespace', () => {
    const { store } = storeFromYaml(ap('istio-system', '{selector: {matchLabels: {istio: ingressgateway}}}'));
    expect(findWorkloadScopeProblems(store, { namespace: 'istio-system', labels: { istio: 'ingressgateway' }, rootNamespace: 'istio-system' })).toEqual([]);
  });
});
