// The mesh CA: what istiod's built-in CA does for Istio, as a library. It keeps Istio's on-disk
// layout for plug-in CA certificates (the `cacerts` secret), so a user's existing CA works as is:
//
//   ca-cert.pem     the signing CA certificate (a root, or an intermediate under the root)
//   ca-key.pem      its private key
//   root-cert.pem   the trust anchor every workload verifies peers against
//   cert-chain.pem  ca-cert.pem followed by any intermediates up to the root
//
// `sluice ca init --dir DIR` writes a new self-signed root in this layout; `--from SRC` takes
// the user's four files instead. Workload certificates are issued from a CSR, as istiod's
// IstioCertificateService does: the CSR proves possession of the key, the caller's
// authenticated identity (not the CSR) decides the SPIFFE URI SAN.

import { createPrivateKey, randomBytes, X509Certificate as NodeX509 } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EC_P256, generateKeyPair, importSigningKey, type SigningKey } from './keys.js';
import { joinCertificates, splitCertificates, x509 } from './pem.js';

export const CA_FILES = Object.freeze({ caCert: 'ca-cert.pem', caKey: 'ca-key.pem', root: 'root-cert.pem', chain: 'cert-chain.pem' });

/** Istio's MAX_WORKLOAD_CERT_TTL default: the longest workload certificate the CA signs. */
export const MAX_WORKLOAD_CERT_TTL_MS = 90 * 86_400_000;
/** Issued certificates start this much in the past, for clock skew between machines. */
const BACKDATE_MS = 60_000;

export class CaError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = 'CaError';
  }
}

export interface InitOptions {
  /** Organisation of the root's subject (Istio uses the trust domain). */
  trustDomain?: string;
  /** Root validity (Istio's self-signed root: 10 years). */
  days?: number;
  /** Overwrite an existing CA in `dir`. */
  force?: boolean;
}

export interface SignRequest {
  /** PKCS#10 CSR in PEM. */
  csrPem: string;
  /** Identities the caller is authenticated as (SPIFFE URIs); they become the URI SANs. */
  identities: readonly string[];
  ttlMs: number;
}

export class MeshCa {
  readonly dir: string;
  /** The signing certificate (PEM) and its parsed form. */
  readonly caCertPem: string;
  readonly rootPem: string;
  /** Certificates sent after the leaf: the signing CA and intermediates, without the root itself. */
  readonly chainPems: readonly string[];
  readonly #caCert: x509.X509Certificate;
  readonly #key: SigningKey;

  private constructor(dir: string, caCertPem: string, rootPem: string, chainPems: string[], caCert: x509.X509Certificate, key: SigningKey) {
    this.dir = dir;
    this.caCertPem = caCertPem;
    this.rootPem = rootPem;
    this.chainPems = chainPems;
    this.#caCert = caCert;
    this.#key = key;
  }

  /** Writes a new self-signed root CA into `dir` in Istio's plug-in layout and loads it. */
  static async init(dir: string, o: InitOptions = {}): Promise<MeshCa> {
    if (!o.force && existsSync(join(dir, CA_FILES.caKey))) {
      throw new CaError('SLU0401', `${dir} already holds a CA (${CA_FILES.caKey}); refusing to overwrite it (use --force to replace it: every workload certificate it issued stops being trusted)`);
    }
    const td = o.trustDomain ?? 'cluster.local';
    const keys = await generateKeyPair(EC_P256);
    const now = Date.now();
    const root = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name: [{ O: [td] }, { CN: ['Sluice mesh root CA'] }],
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(now + (o.days ?? 3650) * 86_400_000),
      keys: keys as unknown as CryptoKeyPair,
      signingAlgorithm: EC_P256,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const pem = root.toString('pem') + '\n';
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, CA_FILES.caKey), keys.pem, { mode: 0o600 });
    chmodSync(join(dir, CA_FILES.caKey), 0o600);
    writeFileSync(join(dir, CA_FILES.caCert), pem);
    writeFileSync(join(dir, CA_FILES.root), pem);
    writeFileSync(join(dir, CA_FILES.chain), pem);
    return MeshCa.load(dir);
  }

  /**
   * Copies a user's CA (Istio's `cacerts` files in `from`) into `dir` after checking it, the
   * way `kubectl create secret generic cacerts -n istio-system --from-file=...` plugs a CA
   * into istiod.
   */
  static async importFrom(from: string, dir: string, o: { force?: boolean } = {}): Promise<MeshCa> {
    await MeshCa.load(from); // validates before anything is written
    if (!o.force && existsSync(join(dir, CA_FILES.caKey)) && dir !== from) {
      throw new CaError('SLU0401', `${dir} already holds a CA (${CA_FILES.caKey}); refusing to overwrite it (use --force)`);
    }
    mkdirSync(dir, { recursive: true });
    for (const f of Object.values(CA_FILES)) {
      const src = join(from, f);
      if (!existsSync(src)) continue;
      writeFileSync(join(dir, f), readFileSync(src), f === CA_FILES.caKey ? { mode: 0o600 } : {});
    }
    return MeshCa.load(dir);
  }

  /** Loads and checks a CA folder; every problem is a CaError that names the file and the fix. */
  static async load(dir: string): Promise<MeshCa> {
    const read = (f: string, required: boolean): string | null => {
      const p = join(dir, f);
      if (!existsSync(p)) {
        if (required) throw new CaError('SLU0402', `${p} not found: a mesh CA folder holds ${CA_FILES.caCert}, ${CA_FILES.caKey}, ${CA_FILES.root} (and optionally ${CA_FILES.chain}); create one with \`sluice ca init --dir ${dir}\``);
        return null;
      }
      return readFileSync(p, 'utf8');
    };
    const caCertText = read(CA_FILES.caCert, true)!;
    const keyText = read(CA_FILES.caKey, true)!;
    const rootText = read(CA_FILES.root, false) ?? caCertText;
    const chainText = read(CA_FILES.chain, false);

    const caPems = splitCertificates(caCertText);
    if (caPems.length === 0) throw new CaError('SLU0403', `${join(dir, CA_FILES.caCert)} holds no PEM certificate`);
    const caCertPem = caPems[0]!;
    const caNode = new NodeX509(caCertPem);
    if (!caNode.ca) throw new CaError('SLU0403', `${join(dir, CA_FILES.caCert)} is not a CA certificate (basicConstraints CA:TRUE is missing)`);
    const now = Date.now();
    if (Date.parse(caNode.validTo) < now) throw new CaError('SLU0404', `${join(dir, CA_FILES.caCert)} expired on ${caNode.validTo}`);
    let key: SigningKey;
    try {
      key = await importSigningKey(keyText);
    } catch (e) {
      throw new CaError('SLU0405', `${join(dir, CA_FILES.caKey)}: ${(e as Error).message}`);
    }
    if (!caNode.checkPrivateKey(createPrivateKey(key.pem))) {
      throw new CaError('SLU0405', `${join(dir, CA_FILES.caKey)} is not the key of ${join(dir, CA_FILES.caCert)}`);
    }
    const roots = splitCertificates(rootText);
    if (roots.length === 0) throw new CaError('SLU0403', `${join(dir, CA_FILES.root)} holds no PEM certificate`);
    const rootNodes = roots.map((r) => new NodeX509(r));
    // Chain: cert-chain.pem when given (ca-cert first), else ca-cert alone. Roots are not sent.
    const chainPems = chainText !== null ? splitCertificates(chainText) : [caCertPem];
    if (chainPems.length === 0 || new NodeX509(chainPems[0]!).fingerprint256 !== caNode.fingerprint256) {
      if (chainText !== null) throw new CaError('SLU0406', `${join(dir, CA_FILES.chain)} must start with ${CA_FILES.caCert}`);
    }
    const chainNodes = chainPems.map((p) => new NodeX509(p));
    // Every link must be issued by the next one, and the last by a root.
    for (let i = 0; i + 1 < chainNodes.length; i++) {
      if (!chainNodes[i]!.checkIssued(chainNodes[i + 1]!) || !chainNodes[i]!.verify(chainNodes[i + 1]!.publicKey)) {
        throw new CaError('SLU0406', `${join(dir, CA_FILES.chain)}: certificate ${i + 1} (${chainNodes[i]!.subject.replace(/\n/g, ', ')}) is not signed by certificate ${i + 2}`);
      }
    }
    const last = chainNodes[chainNodes.length - 1]!;
    const anchored = rootNodes.some((r) => r.fingerprint256 === last.fingerprint256 || (last.checkIssued(r) && last.verify(r.publicKey)));
    if (!anchored) {
      throw new CaError('SLU0406', `${join(dir, CA_FILES.caCert)} does not chain up to ${join(dir, CA_FILES.root)}: workloads would not trust what this CA signs`);
    }
    const rootSet = new Set(rootNodes.map((r) => r.fingerprint256));
    const sent = chainPems.filter((_, i) => !rootSet.has(chainNodes[i]!.fingerprint256));
    return new MeshCa(dir, caCertPem, joinCertificates(roots), sent, new x509.X509Certificate(caCertPem), key);
  }

  /** When the signing certificate expires: no workload certificate may outlive it. */
  get notAfter(): Date {
    return this.#caCert.notAfter;
  }

  /**
   * Signs a workload CSR: checks its self-signature, that it asks for nothing beyond the
   * caller's identities, then issues a leaf with those identities as URI SANs (critical, as
   * the subject is empty, like Istio's), valid `ttlMs` (capped). Returns the chain, leaf first.
   */
  async sign(r: SignRequest): Promise<string[]> {
    let csr: x509.Pkcs10CertificateRequest;
    try {
      csr = new x509.Pkcs10CertificateRequest(r.csrPem);
    } catch (e) {
      throw new CaError('SLU0410', `not a PEM certificate signing request: ${(e as Error).message}`);
    }
    if (!(await csr.verify())) throw new CaError('SLU0410', 'the CSR signature does not verify (the requester does not hold the key)');
    if (r.identities.length === 0) throw new CaError('SLU0411', 'no authenticated identity for this request');
    const ext = csr.getExtension('2.5.29.17'); // subjectAltName
    const asked = ext === null ? [] : new x509.SubjectAlternativeNameExtension(ext.rawData).names.items.map((n) => n.value);
    const extra = asked.filter((a) => !r.identities.includes(a));
    if (extra.length > 0) throw new CaError('SLU0411', `the CSR asks for ${extra.join(', ')}, but the caller is authenticated as ${r.identities.join(', ')}`);
    const now = Date.now();
    const ttl = Math.min(Math.max(r.ttlMs, 1000), MAX_WORKLOAD_CERT_TTL_MS);
    const notAfter = Math.min(now + ttl, this.#caCert.notAfter.getTime());
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: '',
      issuer: this.#caCert.subject,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(notAfter),
      signingKey: this.#key.privateKey,
      publicKey: csr.publicKey,
      signingAlgorithm: this.#key.algorithm,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        await x509.AuthorityKeyIdentifierExtension.create(this.#caCert),
        new x509.SubjectAlternativeNameExtension(r.identities.map((v) => ({ type: 'url' as const, value: v })), true),
      ],
    });
    return [`${leaf.toString('pem')}\n`, ...this.chainPems];
  }
}

function serial(): string {
  const b = randomBytes(16);
  b[0]! &= 0x7f; // positive INTEGER
  if (b[0] === 0) b[0] = 1;
  return b.toString('hex');
}
