// `npx tsx test/kubernetes/fake-cluster.ts`: a stand-in cluster to try `sluice run --source
// kubernetes` on a machine without Kubernetes. It starts the fake API server (the tests' one)
// holding the seed's Part 1 objects (examples/seed-ingress), Services + Endpoints that point at
// three echo backends on 127.0.0.1, and the TLS Secret; writes a kubeconfig; and prints the
// commands to run. Type a command on stdin to change the cluster while Sluice watches:
//   canary   route /api/v1 to docs-service      restore  the seed's api-routes again
//   break    an invalid api-routes (bad regex)   delete   delete api-routes
//   down     the API server goes away           up       it comes back (with compaction: 410 → relist)
// Ctrl-C stops everything.

import { readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { issueCert, tlsSecretYaml } from '../support/certs.js';
import { startEchoBackend } from '../support/echo-backend.js';
import { FakeApiServer } from './fake-apiserver.js';
import { tempDir } from './helpers.js';

const seed = fileURLToPath(new URL('../../examples/seed-ingress/istio.yaml', import.meta.url));
const fake = await FakeApiServer.start({ secretsNamespaces: ['istio-system'] });
for (const doc of parseAllDocuments(readFileSync(seed, 'utf8'))) {
  const o = doc.toJS() as Parameters<FakeApiServer['apply']>[0];
  // The API server serves EnvoyFilter only as v1alpha3 (the seed writes v1beta1).
  if (o.kind === 'EnvoyFilter') o.apiVersion = 'networking.istio.io/v1alpha3';
  fake.apply(o);
}
const backends = await Promise.all(['api-service', 'docs-service', 'web-service'].map((n) => startEchoBackend(n)));
for (const [i, b] of backends.entries()) {
  const port = i === 0 ? 8080 : 80;
  fake.applyYaml(`apiVersion: v1
kind: Service
metadata: {name: ${b.name}, namespace: default}
spec: {selector: {app: ${b.name}}, ports: [{name: http, port: ${port}, targetPort: ${port}}]}
---
apiVersion: v1
kind: Endpoints
metadata: {name: ${b.name}, namespace: default}
subsets: [{addresses: [{ip: 127.0.0.1}], ports: [{name: http, port: ${b.port}}]}]
`);
}
const cert = issueCert(fake.ca, 'api.example.com', ['api.example.com', 'app.example.com']);
fake.applyYaml(tlsSecretYaml('example-tls-secret', 'istio-system', { cert: cert.cert, key: cert.key }));
const seedRoutes = fake.get('VirtualService', 'default', 'api-routes')!;
const dir = tempDir();
const kubeconfig = fake.writeKubeconfig(dir);
const caFile = `${dir}/ca.crt`;
writeFileSync(caFile, fake.ca.certPem);

process.stdout.write(`fake API server ${fake.url} (the seed's Part 1 objects, Services + Endpoints → echo backends)
kubeconfig: ${kubeconfig}

in another terminal:
  node bin/sluice.js run --source kubernetes --kubeconfig ${kubeconfig} --port-map 80=18080,443=18443
  curl -s --cacert ${caFile} --resolve api.example.com:18443:127.0.0.1 https://api.example.com:18443/api/v1/users | head -c 60; echo
  curl -s localhost:15000/config_status | head -30

type here: canary | break | restore | delete | down | up
`);

createInterface({ input: process.stdin }).on('line', (line) => {
  const cmd = line.trim();
  const routes = structuredClone(seedRoutes) as typeof seedRoutes & { spec: { http: { match?: unknown; route: { destination: unknown }[] }[] } };
  try {
    if (cmd === 'canary') { routes.spec.http[0]!.route[0]!.destination = { host: 'docs-service', port: { number: 80 } }; fake.apply(routes); }
    else if (cmd === 'break') { routes.spec.http[0]!.match = [{ uri: { regex: '(unclosed' } }]; fake.apply(routes); }
    else if (cmd === 'restore') fake.apply(routes);
    else if (cmd === 'delete') fake.delete('VirtualService', 'default', 'api-routes');
    else if (cmd === 'down') void fake.down();
    else if (cmd === 'up') { fake.compact(); void fake.listen(); }
    else if (cmd !== '') { process.stdout.write(`unknown command ${cmd}\n`); return; }
    if (cmd !== '') process.stdout.write(`${cmd}: done (resourceVersion ${fake.resourceVersion})\n`);
  } catch (e) {
    process.stdout.write(`${cmd}: ${(e as Error).message}\n`);
  }
});
process.on('SIGINT', () => { void fake.close().then(() => process.exit(0)); });
