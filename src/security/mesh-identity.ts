// The glue between `sluice run --mesh-ca-dir` and the compile pipeline: this proxy's workload
// certificate for its namespace/service account, renewed in the background, handed to compile
// as `CompileInput.meshCa`. A change of trust domain (meshConfig.trustDomain) re-issues it.
// With `--concurrency N` the primary issues and renews one certificate for the gateway (as
// Envoy's workers share one SDS secret); workers follow it (MeshIdentity.following).

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
  /** Null for a follower: it holds no CA and issues nothing. */
  readonly #ca: MeshCa | null;
  #manager: WorkloadCertificateManager | null;
  /** A follower's certificate, as the primary sent it. */
  #followed: WorkloadCertificate | null = null;
  #material: MeshTlsMaterial | null = null;
  #listener: ((c: WorkloadCertificate) => void) | null = null;

  private constructor(o: MeshIdentityOptions, ca: MeshCa | null) {
    this.#o = o;
    this.#ca = ca;
    this.#manager = ca !== null ? this.#newManager(o.trustDomain) : null;
    if (ca === null) this.#trustDomain = o.trustDomain;
  }

  /** Loads the CA folder and issues the first certificate; throws a CaError naming the problem. */
  static async start(o: MeshIdentityOptions): Promise<MeshIdentity> {
    const id = new MeshIdentity(o, await MeshCa.load(o.caDir));
    id.#adopt(await id.#manager!.start());
    return id;
  }

  /** A worker's identity: the certificate the primary issued, replaced by `follow` on each renewal. */
  static following(c: WorkloadCertificate, trustDomain: string, caDir: string): MeshIdentity {
    const id = new MeshIdentity({ caDir, trustDomain, namespace: '', serviceAccount: '' }, null);
    id.follow(c, trustDomain);
    return id;
  }

  /** A follower takes the primary's (renewed or re-issued) certificate; the next build uses it. */
  follow(c: WorkloadCertificate, trustDomain: string): void {
    this.#followed = c;
    this.#trustDomain = trustDomain;
    this.#adopt(c);
  }

  get trustDomain(): string {
    return this.#trustDomain;
  }

  #trustDomain = '';

  #newManager(trustDomain: string): WorkloadCertificateManager {
    this.#trustDomain = trustDomain;
    const { namespace, serviceAccount } = this.#o;
    return new WorkloadCertificateManager({
      client: new LocalCaClient(this.#ca!, spiffeId(trustDomain, namespace, serviceAccount)),
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
    return this.#manager?.current() ?? this.#followed!;
  }

  /** Issues a certificate for another trust domain (meshConfig.trustDomain changed). A follower waits for the primary's. */
  async setTrustDomain(td: string): Promise<void> {
    if (td === this.#trustDomain || this.#manager === null) return;
    const next = this.#newManager(td);
    const c = await next.start();
    this.#manager?.stop();
    this.#manager = next;
    this.#adopt(c);
  }

  /** Renews now (admin / tests); resolves when the new certificate is in place. */
  renew(): Promise<WorkloadCertificate> {
    return this.#manager !== null ? this.#manager.renew() : Promise.reject(new Error('a worker does not renew: the primary does'));
  }

  stop(): void {
    this.#manager?.stop();
  }

  /** The `/certs` view of this identity: its chain, trust anchors and renewal schedule. */
  describe(): { identity: string; renew_at: string; renewals: number; secret: SecretView } {
    const c = this.certificate();
    return {
      identity: c.identity,
      renew_at: new Date(c.renewAt).toISOString(),
      renewals: this.#manager?.renewals ?? 0,
      secret: describeSecret({ name: 'default', cert: c.certChain, ca: c.roots, origin: `mesh CA ${this.#o.caDir}`, error: null }),
    };
  }
}

export { describeCertificates };
