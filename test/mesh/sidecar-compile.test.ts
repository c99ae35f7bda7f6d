import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROUTE_CONFIG_BY_REQUEST_PORT } from '../../src/compile/sidecar-snapshot.js';
import { selectVirtualHost } from '../../src/proxy/http/connection-manager.js';
import { snapshotToJson } from '../../src/admin/config-dump.js';
import type { Cluster, RouteConfiguration, Snapshot } from '../../src/compile/snapshot.js';
import { MeshCa } from '../../src/security/mesh-ca.js';
import { MeshIdentity } from '../../src/security/mesh-identity.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileMesh, SIDECAR } from './support/compile.js';
import type { CompileInput } from '../../src/compile/context.js';

const example = (f: string): string => readFileSync(fileURLToPath(new URL(`../../examples/seed-egress/${f}`, import.meta.url)), 'utf8');
const SEED = [example('istio.yaml'), example('mesh-install.yaml'), example('additions.yaml')].join('\n---\n');

let meshCa: CompileInput['meshCa'];
beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-sc-'));
  await MeshCa.init(dir);
  const id = await MeshIdentity.start({ caDir: dir, trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'sleep' });
  meshCa = id.material();
  id.stop();
});

/** The virtual host a domain names exactly (undefined when only a wildcard or `*` would take it). */
function vhost(rc: RouteConfiguration | undefined, host: string) {
  return rc?.virtualHosts.find((v) => v.domains.includes(host));
}

/** Where the data plane's own vhost selection sends a request for `host` on `port`. */
function routeCluster(snapshot: Snapshot, port: string, host: string): string[] {
  const rc = snapshot.routeConfigs.get(port);
  const v = rc === undefined ? null : selectVirtualHost(rc, host);
  return (v?.routes ?? []).flatMap((r) => (r.action.kind === 'route' ? r.action.clusters.map((c) => c.cluster) : [`direct:${r.action.kind === 'direct' ? r.action.status : ''}`]));
}

describe("sidecar compile: the seed's Part 2 as a sidecar in namespace default sees it", () => {
  let snapshot: Snapshot;
  let diagnostics: { code: string; level: string; message: string }[];
  beforeAll(() => ({ snapshot, diagnostics } = compileMesh(SEED, { workload: SIDECAR(), meshCa })));

  it('serves no Gateway servers, only the explicit proxy; REGISTRY_ONLY comes from the seed\'s MeshConfig document (with its warning)', () => {
    expect(snapshot.listeners).toEqual([]);
    expect(snapshot.sidecar?.outbound.listener.bindPort).toBe(15001);
    expect(snapshot.sidecar?.outbound.chain.routeConfigName).toBe(ROUTE_CONFIG_BY_REQUEST_PORT);
    expect(snapshot.outboundTrafficPolicy).toBe('REGISTRY_ONLY');
    expect(diagnostics.some((d) => d.code === 'SLU0012')).toBe(true);
  });

  it('port 443: the mesh rule of direct-external-api sends api.external-service.com to the egress gateway; the gateway rule is not the sidecar\'s', () => {
    expect(routeCluster(snapshot, '443', 'api.external-service.com')).toEqual(['outbound|443||istio-egressgateway.istio-system.svc.cluster.local']);
    const unknown = snapshot.routeConfigs.get('443')!.any!;
    expect(unknown.name).toBe('block_all');
    expect(unknown.routes[0]!.action).toMatchObject({ kind: 'direct', status: 502 });
    expect(snapshot.routeConfigs.get('*')!.any!.name).toBe('block_all');
  });

  it('originates ISTIO_MUTUAL to the gateway (whose server on 443 is ISTIO_MUTUAL), expecting the gateway\'s identity, and says Istio would need a DestinationRule', () => {
    const c = snapshot.clusters.get('outbound|443||istio-egressgateway.istio-system.svc.cluster.local')!;
    expect(c.tls).toMatchObject({ mode: 'ISTIO_MUTUAL', autoSni: true, sni: null, subjectAltNames: ['spiffe://cluster.local/ns/istio-system/sa/istio-egressgateway-service-account'] });
    expect(c.pool.maxConnections).toBe(100); // the seed's egress-gateway-destination
    expect(c.origins).toContain('DestinationRule default/egress-gateway-destination');
    expect(c.endpoints).toEqual([expect.objectContaining({ address: '127.0.0.1', port: 15443 })]);
    const w = diagnostics.find((d) => d.code === 'SLU0420');
    expect(w?.level).toBe('warning');
    expect(w?.message).toMatch(/Istio would send plaintext/);
    expect(snapshot.secrets.get('default')?.cert).toMatch(/BEGIN CERTIFICATE/);
  });

  it('port 80: httpbin through the gateway in plaintext (the gateway\'s port-80 server is plain HTTP)', () => {
    expect(routeCluster(snapshot, '80', 'httpbin.external-service.com')).toEqual(['outbound|80||istio-egressgateway.istio-system.svc.cluster.local']);
    expect(snapshot.clusters.get('outbound|80||istio-egressgateway.istio-system.svc.cluster.local')!.tls).toBeNull();
  });

  it('CONNECT tables: *.googleapis.com by SNI to the gateway as is (PASSTHROUGH there); db on 5432 by host to the gateway as is (TCP there)', () => {
    const t443 = snapshot.sidecar!.outbound.l4.get(443)!;
    expect(t443.inspectTls).toBe(true);
    expect(t443.tlsRoutes.map((r) => [r.route.name, r.route.sniHosts, r.route.clusters.map((c) => c.cluster), r.upstreamTls])).toEqual([
      ['default.sni-egress.tls.0', ['*.googleapis.com'], ['outbound|443||istio-egressgateway.istio-system.svc.cluster.local'], [null]],
    ]);
    expect(t443.services.map((s) => s.host)).toEqual(expect.arrayContaining(['api.external-service.com', 'www.googleapis.com', '*.googleapis.com']));
    const t5432 = snapshot.sidecar!.outbound.l4.get(5432)!;
    expect(t5432.inspectTls).toBe(false);
    expect(t5432.tcpRoutes.map((r) => [r.route.name, r.hosts, r.upstreamTls])).toEqual([['default.route-external-db.tcp.0', ['db.external-service.com'], [null]]]);
  });

  it('config_dump shows the sidecar part as plain JSON', () => {
    const dump = snapshotToJson(snapshot) as { sidecar: { outbound: { mode: string; l4: Record<string, { tlsRoutes: { route: { name: string } }[] }> }; scope: string | null } };
    expect(dump.sidecar.outbound.mode).toBe('REGISTRY_ONLY');
    expect(dump.sidecar.outbound.l4['443']!.tlsRoutes[0]!.route.name).toBe('default.sni-egress.tls.0');
    expect(JSON.stringify(dump)).not.toMatch(/PRIVATE KEY/);
  });

  it('the gateway-only TLS-origination DestinationRule (exportTo: .) is invisible to the sidecar', () => {
    const direct = snapshot.sidecar!.outbound.l4.get(443)!.services.find((s) => s.host === 'api.external-service.com')!;
    expect(direct.upstreamTls).toBeNull();
  });
});

describe('sidecar compile: the egress gateway compiles the same files as a gateway', () => {
  it('port 443 has the ISTIO_MUTUAL chain for api.external-service.com and the passthrough chain for *.googleapis.com', () => {
    const { snapshot } = compileMesh(SEED, { workload: { labels: { istio: 'egressgateway' }, namespace: 'istio-system', serviceAccount: 'istio-egressgateway-service-account' }, meshCa });
    expect(snapshot.sidecar ?? null).toBeNull();
    const l443 = snapshot.listeners.find((l) => l.port === 443)!;
    expect(l443.filterChains.map((c) => [c.serverNames, c.tls?.mode ?? null, c.kind])).toEqual(expect.arrayContaining([
      [['api.external-service.com'], 'ISTIO_MUTUAL', 'http'],
      [['*.googleapis.com'], null, 'tls_passthrough'],
    ]));
  });
});

const SERVICES = `
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec:
  ports: [{name: http, port: 9080}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: default}
spec:
  hosts: [api.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: private, namespace: other}
spec:
  hosts: [private.example.com]
  exportTo: ["."]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
---
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: istio-system}
spec:
  ports: [{name: http, port: 9080}]
`;

describe('sidecar compile: services, visibility and outbound policy', () => {
  it('a service without a VirtualService gets a default route under all the names an app may use', () => {
    const { snapshot } = compileMesh(SERVICES, { workload: SIDECAR() });
    const v = vhost(snapshot.routeConfigs.get('9080'), 'reviews')!;
    expect(v.domains).toEqual(['reviews.default.svc.cluster.local', 'reviews.default.svc', 'reviews.default', 'reviews']);
    expect(v.routes[0]!.name).toBe('default');
    expect(routeCluster(snapshot, '9080', 'reviews.default')).toEqual(['outbound|9080||reviews.default.svc.cluster.local']);
    // Another namespace's service: no short name.
    expect(vhost(snapshot.routeConfigs.get('9080'), 'ratings.istio-system')!.domains).not.toContain('ratings');
  });

  it('ALLOW_ANY (the default): unknown hosts go to PassthroughCluster, an original-destination cluster', () => {
    const { snapshot } = compileMesh(SERVICES, { workload: SIDECAR() });
    expect(snapshot.outboundTrafficPolicy).toBe('ALLOW_ANY');
    expect(routeCluster(snapshot, '80', 'nowhere.example.org')).toEqual(['PassthroughCluster']);
    expect(snapshot.clusters.get('PassthroughCluster')).toMatchObject<Partial<Cluster>>({ type: 'original_dst' });
  });

  it('--mesh outboundTrafficPolicy REGISTRY_ONLY; exportTo hides another namespace\'s ServiceEntry', () => {
    const { snapshot } = compileMesh(SERVICES, { workload: SIDECAR(), mesh: { outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } } });
    expect(snapshot.routeConfigs.get('80')!.any!.name).toBe('block_all');
    expect(vhost(snapshot.routeConfigs.get('80'), 'api.example.com')).toBeDefined();
    expect(vhost(snapshot.routeConfigs.get('80'), 'private.example.com')).toBeUndefined();
    const other = compileMesh(SERVICES, { workload: SIDECAR({ namespace: 'other' }) }).snapshot;
    expect(vhost(other.routeConfigs.get('80'), 'private.example.com')).toBeDefined();
  });

  it('a VirtualService without gateways binds to mesh; one bound only to a gateway does not', () => {
    const yaml = `${SERVICES}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews-v2, namespace: default}
spec:
  hosts: [reviews]
  http:
  - match: [{headers: {x-canary: {exact: "true"}}}]
    route: [{destination: {host: api.example.com}}]
  - route: [{destination: {host: reviews}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: edge-only, namespace: default}
spec:
  hosts: [api.example.com]
  gateways: [istio-system/ingress]
  http:
  - route: [{destination: {host: reviews, port: {number: 9080}}}]`;
    const { snapshot } = compileMesh(yaml, { workload: SIDECAR() });
    expect(routeCluster(snapshot, '9080', 'reviews')).toEqual(['outbound|80||api.example.com', 'outbound|9080||reviews.default.svc.cluster.local']);
    expect(routeCluster(snapshot, '80', 'api.example.com')).toEqual(['outbound|80||api.example.com']);
    expect(vhost(snapshot.routeConfigs.get('80'), 'api.example.com')!.routes[0]!.name).toBe('default');
  });
});

describe('sidecar compile: the Sidecar resource', () => {
  const withSidecar = (spec: string, extra = ''): string => `${SERVICES}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: default}
spec:
${spec}${extra}`;

  it('egress hosts ./* hide other namespaces\' services; istio-system/* brings them back; its outboundTrafficPolicy overrides the mesh', () => {
    const narrow = compileMesh(withSidecar('  egress: [{hosts: ["./*"]}]\n  outboundTrafficPolicy: {mode: REGISTRY_ONLY}'), { workload: SIDECAR() });
    expect(narrow.snapshot.sidecar?.scope).toBe('Sidecar default/default');
    expect(narrow.snapshot.outboundTrafficPolicy).toBe('REGISTRY_ONLY');
    expect(vhost(narrow.snapshot.routeConfigs.get('9080'), 'ratings.istio-system')).toBeUndefined();
    expect(vhost(narrow.snapshot.routeConfigs.get('9080'), 'reviews')).toBeDefined();
    const wide = compileMesh(withSidecar('  egress: [{hosts: ["./*", "istio-system/*"]}]'), { workload: SIDECAR() });
    expect(vhost(wide.snapshot.routeConfigs.get('9080'), 'ratings.istio-system')).toBeDefined();
    expect(wide.snapshot.outboundTrafficPolicy).toBe('ALLOW_ANY');
  });

  it('ns/host names one host; a port-scoped egress listener only admits its port', () => {
    const one = compileMesh(withSidecar('  egress: [{hosts: ["*/api.example.com"]}]'), { workload: SIDECAR() }).snapshot;
    expect(vhost(one.routeConfigs.get('80'), 'api.example.com')).toBeDefined();
    expect(vhost(one.routeConfigs.get('9080'), 'reviews')).toBeUndefined();
    const ported = compileMesh(withSidecar('  egress:\n  - port: {number: 9080, protocol: HTTP, name: http}\n    hosts: ["./*"]\n  - hosts: ["./api.example.com"]'), { workload: SIDECAR() }).snapshot;
    expect(vhost(ported.routeConfigs.get('9080'), 'reviews')).toBeDefined();
    expect(vhost(ported.routeConfigs.get('80'), 'api.example.com')).toBeDefined();
  });

  it('ALLOW_ANY with egressProxy: unknown destinations go to that proxy instead of PassthroughCluster', () => {
    const { snapshot } = compileMesh(withSidecar('  outboundTrafficPolicy:\n    mode: ALLOW_ANY\n    egressProxy: {host: api.example.com, port: {number: 80}}'), { workload: SIDECAR() });
    expect(routeCluster(snapshot, '9080', 'anything.example.net')).toEqual(['outbound|80||api.example.com']);
    expect(routeCluster(snapshot, '*', 'anything.example.net')).toEqual(['outbound|80||api.example.com']);
    expect(snapshot.sidecar!.outbound.passthroughCluster).toBe('outbound|80||api.example.com');
    expect(snapshot.clusters.has('PassthroughCluster')).toBe(false);
  });

  it('a Sidecar with a workloadSelector beats the namespace default; gateways ignore Sidecars', () => {
    const yaml = withSidecar('  egress: [{hosts: ["./*"]}]', `
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: sleep-only, namespace: default}
spec:
  workloadSelector: {labels: {app: sleep}}
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}`);
    expect(compileMesh(yaml, { workload: SIDECAR() }).snapshot.sidecar?.scope).toBe('Sidecar default/sleep-only');
    expect(compileMesh(yaml, { workload: SIDECAR({ labels: { app: 'other' } }) }).snapshot.sidecar?.scope).toBe('Sidecar default/default');
  });
});

describe('sidecar compile: inbound and PeerAuthentication', () => {
  const pa = (ns: string, name: string, spec: string): string => `---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: ${name}, namespace: ${ns}}
spec:
${spec}
`;
  const inbound = (yaml: string, appPort = 8080) => compileMesh(`${SERVICES}\n${yaml}`, { workload: SIDECAR({ sidecarPorts: { outboundPort: 15001, inboundPort: 15006, appPort } }), meshCa }).snapshot.sidecar!.inbound!;

  it('defaults to PERMISSIVE and forwards to inbound|<port>|| on 127.0.0.1', () => {
    const { snapshot } = compileMesh(SERVICES, { workload: SIDECAR({ sidecarPorts: { outboundPort: 15001, inboundPort: 15006, appPort: 8080 } }), meshCa });
    const i = snapshot.sidecar!.inbound!;
    expect(i.mode).toBe('PERMISSIVE');
    expect(i.listener.bindPort).toBe(15006);
    expect(i.httpChain.tls?.mode).toBe('ISTIO_MUTUAL');
    expect(snapshot.clusters.get('inbound|8080||')!.endpoints).toEqual([expect.objectContaining({ address: '127.0.0.1', port: 8080 })]);
    expect(snapshot.routeConfigs.get('inbound|8080||')).toBeDefined();
  });

  it('precedence: workload policy > namespace > root; UNSET inherits; portLevelMtls wins for its port', () => {
    expect(inbound(pa('istio-system', 'mesh', '  mtls: {mode: STRICT}')).mode).toBe('STRICT');
    expect(inbound(pa('istio-system', 'mesh', '  mtls: {mode: STRICT}') + pa('default', 'ns', '  mtls: {mode: PERMISSIVE}'))).toMatchObject({ mode: 'PERMISSIVE', modeFrom: 'PeerAuthentication default/ns' });
    expect(inbound(pa('istio-system', 'mesh', '  mtls: {mode: STRICT}') + pa('default', 'ns', '  mtls: {mode: UNSET}')).mode).toBe('STRICT');
    const wl = pa('default', 'sleep', '  selector: {matchLabels: {app: sleep}}\n  mtls: {mode: STRICT}\n  portLevelMtls:\n    "8080": {mode: DISABLE}');
    expect(inbound(wl, 8080).mode).toBe('DISABLE');
    expect(inbound(wl, 9090).mode).toBe('STRICT');
    expect(inbound(pa('default', 'other', '  selector: {matchLabels: {app: other}}\n  mtls: {mode: STRICT}')).mode).toBe('PERMISSIVE');
  });
});

describe('expected identity of ISTIO_MUTUAL destinations', () => {
  const base = `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: payments, namespace: prod}
spec:
  hosts: [payments.prod.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints:
  - {address: 127.0.0.1, serviceAccount: payments, labels: {security.istio.io/tlsMode: istio}}
  - {address: 127.0.0.2, serviceAccount: payments-canary, labels: {security.istio.io/tlsMode: istio}}
`;
  const tlsOf = (yaml: string) => compileMesh(yaml, { workload: SIDECAR(), meshCa }).snapshot.clusters.get('outbound|80||payments.prod.svc.cluster.local')!.tls;

  it('auto mTLS expects the service accounts of the endpoints', () => {
    expect(tlsOf(base)).toMatchObject({ mode: 'ISTIO_MUTUAL', subjectAltNames: ['spiffe://cluster.local/ns/prod/sa/payments', 'spiffe://cluster.local/ns/prod/sa/payments-canary'] });
  });

  it('ServiceEntry subjectAltNames, then DestinationRule subjectAltNames, take precedence', () => {
    expect(tlsOf(base.replace('  location: MESH_INTERNAL', '  location: MESH_INTERNAL\n  subjectAltNames: ["spiffe://cluster.local/ns/prod/sa/pay"]'))!.subjectAltNames).toEqual(['spiffe://cluster.local/ns/prod/sa/pay']);
    const dr = `${base}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: payments, namespace: prod}
spec:
  host: payments.prod.svc.cluster.local
  trafficPolicy: {tls: {mode: ISTIO_MUTUAL, subjectAltNames: ["spiffe://cluster.local/ns/prod/sa/only-this"]}}`;
    expect(tlsOf(dr)!.subjectAltNames).toEqual(['spiffe://cluster.local/ns/prod/sa/only-this']);
  });
});
