// Endpoints of Kubernetes Services take their labels and service account from their Pod (by
// the address's targetRef, else by IP), as Istio's registry does: DestinationRule subsets select
// them, and ISTIO_MUTUAL expects the Pod's service account.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MeshCa } from '../../src/security/mesh-ca.js';
import { MeshIdentity } from '../../src/security/mesh-identity.js';
import { compileInline } from '../support/compile.js';
import { virtualServiceYaml } from '../support/yaml.js';
import { GATEWAY, compileYaml } from './helpers.js';

const ROUTES = `${GATEWAY(['*'])}---
${virtualServiceYaml('vs', ['a.test'], `  - match: [{uri: {prefix: /v2}}]
    route: [{destination: {host: reviews.shop.svc.cluster.local, subset: v2}}]
  - route: [{destination: {host: reviews.shop.svc.cluster.local, subset: v1}}]`)}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: shop}
spec:
  host: reviews
  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080, targetPort: 9080}]
`;

const pod = (name: string, ip: string, version: string, sa?: string, extra = ''): string => `---
apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: shop, labels: {app: reviews, version: ${version}}}
spec:
  ${sa !== undefined ? `serviceAccountName: ${sa}` : 'nodeName: node-1'}
  containers: [{name: app, image: reviews:1, ports: [{containerPort: 9080}]}]
status:
  phase: ${extra === 'failed' ? 'Failed' : 'Running'}
  podIP: ${ip}
  podIPs: [{ip: ${ip}}]
  conditions: [{type: Ready, status: "True"}]
  containerStatuses: [{name: app, ready: true}]
`;

const SLICE = `---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: reviews-abc, namespace: shop, labels: {kubernetes.io/service-name: reviews}}
addressType: IPv4
ports: [{name: http, port: 9080}]
endpoints:
- addresses: [10.1.0.1]
  conditions: {ready: true}
  targetRef: {kind: Pod, name: reviews-v1-abc, namespace: shop}
- addresses: [10.1.0.2]
  conditions: {ready: true}
  targetRef: {kind: Pod, name: reviews-v2-def, namespace: shop}
`;

const V1 = 'outbound|9080|v1|reviews.shop.svc.cluster.local';
const V2 = 'outbound|9080|v2|reviews.shop.svc.cluster.local';

describe('Kubernetes Service endpoints carry their Pod\'s labels and service account', () => {
  it('EndpointSlice endpoints (by targetRef): each subset cluster has its Pod\'s endpoint and expects its service account', () => {
    const { snapshot, diagnostics } = compileYaml(ROUTES + SLICE + pod('reviews-v1-abc', '10.1.0.1', 'v1', 'reviews-v1') + pod('reviews-v2-def', '10.1.0.2', 'v2', 'reviews-v2'));
    expect(diagnostics.filter((d) => d.level === 'error' || d.file === 'inline.yaml' && d.code === 'SLU0102')).toEqual([]);
    const v1 = snapshot.clusters.get(V1)!;
    const v2 = snapshot.clusters.get(V2)!;
    expect(v1.endpoints.map((e) => [e.address, e.port, e.serviceAccount, e.labels.version])).toEqual([['10.1.0.1', 9080, 'reviews-v1', 'v1']]);
    expect(v2.endpoints.map((e) => [e.address, e.port, e.serviceAccount, e.labels.version])).toEqual([['10.1.0.2', 9080, 'reviews-v2', 'v2']]);
    expect(v1.tls).toMatchObject({ mode: 'ISTIO_MUTUAL', subjectAltNames: ['spiffe://cluster.local/ns/shop/sa/reviews-v1'] });
    expect(v2.tls).toMatchObject({ mode: 'ISTIO_MUTUAL', subjectAltNames: ['spiffe://cluster.local/ns/shop/sa/reviews-v2'] });
  });

  it('Endpoints addresses without a targetRef find their Pod by IP; a Pod without serviceAccountName runs as "default"', () => {
    const endpoints = `---
apiVersion: v1
kind: Endpoints
metadata: {name: reviews, namespace: shop}
subsets:
- addresses: [{ip: 10.1.0.1}, {ip: 10.1.0.2, targetRef: {kind: Pod, name: reviews-v2-def}}]
  ports: [{name: http, port: 9080}]
`;
    const { snapshot } = compileYaml(ROUTES + endpoints + pod('reviews-v1-abc', '10.1.0.1', 'v1') + pod('reviews-v2-def', '10.9.9.9', 'v2', 'reviews-v2'));
    expect(snapshot.clusters.get(V1)!.endpoints.map((e) => [e.address, e.serviceAccount])).toEqual([['10.1.0.1', 'default']]);
    // targetRef wins over the IP (the Pod's status may lag behind the Endpoints object).
    expect(snapshot.clusters.get(V2)!.endpoints.map((e) => [e.address, e.serviceAccount])).toEqual([['10.1.0.2', 'reviews-v2']]);
    expect(snapshot.clusters.get(V1)!.tls?.subjectAltNames).toEqual(['spiffe://cluster.local/ns/shop/sa/default']);
  });

  it('without its Pod an endpoint has no labels (no subset selects it) and no known identity; a Failed Pod\'s IP names no Pod; Pods of other namespaces are not matched by IP', () => {
    const other = pod('reviews-v2-def', '10.1.0.2', 'v2', 'x').replace('namespace: shop', 'namespace: other');
    const { snapshot } = compileYaml(ROUTES + SLICE.replace(/\n {2}targetRef: .*$/gm, '') + pod('old', '10.1.0.1', 'v1', 'old', 'failed') + other);
    expect(snapshot.clusters.get(V1)!.endpoints).toEqual([]);
    expect(snapshot.clusters.get(V2)!.endpoints).toEqual([]);
  });

  it('a Pod with a bad field is refused with its location; the rest of the Pod is not checked', () => {
    const bad = pod('reviews-v1-abc', 'not-an-ip', 'v1', 'reviews-v1');
    expect(() => compileYaml(ROUTES + SLICE + bad)).toThrow(/status\.podIP.*not-an-ip|not-an-ip.*status\.podIP/s);
  });

  it('auto mTLS: Pods labelled security.istio.io/tlsMode=istio (sidecar-injected) get ISTIO_MUTUAL with their service account; unlabelled Pods plaintext', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-pods-'));
    await MeshCa.init(dir);
    const id = await MeshIdentity.start({ caDir: dir, trustDomain: 'cluster.local', namespace: 'istio-system', serviceAccount: 'gw' });
    const meshCa = id.material();
    id.stop();
    const yaml = (ROUTES + SLICE + pod('reviews-v1-abc', '10.1.0.1', 'v1', 'reviews-v1') + pod('reviews-v2-def', '10.1.0.2', 'v2', 'reviews-v2'))
      .replace('  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}\n', '')
      .replace(/labels: \{app: reviews, version: (v\d)\}/g, 'labels: {app: reviews, version: $1, security.istio.io/tlsMode: istio}');
    expect(yaml).toContain('tlsMode: istio');
    const { snapshot } = compileInline(yaml, { meshCa });
    expect(snapshot.clusters.get(V1)!.tls).toMatchObject({ mode: 'ISTIO_MUTUAL', subjectAltNames: ['spiffe://cluster.local/ns/shop/sa/reviews-v1'] });
    const plain = compileInline(yaml.replaceAll(', security.istio.io/tlsMode: istio', ''), { meshCa }).snapshot;
    expect(plain.clusters.get(V1)!.endpoints.length).toBe(1);
    expect(plain.clusters.get(V1)!.tls).toBeNull();
  });
});
