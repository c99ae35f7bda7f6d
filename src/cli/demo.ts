import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { ConfigLoader } from '../config/loader.js';
import { run } from './run.js';

const EXAMPLES = resolve(dirname(fileURLToPath(import.meta.url)), '../../examples');

interface DemoFlags {
  example: string;
  httpPort: string;
  httpsPort: string;
  adminPort: string;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description("run the gateway on one of examples/ with bundled demo backends (default: the seed's Part 1)")
    .option('--example <name>', 'folder under examples/ with a try.txt: seed-ingress, seed-advanced-routing, seed-security', 'seed-ingress')
    .option('--http-port <port>', 'local port for Gateway port 80', '8080')
    .option('--https-port <port>', 'local port for Gateway port 443', '8443')
    .option('--admin-port <port>', 'admin API port', '15000')
    .action(async (flags: DemoFlags) => {
      process.exitCode = await demo(flags);
    });
}

async function demo(flags: DemoFlags): Promise<number> {
  const dir = join(EXAMPLES, flags.example);
  const demos = readdirSync(EXAMPLES, { withFileTypes: true }).filter((e) => e.isDirectory() && existsSync(join(EXAMPLES, e.name, 'try.txt'))).map((e) => e.name);
  if (!existsSync(dir)) {
    process.stderr.write(`sluice demo: no example ${flags.example} under ${EXAMPLES}; --example takes one of: ${demos.join(', ')}\n`);
    return 2;
  }
  // An example that needs more than one gateway process (seed-egress) has its own script.
  if (!existsSync(join(dir, 'try.txt')) && existsSync(join(dir, 'try.sh'))) {
    process.stderr.write(`sluice demo: examples/${flags.example} runs several processes (an application sidecar and an egress gateway): run examples/${flags.example}/try.sh after npm run build (see examples/${flags.example}/README.md); sluice demo takes one of: ${demos.join(', ')}\n`);
    return 2;
  }
  const store = new ConfigLoader([dir]).load().store;
  // Loaded here, not at the top: `sluice run` must not pay for the demo's modules (x509, ...).
  const { startDemoBackends } = await import('../demo/backends.js');
  const { selfSignedCertificate } = await import('../security/self-signed.js');
  const { servers } = await startDemoBackends(store.list('ServiceEntry'));
  process.stderr.write(`demo backends listening: ${servers.map((s) => (s.address() as { port: number }).port).join(', ')}\n`);
  // Self-signed certificates for every credentialName the Gateways use.
  const creds = mkdtempSync(join(tmpdir(), 'sluice-demo-creds-'));
  for (const gw of store.list('Gateway')) {
    for (const s of gw.spec.servers) {
      const name = s.tls?.credentialName;
      if (name === undefined) continue;
      const hosts = s.hosts.map((h) => h.split('/').pop()!).filter((h) => h !== '*').map((h) => h.replace(/^\*\./, 'wildcard.'));
      const { cert, key } = await selfSignedCertificate(hosts.length > 0 ? hosts : ['localhost']);
      mkdirSync(join(creds, name), { recursive: true });
      writeFileSync(join(creds, name, 'tls.crt'), cert);
      writeFileSync(join(creds, name, 'tls.key'), key);
    }
  }
  const tryFile = join(dir, 'try.txt');
  if (existsSync(tryFile)) {
    const text = readFileSync(tryFile, 'utf8').replaceAll('{http}', flags.httpPort).replaceAll('{https}', flags.httpsPort).replaceAll('{admin}', flags.adminPort);
    process.stderr.write(`\nTry these in another terminal:\n\n${text}\n`);
  }
  return run({
    config: [dir],
    mode: 'gateway',
    labels: 'istio=ingressgateway',
    namespace: 'istio-system',
    serviceAccount: 'default',
    portMap: [`80=${flags.httpPort},443=${flags.httpsPort}`],
    listenHost: '127.0.0.1',
    adminPort: flags.adminPort,
    adminHost: '127.0.0.1',
    credentials: creds,
    outboundPort: '15001',
    inboundPort: '15006',
    accessLog: 'stdout',
    logLevel: 'info',
    drainTimeout: '5',
    requestHeadersTimeout: '60',
    // One process: the demo backends run in it, and a forked worker would start them again.
    concurrency: '1',
  });
}
