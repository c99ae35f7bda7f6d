import { describe, expect, it } from 'vitest';
import { compileRouteMatch, matchRoute } from '../../src/compile/match/route-match.js';
import type { ForwardAction } from '../../src/compile/snapshot.js';
import { selectVirtualHost } from '../../src/proxy/http/connection-manager.js';
import { serviceEntryYaml, virtualServiceYaml } from '../support/yaml.js';
import { GATEWAY, compileYaml, requestView } from './helpers.js';

const SE = (name: string): string => `---\n${serviceEntryYaml(name)}\n`;
/** VirtualService default/<name> for a.test on istio-system/gw; `rules` is the indented http list. */
const VS = (rules: string, name = 'vs'): string => `---\n${virtualServiceYaml(name, ['a.test'], rules)}\n`;

describe('route matching', () => {
  it('ANDs the fields of one match block', () => {
    const m = compileRouteMatch({ uri: { prefix: '/api' }, method: { exact: 'POST' }, headers: { 'x-a': { exact: '1' } } });
    expect(matchRoute(m, requestView({ method: 'POST', path: '/api/x', headers: { 'x-a': '1' } }))).toBe(true);
    expect(matchRoute(m, requestView({ method: 'GET', path: '/api/x', headers: { 'x-a': '1' } }))).toBe(false);
    expect(matchRoute(m, requestView({ method: 'POST', path: '/api/x' }))).toBe(false);
  });

  it('matches regex against the whole path without the query (RE2 full match)', () => {
    const m = compileRouteMatch({ uri: { regex: '/users/[0-9]+' } });
    expect(matchRoute(m, requestView({ path: '/users/12?x=1' }))).toBe(true);
    expect(matchRoute(m, requestView({ path: '/users/12/x' }))).toBe(false);
    expect(matchRoute(m, requestView({ path: '/a/users/12' }))).toBe(false);
  });

  it('treats an empty header match as presence and withoutHeaders {} as absence', () => {
    const present = compileRouteMatch({ headers: { 'x-debug': {} } });
    const absent = compileRouteMatch({ withoutHeaders: { 'x-debug': {} } });
    expect(matchRoute(present, requestView({ headers: { 'x-debug': '' } }))).toBe(true);
    expect(matchRoute(absent, requestView({ headers: { 'x-debug': '' } }))).toBe(false);
    expect(matchRoute(absent, requestView({}))).toBe(true);
  });

  it('as Envoy, an inverted value match fails when the header is absent', () => {
    const m = compileRouteMatch({ withoutHeaders: { 'x-env': { exact: 'prod' } } });
    expect(matchRoute(m, requestView({ headers: { 'x-env': 'dev' } }))).toBe(true);
    expect(matchRoute(m, requestView({ headers: { 'x-env': 'prod' } }))).toBe(false);
    expect(matchRoute(m, requestView({}))).toBe(false);
  });

  it('turns every match block into its own route, in order, and drops blocks for other ports', () => {
    const { snapshot } = compileYaml(`${GATEWAY(['a.test'])}${VS(`  - match:
    - uri: {prefix: /one}
    - uri: {prefix: /two}
    - uri: {prefix: /other-port}
      port: 8080
    route: [{destination: {host: a}}]
  - match:
    - uri: {prefix: /only-on-8443}
      port: 8443
    route: [{destination: {host: a}}]`)}${SE('a')}`);
    const vh = snapshot.routeConfigs.get('http.80')!.virtualHosts[0]!;
    expect(vh.name).toBe('a.test:80');
    expect(vh.routes.map((r) => r.match.conditions.map((c) => c.describe))).toEqual([['path prefix "/one"'], ['path prefix "/two"']]);
    expect(vh.routes.map((r) => r.source.match)).toEqual([0, 1]);
  });

  it('cumulates weights and keeps Istio cluster names', () => {
    const { snapshot } = compileYaml(`${GATEWAY(['a.test'])}${VS(`  - route:
    - {destination: {host: a}, weight: 90}
    - {destination: {host: b}, weight: 10}`)}${SE('a')}${SE('b')}`);
    const a = snapshot.routeConfigs.get('http.80')!.virtualHosts[0]!.routes[0]!.action as ForwardAction;
    expect(a.clusters.map((c) => [c.cluster, c.weight, c.cumulative])).toEqual([
      ['outbound|80||a.default.svc.cluster.local', 90, 90],
      ['outbound|80||b.default.svc.cluster.local', 10, 100],
    ]);
    expect(a.totalWeight).toBe(100);
    expect(a.retry?.attempts).toBe(2); // Istio's default retry policy
    expect(a.timeoutMs).toBe(0); // Istio's default: no route timeout
  });

  it('merges VirtualServices for one host oldest first', () => {
    const { snapshot } = compileYaml(`${GATEWAY(['a.test'])}${VS('  - {match: [{uri: {prefix: /first}}], route: [{destination: {host: a}}]}', 'first')}${VS('  - {match: [{uri: {prefix: /second}}], route: [{destination: {host: a}}]}', 'second')}${SE('a')}`);
    const routes = snapshot.routeConfigs.get('http.80')!.virtualHosts[0]!.routes;
    expect(routes.map((r) => r.source.resource)).toEqual(['VirtualService default/first', 'VirtualService default/second']);
  });
});

describe('virtual hosts and gateway binding', () => {
  const vs = (name: string, ns: string, hosts: string[], gateways = ['istio-system/gw']) => `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: ${ns}}
spec:
  hosts: [${hosts.map((h) => JSON.stringify(h)).join(', ')}]
  gateways: [${gateways.join(', ')}]
  http: [{route: [{destination: {host: a.default.svc.cluster.local}}]}]
`;

  it('picks exact, then the longest wildcard suffix, then *, with no fall-through', () => {
    const { snapshot } = compileYaml(`${GATEWAY(['*'])}${vs('exact', 'default', ['api.example.com'])}${vs('wild', 'default', ['*.example.com'])}${vs('deeper', 'default', ['*.api.example.com'])}${vs('any', 'default', ['*'])}${SE('a')}`);
    const rc = snapshot.routeConfigs.get('http.80')!;
    expect(selectVirtualHost(rc, 'api.example.com')?.name).toBe('api.example.com:80');
    expect(selectVirtualHost(rc, 'API.Example.com:8080')?.name).toBe('api.example.com:80');
    expect(selectVirtualHost(rc, 'x.api.example.com')?.name).toBe('*.api.example.com:80');
    expect(selectVirtualHost(rc, 'web.example.com')?.name).toBe('*.example.com:80');
    expect(selectVirtualHost(rc, 'example.com')?.name).toBe('*:80');
  });

  it('narrows a VirtualService wildcard to the server host it intersects', () => {
    const { snapshot } = compileYaml(`${GATEWAY(['foo.example.com'])}${vs('wild', 'default', ['*.example.com'])}${SE('a')}`);
    expect(snapshot.routeConfigs.get('http.80')!.virtualHosts.map((v) => v.domains)).toEqual([['foo.example.com']]);
  });

  it('honours the namespace part of server hosts (ns/host and ./host)', () => {
    const { snapshot } = compileYaml(`${GATEWAY(['shop/shop.test', './ops.test'])}${vs('shop', 'shop', ['shop.test'])}${vs('other', 'default', ['shop.test'])}${vs('ops-wrong-ns', 'default', ['ops.test'])}${vs('ops', 'istio-system', ['ops.test'])}${SE('a')}`);
    const hosts = snapshot.routeConfigs.get('http.80')!.virtualHosts.map((v) => [v.name, v.routes.map((r) => r.source.resource)]);
    expect(hosts).toEqual([
      ['shop.test:80', ['VirtualService shop/shop']],
      ['ops.test:80', ['VirtualService istio-system/ops']],
    ]);
  });

  it('binds only VirtualServices that name the gateway; none means mesh', () => {
    const { snapshot } = compileYaml(`${GATEWAY(['*'])}${vs('named', 'default', ['a.test'])}${vs('bare-name', 'istio-system', ['b.test'], ['gw'])}${vs('mesh-only', 'default', ['c.test'], ['mesh'])}${SE('a')}`);
    expect(snapshot.routeConfigs.get('http.80')!.virtualHosts.map((v) => v.name).sort()).toEqual(['a.test:80', 'b.test:80']);
  });

  it('ignores Gateways whose selector does not match the workload', () => {
    const { snapshot } = compileYaml(`${GATEWAY(['a.test'])}${vs('v', 'default', ['a.test'])}${SE('a')}`, { labels: { istio: 'egressgateway' } });
    expect(snapshot.listeners).toEqual([]);
  });

  it('hides VirtualServices not exported to the gateway namespace', () => {
    const { snapshot } = compileYaml(`${GATEWAY(['*'])}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: private, namespace: default}
spec:
  hosts: [p.test]
  gateways: [istio-system/gw]
  exportTo: ["."]
  http: [{route: [{destination: {host: a}}]}]
${SE('a')}`);
    expect(snapshot.routeConfigs.get('http.80')!.virtualHosts.map((v) => v.name)).toEqual(['blackhole:80']);
  });

  it('reports a destination missing from the registry (IST0101) but still routes to its cluster name', () => {
    const { snapshot, diagnostics } = compileYaml(`${GATEWAY(['*'])}${vs('v', 'default', ['a.test']).replace('a.default.svc.cluster.local', 'ghost')}`);
    const d = diagnostics.find((x) => x.code === 'IST0101');
    expect(d?.resource).toBe('VirtualService default/v');
    expect(d?.path).toBe('spec.http[0].route[0].destination.host');
    const a = snapshot.routeConfigs.get('http.80')!.virtualHosts[0]!.routes[0]!.action as ForwardAction;
    expect(a.clusters[0]!.cluster).toBe('outbound|80||ghost.default.svc.cluster.local');
    expect(snapshot.clusters.has('outbound|80||ghost.default.svc.cluster.local')).toBe(false);
  });
});
