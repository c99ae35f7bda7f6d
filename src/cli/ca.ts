import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { parseDurationMs } from '../compile/duration.js';
import { LocalCaClient } from '../security/ca-client.js';
import { describeCertificates, type CertificateDetails } from '../security/cert-info.js';
import { CA_FILES, CaError, MeshCa } from '../security/mesh-ca.js';
import { spiffeId } from '../security/spiffe.js';
import { WorkloadCertificateManager } from '../security/workload-cert.js';

// `sluice ca`: the mesh CA on one machine. `init` writes a root (or takes the user's plug-in CA
// files, Istio's `cacerts` layout); `issue` writes a workload certificate for an identity, for
// programs that are not Sluice; `show` prints what a CA folder holds. `sluice run
// --mesh-ca-dir DIR` issues (and renews) its own certificate from the same folder.

interface InitFlags { dir: string; trustDomain: string; days: string; from?: string; force?: boolean }
interface IssueFlags { dir: string; namespace: string; serviceAccount: string; trustDomain: string; ttl: string; out: string }
interface ShowFlags { dir: string }

export function registerCa(program: Command): void {
  const ca = program.command('ca').description('the mesh CA for ISTIO_MUTUAL: SPIFFE workload certificates');
  ca.command('init')
    .description(`create a mesh CA folder (${Object.values(CA_FILES).join(', ')}), as istiod's self-signed CA or from your own CA files`)
    .requiredOption('--dir <dir>', 'folder to write the CA into')
    .option('--trust-domain <td>', 'trust domain (the root subject organisation)', 'cluster.local')
    .option('--days <n>', 'root validity in days', '3650')
    .option('--from <dir>', `take an existing CA instead: a folder with ${CA_FILES.caCert}, ${CA_FILES.caKey}, ${CA_FILES.root}, ${CA_FILES.chain} (Istio's plug-in CA layout)`)
    .option('--force', 'replace a CA already in --dir')
    .action(async (f: InitFlags) => { process.exitCode = await init(f); });
  ca.command('issue')
    .description('issue a workload certificate (cert-chain.pem, key.pem, root-cert.pem) for a namespace/service account')
    .requiredOption('--dir <dir>', 'the mesh CA folder')
    .requiredOption('--namespace <ns>', 'workload namespace')
    .requiredOption('--service-account <sa>', 'workload service account')
    .option('--trust-domain <td>', 'trust domain of the SPIFFE identity', 'cluster.local')
    .option('--ttl <duration>', 'certificate lifetime (Go duration)', '24h')
    .requiredOption('--out <dir>', 'folder for cert-chain.pem, key.pem, root-cert.pem')
    .action(async (f: IssueFlags) => { process.exitCode = await issue(f); });
  ca.command('show')
    .description('print the CA certificates of a mesh CA folder')
    .requiredOption('--dir <dir>', 'the mesh CA folder')
    .action(async (f: ShowFlags) => { process.exitCode = await show(f); });
}

function fail(e: unknown): number {
  const msg = e instanceof CaError ? `${e.code}: ${e.message}` : (e as Error).message;
  process.stderr.write(`sluice ca: ${msg}\n`);
  return e instanceof CaError && e.code === 'SLU0401' ? 1 : 2;
}

function formatCert(c: CertificateDetails, indent = '  '): string {
  const sans = c.subject_alt_names.map((s) => s.uri ?? s.dns ?? s.ip_address ?? s.email ?? '').join(', ');
  return [
    `${indent}subject:  ${c.subject || '(empty)'}`,
    `${indent}issuer:   ${c.issuer}`,
    `${indent}serial:   ${c.serial_number}`,
    ...(sans !== '' ? [`${indent}SANs:     ${sans}`] : []),
    `${indent}valid:    ${c.valid_from} → ${c.expiration_time} (${c.days_until_expiration} days left)`,
  ].join('\n');
}

async function init(f: InitFlags): Promise<number> {
  try {
    const days = Number(f.days);
    if (!Number.isInteger(days) || days < 1) throw new Error(`--days ${f.days}: expected a whole number of days ≥ 1`);
    const ca = f.from !== undefined
      ? await MeshCa.importFrom(f.from, f.dir, { force: f.force === true })
      : await MeshCa.init(f.dir, { trustDomain: f.trustDomain, days, force: f.force === true });
    process.stdout.write(`mesh CA ${f.from !== undefined ? `imported from ${f.from}` : 'created'} in ${f.dir}\n`);
    process.stdout.write(`signing certificate (${CA_FILES.caCert}):\n${formatCert(describeCertificates(ca.caCertPem)[0]!)}\n`);
    process.stdout.write(`next: sluice run --mesh-ca-dir ${f.dir} --namespace NS --service-account SA ...\n`);
    return 0;
  } catch (e) {
    return fail(e);
  }
}

async function issue(f: IssueFlags): Promise<number> {
  try {
    const ttl = parseDurationMs(f.ttl);
    if (ttl === null || ttl < 1000) throw new Error(`--ttl ${f.ttl}: expected a duration of at least 1s, e.g. 24h`);
    const identity = spiffeId(f.trustDomain, f.namespace, f.serviceAccount);
    const m = new WorkloadCertificateManager({ client: await LocalCaClient.fromDir(f.dir, identity), trustDomain: f.trustDomain, namespace: f.namespace, serviceAccount: f.serviceAccount, ttlMs: ttl });
    const c = await m.start();
    m.stop();
    mkdirSync(f.out, { recursive: true });
    writeFileSync(join(f.out, 'cert-chain.pem'), c.certChain);
    writeFileSync(join(f.out, 'key.pem'), c.privateKey, { mode: 0o600 });
    writeFileSync(join(f.out, 'root-cert.pem'), c.roots);
    process.stdout.write(`issued ${identity} into ${f.out} (cert-chain.pem, key.pem, root-cert.pem)\n${formatCert(describeCertificates(c.certChain)[0]!)}\n`);
    return 0;
  } catch (e) {
    return fail(e);
  }
}

async function show(f: ShowFlags): Promise<number> {
  try {
    const ca = await MeshCa.load(f.dir);
    process.stdout.write(`mesh CA in ${f.dir}\nsigning certificate (${CA_FILES.caCert}):\n${formatCert(describeCertificates(ca.caCertPem)[0]!)}\n`);
    const roots = describeCertificates(ca.rootPem);
    process.stdout.write(`trust anchors (${CA_FILES.root}):\n${roots.map((r) => formatCert(r)).join('\n\n')}\n`);
    if (ca.chainPems.length > 0) process.stdout.write(`chain sent with workload certificates: ${ca.chainPems.length} certificate${ca.chainPems.length === 1 ? '' : 's'}\n`);
    return 0;
  } catch (e) {
    return fail(e);
  }
}
