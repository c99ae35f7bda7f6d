import { describe, expect, it } from 'vitest';
import { effectivePolicy } from '../../src/compile/clusters.js';
import { virtualServiceYaml } from '../support/yaml.js';
import { GATEWAY, compileYaml } from './helpers.js';

const base = (drs: string, seNamespace = 'default') => `${GATEWAY(['*'])}---
${virtualServiceYaml('vs', ['a.test'], `  - match: [{uri: {prefix: /v1}}]
    route: [{destination: {host: svc.${seNamespace}.svc.cluster.local, subset: v1}}]
  - route: [{destination: {host: svc.${seNamespace}.svc.cluster.local}}]`)}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: svc, namespace: ${seNamespace}}
spec:
  hosts: [svc.${seNamespace}.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints:
  - {address: 127.0.0.1, labels: {version: v1}}
  - {address: 127.0.0.2, labels: {version: v2}}
${drs}`;

const dr = (ns: string, host: string, body: string) => `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: dr-${ns}-${host.replace(/[^a-z0-9]/g, '')}, namespace: ${ns}}
spec:
  host: ${host}
${body}`;

describe('DestinationRule lookup and policy precedence', () => {
  it('selects endpoints by subset labels and applies subset policy over the top-level one', () => {
    const { snapshot } = compileYaml(base(dr('default', 'svc', `  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    connectionPool: {tcp: {maxConnections: 7}}
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy: {loadBalancer: {simple: RANDOM}}
`)), { namespace: 'default' });
    const v1 = snapshot.clusters.get('outbound|80|v1|svc.default.svc.cluster.local')!;
    const all = snapshot.clusters.get('outbound|80||svc.default.svc.cluster.local')!;
    expect(v1.endpoints.map((e) => e.address)).toEqual(['127.0.0.1']);
    expect(all.endpoints.map((e) => e.address)).toEqual(['127.0.0.1', '127.0.0.2']);
    expect(v1.lb.policy).toBe('RANDOM');
    expect(all.lb.policy).toBe('ROUND_ROBIN');
    expect(v1.pool.maxConnections).toBe(7); // connectionPool not overridden by the subset
  });

  it('uses LEAST_REQUEST by default and Istio pool defaults', () => {
    const { snapshot } = compileYaml(base(''));
    const c = snapshot.clusters.get('outbound|80||svc.default.svc.cluster.local')!;
    expect(c.lb.policy).toBe('LEAST_REQUEST');
    expect(c.pool.connectTimeoutMs).toBe(10_000);
    expect(c.pool.maxConnections).toBe(2 ** 32 - 1);
    expect(c.outlier).toBeNull();
    expect(c.tls).toBeNull();
  });

  it("prefers the proxy's namespace, then the service's, then the root namespace", () => {
    const rules = dr('istio-system', 'svc.shop.svc.cluster.local', '  trafficPolicy: {loadBalancer: {simple: RANDOM}}\n') +
      dr('shop', 'svc.shop.svc.cluster.local', '  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}\n');
    const gw = compileYaml(base(rules, 'shop'), { namespace: 'istio-system' }).snapshot;
    expect(gw.clusters.get('outbound|80||svc.shop.svc.cluster.local')!.lb.policy).toBe('RANDOM');
    const other = compileYaml(base(rules, 'shop'), { namespace: 'other' }).snapshot;
    expect(other.clusters.get('outbound|80||svc.shop.svc.cluster.local')!.lb.policy).toBe('ROUND_ROBIN');
  });

  it('ignores a rule in a third namespace (the seed DR for the egress gateway lives in default)', () => {
    const rules = dr('default', 'svc.shop.svc.cluster.local', '  trafficPolicy: {loadBalancer: {simple: RANDOM}}\n');
    const gw = compileYaml(base(rules, 'shop'), { namespace: 'istio-system' }).snapshot;
    expect(gw.clusters.get('outbound|80||svc.shop.svc.cluster.local')!.lb.policy).toBe('LEAST_REQUEST');
  });

  it('port-level settings beat the top-level policy, subset policy beats both', () => {
    const p = effectivePolicy({
      host: 'x',
      trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' }, portLevelSettings: [{ port: { number: 80 }, loadBalancer: { simple: 'RANDOM' } }] },
      subsets: [{ name: 's', trafficPolicy: { connectionPool: { tcp: { maxConnections: 3 } } } }],
    }, 80, 's');
    expect(p.loadBalancer?.simple).toBe('RANDOM');
    expect(p.connectionPool?.tcp?.maxConnections).toBe(3);
    expect(effectivePolicy({ host: 'x', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' }, portLevelSettings: [{ port: { number: 80 }, loadBalancer: { simple: 'RANDOM' } }] } }, 443, '').loadBalancer?.simple).toBe('ROUND_ROBIN');
  });
});
