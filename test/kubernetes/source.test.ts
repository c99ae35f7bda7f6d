// The Kubernetes config source against a fake kube-apiserver (test/kubernetes/fake-apiserver.ts:
// no real API server can run on this machine). Real HTTPS with a generated CA, a real
// kubeconfig file, the real @kubernetes/client-node watch stream.

import { afterEach, describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/config/diagnostic.js';
import { KubeConfigApi, loadKubeConfig } from '../../src/config/kubernetes/api-client.js';
import { Reflector } from '../../src/config/kubernetes/reflector.js';
import type { KubernetesSource } from '../../src/config/kubernetes/source.js';
import { compile, makeWorkload } from '../../src/compile/compile.js';
import { effectiveMeshConfig } from '../../src/config/mesh.js';
import { FakeApiServer, ISTIO_CLUSTER, type FakeResourceDef } from './fake-apiserver.js';
import { ChangeCounter, sourceFor, tempDir, until } from './helpers.js';

const GATEWAY = `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: main-gateway, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["api.example.com"]
`;

function virtualService(name: string, prefix: string, host: string, regex?: string): string {
  return `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: default}
spec:
  hosts: ["api.example.com"]
  gateways: [istio-system/main-gateway]
  http:
  - match:
    - uri: {${regex !== undefined ? `regex: "${regex}"` : `prefix: ${prefix}`}}
    route:
    - destination: {host: ${host}, port: {number: 8080}}
`;
}

const SERVICE = `
apiVersion: v1
kind: Service
metadata: {name: api-service, namespace: default}
spec:
  ports: [{name: http, port: 8080, targetPort: 8080}]
  selector: {app: api}
---
apiVersion: v1
kind: Endpoints
metadata: {name: api-service, namespace: default}
subsets:
- addresses: [{ip: 10.0.0.1}]
  ports: [{name: http, port: 8080}]
`;

function secret(name: string, namespace: string, type: string): string {
  return `
apiVersion: v1
kind: Secret
metadata: {name: ${name}, namespace: ${namespace}}
type: ${type}
data: {tls.crt: ${Buffer.from('cert').toString('base64')}, tls.key: ${Buffer.from('key').toString('base64')}}
`;
}

let fake: FakeApiServer | null = null;
let source: KubernetesSource | null = null;
afterEach(async () => {
  source?.stop();
  source = null;
  await fake?.close();
  fake = null;
});

function names(s: KubernetesSource, kind: Parameters<ReturnType<KubernetesSource['load']>['store']['list']>[0]): string[] {
  return s.load().store.list(kind).map((r) => `${r.namespace}/${r.name}`).sort();
}

describe('Kubernetes source: list + watch against a fake API server', () => {
  it('reads every watched kind at the served version; Secrets only in the gateway namespace', async () => {
    fake = await FakeApiServer.start();
    fake.applyYaml(GATEWAY + '---' + virtualService('api-routes', '/api', 'api-service') + '---' + SERVICE);
    fake.applyYaml(`apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: rate-limit, namespace: istio-system}
spec:
  workloadSelector: {labels: {istio: ingressgateway}}
  configPatches: []
`);
    fake.applyYaml(secret('example-tls-secret', 'istio-system', 'kubernetes.io/tls'));
    fake.applyYaml(secret('other-tls', 'default', 'kubernetes.io/tls'));
    fake.applyYaml(secret('sh.helm.release.v1.sluice.v1', 'istio-system', 'helm.sh/release.v1'));
    source = sourceFor(fake);
    await source.start();
    const load = source.load();
    expect(load.diagnostics.filter((d) => d.level === 'error')).toEqual([]);
    expect(names(source, 'Gateway')).toEqual(['istio-system/main-gateway']);
    expect(names(source, 'VirtualService')).toEqual(['default/api-routes']);
    expect(names(source, 'Service')).toEqual(['default/api-service']);
    expect(names(source, 'Endpoints')).toEqual(['default/api-service']);
    expect(names(source, 'EnvoyFilter')).toEqual(['istio-system/rate-limit']);
    // The gateway's namespace only, and never Helm release or service-account token Secrets.
    expect(names(source, 'Secret')).toEqual(['istio-system/example-tls-secret']);
    expect(load.store.get('Gateway', 'istio-system', 'main-gateway')!.apiVersion).toBe('networking.istio.io/v1');
    expect(load.store.get('EnvoyFilter', 'istio-system', 'rate-limit')!.apiVersion).toBe('networking.istio.io/v1alpha3');
    // kubectl's bookkeeping is not kept.
    const secretPaths = new Set(fake.requests.filter((r) => r.path.endsWith('/secrets')).map((r) => `${r.path}?fieldSelector=${r.query.fieldSelector}`));
    expect([...secretPaths]).toEqual(['/api/v1/namespaces/istio-system/secrets?fieldSelector=type!=helm.sh/release.v1,type!=kubernetes.io/service-account-token']);
    const status = source.status();
    expect(status.healthy).toBe(true);
    expect(status.notServed).toEqual([]);
    expect(status.resources.find((r) => r.kind === 'Secret')).toMatchObject({ namespace: 'istio-system', apiVersion: 'v1', objects: 1, synced: true });
    expect(status.resources.find((r) => r.kind === 'VirtualService')).toMatchObject({ namespace: '*', apiVersion: 'networking.istio.io/v1', state: 'watching' });
  });

  it('validates objects like files: an invalid object is reported at kubernetes://<kind>/<ns>/<name>, others apply', async () => {
    fake = await FakeApiServer.start();
    fake.applyYaml(GATEWAY + '---' + virtualService('api-routes', '/api', 'api-service') + '---' + virtualService('broken', '', 'users', '^/users/[0-9+$'));
    source = sourceFor(fake);
    await source.start();
    const load = source.load();
    expect(names(source, 'VirtualService')).toEqual(['default/api-routes']);
    const err = load.diagnostics.find((d) => d.level === 'error')!;
    expect(err).toMatchObject({ code: 'IST0122', file: 'kubernetes://VirtualService/default/broken', resource: 'VirtualService default/broken', path: 'spec.http[0].match[0].uri.regex' });
    expect(formatDiagnostic(err)).toMatch(/^kubernetes:\/\/VirtualService\/default\/broken: error IST0122 VirtualService default\/broken spec\.http\[0\]\.match\[0\]\.uri\.regex: /);
  });

  it('follows MODIFIED and DELETED; an invalid edit keeps the last good version', async () => {
    fake = await FakeApiServer.start();
    fake.applyYaml(GATEWAY + '---' + virtualService('api-routes', '/api', 'api-service'));
    source = sourceFor(fake);
    await source.start();
    const changes = new ChangeCounter(source);
    const prefixOf = (): unknown => source!.load().store.get('VirtualService', 'default', 'api-routes')?.spec.http?.[0]?.match?.[0]?.uri;

    let next = changes.next();
    fake.applyYaml(virtualService('api-routes', '/v2', 'api-service'));
    await next;
    expect(prefixOf()).toEqual({ prefix: '/v2' });

    next = changes.next();
    fake.applyYaml(virtualService('api-routes', '', 'api-service', '(unclosed'));
    await next;
    const load = source.load();
    expect(prefixOf()).toEqual({ prefix: '/v2' });
    expect(load.heldBack).toEqual(['VirtualService default/api-routes']);
    expect(load.diagnostics.find((d) => d.code === 'SLU0005')).toMatchObject({ file: 'kubernetes://VirtualService/default/api-routes' });

    next = changes.next();
    fake.applyYaml(virtualService('api-routes', '/v3', 'api-service'));
    await next;
    expect(prefixOf()).toEqual({ prefix: '/v3' });
    expect(source.load().heldBack).toEqual([]);

    next = changes.next();
    fake.delete('VirtualService', 'default', 'api-routes');
    await next;
    expect(prefixOf()).toBeUndefined();
  });

  it('a burst of events is one rebuild', async () => {
    fake = await FakeApiServer.start();
    fake.applyYaml(GATEWAY);
    source = sourceFor(fake, { debounceMs: 100, debounceMaxMs: 5000 });
    await source.start();
    const changes = new ChangeCounter(source);
    const first = changes.next();
    for (let i = 0; i < 30; i++) fake.applyYaml(virtualService(`vs-${i}`, `/p${i}`, 'api-service'));
    await first;
    expect(names(source, 'VirtualService')).toHaveLength(30);
    // One more change after the burst: the second notification is that one.
    const second = changes.next();
    fake.delete('VirtualService', 'default', 'vs-0');
    await second;
    expect(changes.count).toBe(2);
  });

  it('an object rewritten without a change that matters (status, resourceVersion) does not rebuild', async () => {
    fake = await FakeApiServer.start();
    fake.applyYaml(GATEWAY + '---' + SERVICE);
    source = sourceFor(fake);
    await source.start();
    const changes = new ChangeCounter(source);
    const svc = fake.get('Service', 'default', 'api-service')!;
    fake.apply({ ...svc, status: { loadBalancer: { ingress: [{ ip: '203.0.113.7' }] } } });
    const next = changes.next();
    fake.applyYaml(virtualService('marker', '/m', 'api-service'));
    await next;
    expect(changes.count).toBe(1);
  });

  it('the API server going away: last good objects stay, the watch resumes, 410 Gone relists and sees deletions', async () => {
    fake = await FakeApiServer.start();
    fake.applyYaml(GATEWAY + '---' + virtualService('keep', '/keep', 'api-service') + '---' + virtualService('gone', '/gone', 'api-service'));
    source = sourceFor(fake);
    await source.start();
    const changes = new ChangeCounter(source);
    await fake.down();
    await until(() => !source!.status().healthy, 'the source to notice the API server is gone');
    const down = source.status().resources.find((r) => r.kind === 'VirtualService')!;
    expect(down.state).toBe('backoff');
    expect(down.lastError).toMatch(/watch connection broke|ECONNREFUSED|socket hang up|ECONNRESET/);
    // Nothing is lost while the API server is away.
    expect(names(source, 'VirtualService')).toEqual(['default/gone', 'default/keep']);

    // Meanwhile an object is deleted and etcd compacts: resuming from the old version is 410 Gone.
    fake.delete('VirtualService', 'default', 'gone');
    fake.compact();
    const next = changes.next();
    await fake.listen();
    await next;
    expect(names(source, 'VirtualService')).toEqual(['default/keep']);
    await until(() => source!.status().healthy, 'the watches to be healthy again');
    const vs = source.status().resources.find((r) => r.kind === 'VirtualService')!;
    expect(vs.lists).toBe(2);
    expect(vs.lastError).toBeNull();
    const watchVersions = fake.requests.filter((r) => r.method === 'WATCH' && r.path === '/apis/networking.istio.io/v1/virtualservices').map((r) => r.query.resourceVersion);
    expect(watchVersions.length).toBeGreaterThanOrEqual(2);
  });

  it('a watch that ends resumes from the last resourceVersion, which BOOKMARK events advance', async () => {
    fake = await FakeApiServer.start();
    fake.applyYaml(GATEWAY);
    source = sourceFor(fake);
    await source.start();
    await until(() => fake!.openWatches === source!.status().resources.length, 'every watch to be open');
    // Writes elsewhere move the global resourceVersion past the Gateway watch's last event.
    fake.applyYaml(SERVICE);
    fake.bookmark();
    const rv = fake.resourceVersion;
    const gw = (): { resourceVersion?: string } => source!.status().resources.find((r) => r.kind === 'Gateway')!;
    await until(() => gw().resourceVersion === rv, 'the bookmark to reach the Gateway watch');
    const before = fake.requests.length;
    fake.endWatches();
    const resumed = await until(() => fake!.requests.slice(before).find((r) => r.method === 'WATCH' && r.path.endsWith('/gateways')), 'the Gateway watch to resume');
    expect(resumed.query.resourceVersion).toBe(rv);
    expect(resumed.query.allowWatchBookmarks).toBe('true');
    // Resumed, not relisted.
    expect(fake.requests.slice(before).some((r) => r.method === 'GET' && r.path.endsWith('/gateways'))).toBe(false);
    // The other watches resume too, each in its own time: wait for the object, not for the next rebuild.
    fake.applyYaml(virtualService('after-resume', '/r', 'api-service'));
    await until(() => names(source!, 'VirtualService').length > 0, 'the VirtualService to arrive over the resumed watch');
    expect(names(source, 'VirtualService')).toEqual(['default/after-resume']);
  });

  it('falls back to v1beta1 / v1alpha3 when networking.istio.io/v1 is not served; missing CRDs are reported', async () => {
    const old: FakeResourceDef[] = ISTIO_CLUSTER
      .filter((r) => r.group !== 'telemetry.istio.io')
      .map((r) => (r.group === 'networking.istio.io' || r.group === 'security.istio.io' ? { ...r, versions: r.versions.filter((v) => v !== 'v1') } : r));
    fake = await FakeApiServer.start({ resources: old });
    fake.applyYaml(GATEWAY.replace('networking.istio.io/v1', 'networking.istio.io/v1beta1') + '---' + virtualService('api-routes', '/api', 'api-service').replace('networking.istio.io/v1', 'networking.istio.io/v1beta1'));
    source = sourceFor(fake);
    await source.start();
    const load = source.load();
    expect(load.diagnostics.filter((d) => d.level === 'error')).toEqual([]);
    expect(load.store.get('VirtualService', 'default', 'api-routes')!.apiVersion).toBe('networking.istio.io/v1beta1');
    const status = source.status();
    expect(status.resources.find((r) => r.kind === 'Gateway')!.apiVersion).toBe('networking.istio.io/v1beta1');
    expect(status.resources.find((r) => r.kind === 'EnvoyFilter')!.apiVersion).toBe('networking.istio.io/v1alpha3');
    expect(status.resources.find((r) => r.kind === 'AuthorizationPolicy')!.apiVersion).toBe('security.istio.io/v1beta1');
    expect(status.notServed).toEqual(['Telemetry (telemetry.istio.io/v1, telemetry.istio.io/v1alpha1)']);
    expect(status.resources.find((r) => r.kind === 'Telemetry')).toMatchObject({ apiVersion: null });
  });

  it('--watch-namespace: only those namespaces are listed and watched', async () => {
    fake = await FakeApiServer.start();
    fake.applyYaml(GATEWAY + '---' + virtualService('api-routes', '/api', 'api-service') + '---' + virtualService('elsewhere', '/x', 'api-service').replace('namespace: default', 'namespace: team-b'));
    source = sourceFor(fake, { namespaces: ['istio-system', 'default'] });
    await source.start();
    expect(names(source, 'VirtualService')).toEqual(['default/api-routes']);
    expect(names(source, 'Gateway')).toEqual(['istio-system/main-gateway']);
    const vsPaths = new Set(fake.requests.filter((r) => r.path.endsWith('/virtualservices')).map((r) => r.path));
    expect([...vsPaths].sort()).toEqual(['/apis/networking.istio.io/v1/namespaces/default/virtualservices', '/apis/networking.istio.io/v1/namespaces/istio-system/virtualservices']);
  });

  it('EndpointSlices of a Service win over its mirrored Endpoints (no endpoint twice)', async () => {
    fake = await FakeApiServer.start();
    fake.applyYaml(SERVICE + `---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: api-service-abcde, namespace: default, labels: {kubernetes.io/service-name: api-service}}
addressType: IPv4
endpoints: [{addresses: [10.0.0.1], conditions: {ready: true}}, {addresses: [10.0.0.2], conditions: {ready: true}}]
ports: [{name: http, port: 8080}]
`);
    source = sourceFor(fake);
    await source.start();
    expect(names(source, 'EndpointSlice')).toEqual(['default/api-service-abcde']);
    expect(names(source, 'Endpoints')).toEqual([]);
  });

  it('Pods: a label change moves an endpoint between DestinationRule subsets; status churn rebuilds nothing; --watch-namespace applies', async () => {
    fake = await FakeApiServer.start();
    const pod = (name: string, ip: string, version: string, ns = 'default'): string => `
apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${ns}, labels: {app: api, version: ${version}}}
spec: {serviceAccountName: api-${version}, containers: [{name: app, image: api:1}]}
status: {phase: Running, podIP: ${ip}, podIPs: [{ip: ${ip}}], conditions: [{type: Ready, status: "True"}]}
`;
    fake.applyYaml(GATEWAY + `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: canary, namespace: default}
spec:
  hosts: ["api.example.com"]
  gateways: [istio-system/main-gateway]
  http:
  - match: [{headers: {x-canary: {exact: "true"}}}]
    route: [{destination: {host: api-service, subset: v2}}]
  - route: [{destination: {host: api-service, subset: v1}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: api, namespace: default}
spec:
  host: api-service
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: v1
kind: Service
metadata: {name: api-service, namespace: default}
spec: {ports: [{name: http, port: 8080}], selector: {app: api}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: api-service-x1, namespace: default, labels: {kubernetes.io/service-name: api-service}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints:
- {addresses: [10.0.0.1], conditions: {ready: true}, targetRef: {kind: Pod, name: api-a, namespace: default}}
- {addresses: [10.0.0.2], conditions: {ready: true}, targetRef: {kind: Pod, name: api-b, namespace: default}}
---` + pod('api-a', '10.0.0.1', 'v1') + '---' + pod('api-b', '10.0.0.2', 'v1') + '---' + pod('elsewhere', '10.9.0.1', 'v1', 'team-b'));
    source = sourceFor(fake, { namespaces: ['istio-system', 'default'] });
    await source.start();
    expect(names(source, 'Pod')).toEqual(['default/api-a', 'default/api-b']);
    const podPaths = new Set(fake.requests.filter((r) => r.path.endsWith('/pods')).map((r) => r.path));
    expect([...podPaths].sort()).toEqual(['/api/v1/namespaces/default/pods', '/api/v1/namespaces/istio-system/pods']);
    const subsets = (): Record<string, string[]> => {
      const { store } = source!.load();
      const mesh = effectiveMeshConfig({}, store);
      const snapshot = compile({ store, workload: makeWorkload({}, mesh), mesh, credentials: new Map(), files: new Map(), version: 1, meshCa: null });
      const eps = (subset: string): string[] => snapshot.clusters.get(`outbound|8080|${subset}|api-service.default.svc.cluster.local`)!.endpoints.map((e) => `${e.address} ${e.serviceAccount}`);
      return { v1: eps('v1'), v2: eps('v2') };
    };
    expect(subsets()).toEqual({ v1: ['10.0.0.1 api-v1', '10.0.0.2 api-v1'], v2: [] });
    // Only what the registry reads is kept of a Pod.
    expect(source.load().store.get('Pod', 'default', 'api-b')!.spec).toEqual({ spec: { serviceAccountName: 'api-v1' }, status: { podIP: '10.0.0.2', podIPs: [{ ip: '10.0.0.2' }] } });

    const changes = new ChangeCounter(source);
    // Status churn (readiness flapping, container restarts) and annotations: nothing the registry reads.
    const before = source.status().lastChangeAt;
    const b = fake.get('Pod', 'default', 'api-b')!;
    const rv = fake.apply({ ...b, metadata: { ...b.metadata, annotations: { 'kubectl.kubernetes.io/restartedAt': 'now' } }, status: { ...(b.status as object), conditions: [{ type: 'Ready', status: 'False' }], containerStatuses: [{ name: 'app', restartCount: 3 }] } });
    await until(() => source!.status().resources.find((r) => r.kind === 'Pod' && r.namespace === 'default')!.resourceVersion === rv, 'the churn event');
    expect(source.status().lastChangeAt).toBe(before);
    expect(changes.count).toBe(0);

    // The label change moves api-b (and its service account) to subset v2: one rebuild.
    const next = changes.next();
    fake.applyYaml(pod('api-b', '10.0.0.2', 'v2'));
    await next;
    expect(subsets()).toEqual({ v1: ['10.0.0.1 api-v1'], v2: ['10.0.0.2 api-v2'] });

    // A deleted Pod leaves its endpoint without labels: no subset selects it.
    const gone = changes.next();
    fake.delete('Pod', 'default', 'api-b');
    await gone;
    expect(subsets()).toEqual({ v1: ['10.0.0.1 api-v1'], v2: [] });
  });

  it('a refused list (RBAC) is retried with the fix in the error', async () => {
    fake = await FakeApiServer.start({ secretsNamespaces: ['istio-system'] });
    const { kc, origin } = loadKubeConfig(fake.writeKubeconfig(tempDir()));
    const errors: string[] = [];
    const r = new Reflector(new KubeConfigApi(kc, origin), '/api/v1/secrets', {
      replace: () => {}, upsert: () => {}, remove: () => {}, recovered: () => {},
      failed: (e) => { errors.push(e); },
    }, { backoff: { initialMs: 20, maxMs: 40 } });
    r.start();
    try {
      await until(() => errors.length >= 2, 'two failed attempts');
    } finally {
      r.stop();
    }
    expect(errors[0]).toMatch(/403 secrets is forbidden: .* at the cluster scope \(RBAC: grant get, list and watch/);
    expect(r.status()).toMatchObject({ synced: false, state: 'stopped' });
  });

  it('kubeconfig problems are errors that name the fix', () => {
    expect(() => loadKubeConfig('/nonexistent/kubeconfig')).toThrow('--kubeconfig /nonexistent/kubeconfig: no such file');
  });
});
