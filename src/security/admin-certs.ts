// Admin endpoints for certificates (Envoy's `/certs`, read by `sluice proxy-config secret`):
// every TLS secret of the serving snapshot — the mesh workload certificate (`default`),
// credentialName secrets, file certificates — with serial, SANs, validity and chain. Private
// keys are never shown. `POST /certs/renew` renews the mesh certificate now.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ProxyRuntime } from '../proxy/runtime.js';
import { describeSecret, type SecretView } from './cert-info.js';
import type { MeshIdentity } from './mesh-identity.js';

type Route = (req: IncomingMessage, url: URL, res: ServerResponse) => void;

export interface CertsView {
  /** The mesh identity, when this proxy has one (`--mesh-ca-dir`). */
  workload: ReturnType<MeshIdentity['describe']> | null;
  /** Snapshot secrets by name, as the data plane uses them. */
  certificates: SecretView[];
}

export function certsView(runtime: ProxyRuntime, identity: MeshIdentity | null): CertsView {
  const now = Date.now();
  return {
    workload: identity?.describe() ?? null,
    certificates: [...runtime.snapshot.secrets.values()].map((s) => describeSecret(s, now)),
  };
}

export function certsAdminRoutes(runtime: ProxyRuntime, identity: MeshIdentity | null): Map<string, Route> {
  const json = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-cache' });
    res.end(`${JSON.stringify(body, null, 2)}\n`);
  };
  return new Map<string, Route>([
    ['/certs', (_req, _url, res) => json(res, 200, certsView(runtime, identity))],
    ['/certs/renew', (req, _url, res) => {
      if (req.method !== 'POST') { json(res, 405, { error: 'POST only' }); return; }
      if (identity === null) { json(res, 404, { error: 'no mesh identity: start with --mesh-ca-dir DIR' }); return; }
      identity.renew().then(
        (c) => json(res, 200, { identity: c.identity, serial_number: c.serialNumber.toLowerCase(), expiration_time: c.notAfter.toISOString() }),
        (e: Error) => json(res, 500, { error: e.message }),
      );
    }],
  ]);
}
