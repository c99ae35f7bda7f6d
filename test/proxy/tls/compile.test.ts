import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileDestinationSubnets } from '../../../src/compile/l4-routes.js';
import type { Snapshot } from '../../../src/compile/snapshot.js';
import { ConfigPipeline } from '../../../src/config/pipeline.js';
import type { Diagnostic } from '../../../src/config/diagnostic.js';
import { selectChain } from '../../../src/proxy/listener/listener-manager.js';
import { selectL4Route } from '../../../src/proxy/tcp/tcp-proxy.js';
import { createTestCa, serverCert, tlsSecretYaml, writeCredential } from '../../support/certs.js';
import { configFile } from '../../support/yaml.js';

// Compile-level checks of the TLS/TCP listener model: credential resolution as Istio's SDS does
// it, diagnostics for servers that cannot be served, passthrough chains per tls match, and the
// chain/route selection the data plane uses.

const ca = createTestCa('Compile CA');
const otherCa = createTestCa('Other CA');
const leaf = serverCert(ca, 'x.example.com');
const b64 = (s: string): string => Buffer.from(s).toString('base64');

function build(docs: string, credentials?: string, meshFile?: string): { snap: Snapshot; diags: Diagnostic[] } {
  const file = configFile(docs);
  const r = new ConfigPipeline({ configPaths: [file], credentialsDir: credentials, meshFile, workload: { labels: { istio: 'ingressgateway' } } }).build();
  return { snap: r.snapshot, diags: r.diagnostics };
}

const gateway = (tls: string, protocol = 'HTTPS', hosts = '[x.example.com]'): string => `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: ${protocol}}
    hosts: ${hosts}
    tls: ${tls}
`;

describe('credentialName resolution (Istio SDS semantics)', () => {
  it('MUTUAL: the CA comes from Secret <name>-cacert before the ca.crt of <name>', () => {
    const { snap } = build(`${gateway('{mode: MUTUAL, credentialName: cred}')}---
${tlsSecretYaml('cred', 'istio-system', { cert: leaf.cert, key: leaf.key, ca: otherCa.certPem })}
---
apiVersion: v1
kind: Secret
metadata: {name: cred-cacert, namespace: istio-system}
data: {ca.crt: ${b64(ca.certPem)}}
`);
    const chain = snap.listeners[0]!.filterChains[0]!;
    expect(chain.tls?.caSecret).toBe('kubernetes://cred-cacert');
    expect(snap.secrets.get('kubernetes://cred-cacert')).toMatchObject({ ca: ca.certPem, origin: 'Secret istio-system/cred-cacert' });
  });

  it('MUTUAL: without <name>-cacert the CA is the cacert/ca.crt of <name>', () => {
    const { snap } = build(`${gateway('{mode: MUTUAL, credentialName: cred}')}---
apiVersion: v1
kind: Secret
metadata: {name: cred, namespace: istio-system}
data: {cert: ${b64(leaf.cert)}, key: ${b64(leaf.key)}, cacert: ${b64(ca.certPem)}}
`);
    expect(snap.secrets.get('kubernetes://cred-cacert')).toMatchObject({ ca: ca.certPem, origin: 'Secret istio-system/cred', error: null });
    expect(snap.secrets.get('kubernetes://cred')).toMatchObject({ cert: leaf.cert, error: null });
  });

  it('a generic Secret with tls.crt/tls.key/ca.crt (kubectl create secret generic --from-file) works', () => {
    const { snap, diags } = build(`${gateway('{mode: MUTUAL, credentialName: cred}')}---
apiVersion: v1
kind: Secret
metadata: {name: cred, namespace: istio-system}
type: Opaque
data: {tls.crt: ${b64(leaf.cert)}, tls.key: ${b64(leaf.key)}, ca.crt: ${b64(ca.certPem)}}
`);
    expect(diags.filter((d) => d.code === 'IST0161')).toEqual([]);
    expect(snap.listeners[0]!.filterChains[0]!.tls?.mode).toBe('MUTUAL');
  });

  it('--credentials DIR, with the CA in DIR/<name>-cacert', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-creds-'));
    writeCredential(dir, 'cred', { cert: leaf.cert, key: leaf.key });
    writeCredential(dir, 'cred-cacert', { ca: ca.certPem });
    const { snap } = build(gateway('{mode: MUTUAL, credentialName: cred}'), dir);
    expect(snap.listeners[0]!.filterChains[0]!.tls?.certificates).toEqual(['kubernetes://cred']);
    expect(snap.secrets.get('kubernetes://cred-cacert')?.ca).toBe(ca.certPem);
  });

  it('a missing Secret, an empty key, a key that does not match: the server is not served (IST0161)', () => {
    const mismatch = serverCert(ca, 'y.example.com');
    for (const [secret, msg] of [
      ['', /secret istio-system\/cred not found/],
      [`apiVersion: v1\nkind: Secret\nmetadata: {name: cred, namespace: istio-system}\nstringData: {tls.crt: "", tls.key: ""}\n`, /found keys "tls\.crt" and "tls\.key", but they were empty/],
      [tlsSecretYaml('cred', 'istio-system', { cert: leaf.cert, key: mismatch.key }), /the private key does not match the certificate/],
    ] as const) {
      const { snap, diags } = build(`${gateway('{mode: SIMPLE, credentialName: cred}')}---\n${secret}`);
      expect(snap.listeners).toEqual([]);
      const d = diags.find((x) => x.code === 'IST0161');
      expect(d?.message).toMatch(msg);
      expect(d?.message).toContain('this server is not served');
    }
  });

  it('MUTUAL without any CA is not served, and says where the CA belongs', () => {
    const { snap, diags } = build(`${gateway('{mode: MUTUAL, credentialName: cred}')}---\n${tlsSecretYaml('cred', 'istio-system', leaf)}`);
    expect(snap.listeners).toEqual([]);
    expect(diags.find((d) => d.code === 'IST0161')?.fix).toContain('cred-cacert');
  });

  it('seed mistake (c): caCertificates next to credentialName is ignored with a note; the Secret CA is used', () => {
    const { snap, diags } = build(`${gateway('{mode: MUTUAL, credentialName: cred, caCertificates: external-ca.pem}')}---\n${tlsSecretYaml('cred', 'istio-system', { ...leaf, ca: ca.certPem })}`);
    expect(snap.listeners[0]!.filterChains[0]!.tls?.caSecret).toBe('kubernetes://cred-cacert');
    expect(diags.find((d) => d.code === 'SLU0206')?.message).toContain('caCertificates is ignored because credentialName is set');
  });
});

describe('modes Sluice refuses or cannot serve yet', () => {
  it('AUTO_PASSTHROUGH is refused with a clear message', () => {
    const { snap, diags } = build(gateway('{mode: AUTO_PASSTHROUGH}', 'TLS', '["*.local"]'));
    expect(snap.listeners).toEqual([]);
    expect(diags.find((d) => d.code === 'SLU0202')?.message).toMatch(/AUTO_PASSTHROUGH .* is not supported by Sluice; this server is not served/);
  });

  it('ISTIO_MUTUAL without a mesh CA: "not yet configured"', () => {
    const { snap, diags } = build(gateway('{mode: ISTIO_MUTUAL}'));
    expect(snap.listeners).toEqual([]);
    expect(diags.find((d) => d.code === 'SLU0203')?.message).toContain('mesh CA, which is not yet configured');
  });

  it('http routes bound to a PASSTHROUGH server are flagged (seed mistake (d))', () => {
    const { diags } = build(`${gateway('{mode: PASSTHROUGH}')}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: default}
spec:
  hosts: [x.example.com]
  gateways: [istio-system/gw]
  http: [{route: [{destination: {host: x.example.com}}]}]
`);
    expect(diags.find((d) => d.code === 'SLU0209')?.fix).toContain('tls:');
  });
});

describe('passthrough chains and L4 route selection', () => {
  const docs = `${gateway('{mode: PASSTHROUGH}', 'TLS', '["*.example.com"]')}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: a, namespace: default}
spec:
  hosts: ["*.example.com"]
  gateways: [istio-system/gw]
  tls:
  - match: [{sniHosts: ["*.example.com"], sourceLabels: {app: sleep}}]
    route: [{destination: {host: wild.example.com}}]
  - match: [{sniHosts: [api.example.com]}]
    route: [{destination: {host: api.example.com}}]
  - match: [{sniHosts: [api.example.com]}]
    route: [{destination: {host: dup.example.com}}]
  - match: [{sniHosts: [other.example.com], port: 8443}]
    route: [{destination: {host: other.example.com}}]
`;

  it('each tls match is a chain on its sniHosts; duplicates and other ports are skipped; sourceLabels do not apply at a gateway', () => {
    const { snap, diags } = build(docs);
    const l = snap.listeners[0]!;
    expect(l.filterChains.map((c) => [c.kind, c.serverNames])).toEqual([['tls_passthrough', ['*.example.com']], ['tls_passthrough', ['api.example.com']]]);
    expect(diags.find((d) => d.code === 'SLU0204')?.message).toContain('repeats SNI api.example.com');
    expect(diags.find((d) => d.code === 'SLU0208')?.message).toContain('sourceLabels is not applied to gateway tls/tcp routes');
    expect(selectChain(l, 'api.example.com')!.l4Routes[0]!.clusters[0]!.host).toBe('api.example.com');
    expect(selectChain(l, 'x.y.example.com')!.l4Routes[0]!.clusters[0]!.host).toBe('wild.example.com');
    expect(selectChain(l, 'example.com')).toBeNull();
    expect(selectChain(l, '')).toBeNull();
  });

  it('selectL4Route: exact SNI over the longest wildcard over no names; destinationSubnets filter by destination address', () => {
    const route = (name: string, sniHosts: string[], subnets: string[] = []): Parameters<typeof selectL4Route>[0][number] => ({
      name, sniHosts, destinationSubnets: subnets, destinationMatcher: compileDestinationSubnets(subnets), clusters: [], totalWeight: 0,
      source: { resource: '', file: '', line: 0, col: 0, rule: 0, match: 0 },
    });
    const routes = [route('any', []), route('wild', ['*.example.com']), route('deeper', ['*.api.example.com']), route('exact', ['v1.api.example.com']), route('net', ['*.internal'], ['10.0.0.0/8', 'fd00::/8'])];
    expect(selectL4Route(routes, 'v1.api.example.com')!.name).toBe('exact');
    expect(selectL4Route(routes, 'v2.api.example.com')!.name).toBe('deeper');
    expect(selectL4Route(routes, 'www.example.com')!.name).toBe('wild');
    expect(selectL4Route(routes, 'elsewhere.org')!.name).toBe('any');
    expect(selectL4Route(routes, 'db.internal', '10.1.2.3')!.name).toBe('net');
    expect(selectL4Route(routes, 'db.internal', 'fd00::1')!.name).toBe('net');
    expect(selectL4Route(routes, 'db.internal', '192.168.1.1')!.name).toBe('any');
  });
});

describe('DestinationRule TLS credentials', () => {
  it('a MUTUAL credential that is missing is reported at load (SLU0210), the cluster answers 503 UF', () => {
    const { snap, diags } = build(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: default}
spec:
  hosts: [ext.example.com]
  resolution: DNS
  ports: [{number: 443, name: https, protocol: HTTPS}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ext, namespace: default}
spec:
  host: ext.example.com
  trafficPolicy: {tls: {mode: MUTUAL, credentialName: nope}}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [ext.example.com]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ext, namespace: default}
spec:
  hosts: [ext.example.com]
  gateways: [istio-system/gw]
  http: [{route: [{destination: {host: ext.example.com, port: {number: 443}}}]}]
`);
    expect(snap.clusters.get('outbound|443||ext.example.com')?.tls).toMatchObject({ mode: 'MUTUAL', certSecret: 'kubernetes://nope', caSecret: null, autoSni: true });
    expect(diags.find((d) => d.code === 'SLU0210')?.message).toContain('secret istio-system/nope not found');
  });
});

describe('x-forwarded-client-cert mode', () => {
  it("defaults to Istio's gateway SANITIZE_SET; meshConfig.defaultConfig.gatewayTopology overrides it", () => {
    const cfg = `${gateway('{mode: SIMPLE, credentialName: cred}')}---\n${tlsSecretYaml('cred', 'istio-system', leaf)}`;
    expect(build(cfg).snap.listeners[0]!.filterChains[0]!.forwardClientCertDetails).toBe('SANITIZE_SET');
    const mesh = configFile('defaultConfig:\n  gatewayTopology:\n    forwardClientCertDetails: APPEND_FORWARD\n');
    expect(build(cfg, undefined, mesh).snap.listeners[0]!.filterChains[0]!.forwardClientCertDetails).toBe('APPEND_FORWARD');
  });
});
