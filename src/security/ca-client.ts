// How a proxy gets its workload certificate: istio-agent's model. The proxy makes a key and a
// CSR and asks a CA client to sign it; the client returns the chain. In a cluster the client is
// remote — istiod's IstioCertificateService.CreateCertificate over gRPC/TLS, authenticated with
// the pod's service-account token, which is where istiod reads the identity from. On one
// machine the client is local: the CA key is in `--mesh-ca-dir`, and reading that folder is the
// credential. Either way the WorkloadCertificateManager above it does not change.

import { MeshCa } from './mesh-ca.js';

/** istio-agent's caclient: sign a CSR, hand out the trust anchors. */
export interface CaClient {
  /** Signs `csrPem` for `ttlSeconds`; returns the certificate chain, leaf first (PEM each). */
  csrSign(csrPem: string, ttlSeconds: number): Promise<string[]>;
  /** The root certificates peers are verified against (PEM each). */
  rootCertificates(): Promise<string[]>;
  close(): void;
}

/**
 * A CA client backed by a CA folder on this machine. `identity` is what the caller is
 * authorised to be (its `--namespace`/`--service-account` SPIFFE ID); as istiod does, the
 * identity — not the CSR — decides the certificate's SAN.
 */
export class LocalCaClient implements CaClient {
  readonly #ca: MeshCa;
  readonly #identity: string;

  constructor(ca: MeshCa, identity: string) {
    this.#ca = ca;
    this.#identity = identity;
  }

  static async fromDir(dir: string, identity: string): Promise<LocalCaClient> {
    return new LocalCaClient(await MeshCa.load(dir), identity);
  }

  csrSign(csrPem: string, ttlSeconds: number): Promise<string[]> {
    return this.#ca.sign({ csrPem, identities: [this.#identity], ttlMs: ttlSeconds * 1000 });
  }

  async rootCertificates(): Promise<string[]> {
    return [this.#ca.rootPem];
  }

  close(): void {}
}
