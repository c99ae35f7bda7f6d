// A large config (thousands of resources, as on every reload of a big cluster) validates as a
// whole: nothing is refused for its size. Its speed is measured by bench/offline.sh, not here.

import { describe, expect, it } from 'vitest';
import { validateResource } from '../../src/api/validate.js';
import { parseConfigText } from '../../src/config/yaml-loader.js';

function bigConfig(n: number): string {
  const docs: string[] = [];
  for (let i = 0; i < n; i++) {
    docs.push(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs-${i}, namespace: ns-${i % 20}}
spec:
  hosts: [app-${i}.example.com]
  gateways: [istio-system/main-gateway]
  http:
  - match: [{uri: {prefix: /api}, headers: {x-canary: {exact: "true"}}}, {uri: {regex: "^/v[0-9]+/.*"}}]
    route:
    - {destination: {host: api-${i}, subset: v1, port: {number: 8080}}, weight: 90}
    - {destination: {host: api-${i}, subset: v2, port: {number: 8080}}, weight: 10}
    retries: {attempts: 3, perTryTimeout: 2s, retryOn: "5xx,connect-failure"}
    timeout: 10s
  - route: [{destination: {host: web-${i}}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: dr-${i}, namespace: ns-${i % 20}}
spec:
  host: api-${i}
  trafficPolicy: {connectionPool: {tcp: {maxConnections: 100}, http: {h2UpgradePolicy: UPGRADE}}}
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]`);
  }
  return docs.join('\n---\n');
}

describe('validation at scale', () => {
  it('accepts 2000 valid resources in one file', () => {
    const parsed = parseConfigText('big.yaml', bigConfig(1000));
    expect(parsed.resources).toHaveLength(2000);
    let accepted = 0;
    parsed.resources.forEach((r, i) => {
      if (validateResource(r, i).resource !== null) accepted++;
    });
    expect(accepted).toBe(2000);
  });
});
