// Small builders for the Istio YAML that many tests share. Each returns one document
// (no leading `---`); join documents with `docs(...)`.

export function docs(...parts: string[]): string {
  return parts.map((p) => p.trim()).join('\n---\n') + '\n';
}

/** Gateway `istio-system/gw` selecting istio=ingressgateway with one HTTP server on port 80. */
export function gatewayYaml(hosts: string[]): string {
  return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [${hosts.map((h) => JSON.stringify(h)).join(', ')}]`;
}

/** ServiceEntry `<name>.default.svc.cluster.local`, HTTP port 80, one loopback endpoint. */
export function serviceEntryYaml(name: string, endpointPort?: number): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: default}
spec:
  hosts: [${name}.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 127.0.0.1${endpointPort !== undefined ? `, ports: {http: ${endpointPort}}` : ''}}]`;
}

/** VirtualService default/<name> for `hosts` on istio-system/gw; `rules` is the indented http list. */
export function virtualServiceYaml(name: string, hosts: string[], rules: string): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: default}
spec:
  hosts: [${hosts.map((h) => JSON.stringify(h)).join(', ')}]
  gateways: [istio-system/gw]
  http:
${rules}`;
}
