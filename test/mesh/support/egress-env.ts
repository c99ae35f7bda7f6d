import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestCa, serverCert, writeCredential, type TestCa } from '../../support/certs.js';
import { freePort } from '../../support/ports.js';
import { runSluice, startSluice, type SluiceProcess } from '../../support/sluice-process.js';
import { startExternalHttp, startExternalTcp, type ExternalServer } from './external.js';

export const EXAMPLE_DIR = fileURLToPath(new URL('../../../examples/seed-egress/', import.meta.url));

/** The access-log line an egress auditor asks for: who (SPIFFE), where, how much, how long, outcome. */
export const AUDIT_FORMAT = 'audit source=%DOWNSTREAM_PEER_URI_SAN% from=%DOWNSTREAM_REMOTE_ADDRESS% method=%REQ(:METHOD)% authority=%REQ(:AUTHORITY)% sni=%REQUESTED_SERVER_NAME% upstream=%UPSTREAM_HOST% cluster=%UPSTREAM_CLUSTER% code=%RESPONSE_CODE% flags=%RESPONSE_FLAGS% rx=%BYTES_RECEIVED% tx=%BYTES_SENT% duration=%DURATION%';

export interface EgressEnv {
  readonly dir: string;
  readonly caDir: string;
  /** The external services' CA (the app trusts it for end-to-end TLS through passthrough). */
  readonly externalCa: TestCa;
  readonly httpbin: ExternalServer;
  readonly api: ExternalServer;
  readonly googleapis: ExternalServer;
  readonly db: ExternalServer & { clients: string[] };
  readonly gateway: SluiceProcess;
  readonly sidecar: SluiceProcess;
  readonly outboundPort: number;
  readonly gatewayPorts: { http: number; https: number; postgres: number };
  close(): Promise<void>;
}

export interface EgressEnvOptions {
  /** Identity the egress gateway runs as (default: what the WorkloadEntry declares). */
  gatewayServiceAccount?: string;
  gatewayArgs?: string[];
  sidecarArgs?: string[];
}

/**
 * The seed's Part 2 on one machine: the mesh CA (`sluice ca init`), stand-ins for the external
 * services, the egress gateway (`sluice run --labels istio=egressgateway`) and an application
 * sidecar (`sluice run --mode sidecar`), all loading examples/seed-egress (the seed's YAML as
 * written, the install stand-ins, the documented additions). The application is the caller's.
 */
export async function startEgressEnv(o: EgressEnvOptions = {}): Promise<EgressEnv> {
  // Ports come from freePort(): another test can take one before sluice binds it. Only that
  // failure (a bind error) is retried, with new ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startEgressEnvOnce(o);
    } catch (e) {
      if (attempt >= 3 || !/cannot bind|EADDRINUSE/.test((e as Error).message)) throw e;
    }
  }
}

async function startEgressEnvOnce(o: EgressEnvOptions): Promise<EgressEnv> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-egress-'));
  const caDir = join(dir, 'mesh-ca');
  const init = await runSluice(['ca', 'init', '--dir', caDir]);
  if (init.code !== 0) throw new Error(`sluice ca init failed: ${init.stderr}`);

  const externalCa = createTestCa('External Test CA');
  const apiCert = serverCert(externalCa, 'api.external-service.com');
  const googleCert = serverCert(externalCa, '*.googleapis.com');
  const [httpbin, api, googleapis, db] = await Promise.all([
    startExternalHttp('httpbin.external-service.com'),
    startExternalHttp('api.external-service.com', apiCert),
    startExternalHttp('googleapis.com', googleCert),
    startExternalTcp('db'),
  ]);
  const creds = join(dir, 'credentials');
  writeCredential(creds, 'external-api-ca', { ca: externalCa.certPem });

  const gatewayPorts = { http: await freePort(), https: await freePort(), postgres: await freePort() };
  const install = readFileSync(join(EXAMPLE_DIR, 'mesh-install.yaml'), 'utf8')
    .replace('http2: 15080', `http2: ${gatewayPorts.http}`)
    .replace('https: 15443', `https: ${gatewayPorts.https}`)
    .replace('tcp-postgres: 15432', `tcp-postgres: ${gatewayPorts.postgres}`);
  writeFileSync(join(dir, 'mesh-install.yaml'), install);
  writeFileSync(join(dir, 'gateway-mesh.yaml'), `accessLogFormat: "${AUDIT_FORMAT}\\n"\n`);
  const config = [join(EXAMPLE_DIR, 'istio.yaml'), join(dir, 'mesh-install.yaml'), join(EXAMPLE_DIR, 'additions.yaml')];
  const resolve = [
    `httpbin.external-service.com:80=127.0.0.1:${httpbin.port}`,
    `api.external-service.com:443=127.0.0.1:${api.port}`,
    `www.googleapis.com:443=127.0.0.1:${googleapis.port}`,
    `db.external-service.com:5432=127.0.0.1:${db.port}`,
  ].join(',');
  const closeExternal = (): Promise<unknown> => Promise.all([httpbin.close(), api.close(), googleapis.close(), db.close()]);
  let gateway: SluiceProcess;
  try {
    gateway = await startSluice({
      config,
      args: [
        '--labels', 'istio=egressgateway', '--namespace', 'istio-system', '--service-account', o.gatewayServiceAccount ?? 'istio-egressgateway-service-account',
        '--port-map', `80=${gatewayPorts.http},443=${gatewayPorts.https},5432=${gatewayPorts.postgres}`,
        '--mesh-ca-dir', caDir, '--credentials', creds, '--resolve', resolve, '--mesh', join(dir, 'gateway-mesh.yaml'), '--drain-timeout', '1',
        ...(o.gatewayArgs ?? []),
      ],
    });
  } catch (e) {
    await closeExternal();
    throw e;
  }
  const outboundPort = await freePort();
  let sidecar: SluiceProcess;
  try {
    sidecar = await startSluice({
      config,
      args: [
        '--mode', 'sidecar', '--labels', 'app=sleep', '--namespace', 'default', '--service-account', 'sleep',
        '--outbound-port', String(outboundPort), '--mesh-ca-dir', caDir, '--drain-timeout', '1',
        // An app's https:// call to api.external-service.com goes straight out (see the test).
        '--resolve', `api.external-service.com:443=127.0.0.1:${api.port}`,
        ...(o.sidecarArgs ?? []),
      ],
    });
  } catch (e) {
    await gateway.stop();
    await closeExternal();
    throw e;
  }
  return {
    dir, caDir, externalCa, httpbin, api, googleapis, db, gateway, sidecar, outboundPort, gatewayPorts,
    close: async () => {
      await Promise.all([sidecar.stop(), gateway.stop()]);
      await closeExternal();
    },
  };
}

/** Waits for an access-log line (stdout) matching every pattern. */
export function logLine(p: SluiceProcess, ...patterns: RegExp[]): Promise<string> {
  const all = new RegExp(patterns.map((r) => `(?=.*${r.source})`).join(''));
  return p.waitFor(all, 'stdout', 10_000);
}
