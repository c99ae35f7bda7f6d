// The glue between `sluice run --mesh-ca-dir` and the compile pipeline: this proxy's workload
// certificate for its namespace/service account, renewed in the background, handed to compile
// as `CompileInput.meshCa`. A change of trust domain (meshConfig.trustDomain) re-issues it.

import { LocalCaClient } from './ca-client.js';
import { describeCertificates, describeSecret, type SecretView } from './cert-info.js';
import { MeshCa } from './mesh-ca.js';
import { spiffeId } from './spiffe.js';
import { WorkloadCertificateManager, type WorkloadCertificate } from './workload-cert.js';

export interface MeshIdentityOptions {
  caDir: string;
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
  ttlMs?: number;
  onRenewed?: (c: WorkloadCertificate) => void;
  onError?: (e: Error) => void;
}

/** What compile needs (CompileInput['meshCa']). */
export interface MeshTlsMaterial {
  readonly cert: string;
  readonly key: string;
  readonly root: string;
}

export class MeshIdentity {
  readonly #o: MeshIdentityOptions;
  readonly #ca: MeshCa;
  #manager: WorkloadCertificateManager;
  #material: MeshTlsMaterial | null = null;
  #listener: ((c: WorkloadCertificate) => void) | null = null;

  private constructor(o: MeshIdentityOptions, ca: MeshCa) {
    this.#o = o;
    this.#ca = ca;
    this.#manager = this.#newManager(o.trustDomain);
  }

  /** Loads the CA folder and issues the first certificate; throws a CaError naming the problem. */
  static async start(o: MeshIdentityOptions): Promise<MeshIdentity> {
    const id = new MeshIdentity(o, await MeshCa.load(o.caDir));
    id.#adopt(await id.#manager.start());
    return id;
  }

  get trustDomain(): string {
    return this.#trustDomain;
  }

  #trustDomain = '';

  #newManager(trustDomain: string): WorkloadCertificateManager {
    this.#trustDomain = trustDomain;
    const { namespace, serviceAccount } = this.#o;
    return new WorkloadCertificateManager({
      client: new LocalCaClient(this.#ca, spiffeId(trustDomain, namespace, serviceAccount)),
      trustDomain,
      namespace,
      serviceAccount,
      ...(this.#o.ttlMs !== undefined ? { ttlMs: this.#o.ttlMs } : {}),
      onRenewed: (c) => { this.#adopt(c); this.#o.onRenewed?.(c); this.#listener?.(c); },
      ...(this.#o.onError !== undefined ? { onError: this.#o.onError } : {}),
    });
  }

  #adopt(c: WorkloadCertificate): void {
    this.#material = Object.freeze({ cert: c.certChain, key: c.privateKey, root: c.roots });
  }

  /** Called after each renewal (the caller rebuilds its snapshot). */
  onRenewed(cb: (c: WorkloadCertificate) => void): void {
    this.#listener = cb;
  }

  /** The material for compile, or null before the first issuance. */
  material(): MeshTlsMaterial | null {
    return this.#material;
  }

  certificate(): WorkloadCertificate {
    return this.#manager.current();
  }

  /** Issues a certificate for another trust domain (meshConfig.trustDomain changed). */
  async setTrustDomain(td: string): Promise<void> {
    if (td === this.#trustDomain) return;
    const next = this.#newManager(td);
    const c = await next.start();
    this.#manager.stop();
    this.#manager = next;
    this.#adopt(c);
  }

  /** Renews now (admin / tests); resolves when the new certificate is in place. */
  renew(): Promise<WorkloadCertificate> {
    return this.#manager.renew();
  }

  stop(): void {
    this.#manager.stop();
  }

  /** The `/certs` view of this identity: its chain, trust anchors and renewal schedule. */
  describe(): { identity: string; renew_at: string; renewals: number; secret: SecretView } {
    const c = this.#manager.current();
    return {
      identity: c.identity,
      renew_at: new Date(c.renewAt).toISOString(),
      renewals: this.#manager.renewals,
      secret: describeSecret({ name: 'default', cert: c.certChain, ca: c.roots, origin: `mesh CA ${this.#o.caDir}`, error: null }),
    };
  }
}

export { describeCertificates };
