// The proxy's own mesh identity: a short-lived SPIFFE certificate, renewed before it expires
// (istio-agent's SecretManager). Renewal makes a new key and CSR, asks the CA client, and
// reports the new certificate; the caller builds a new snapshot with it, so new handshakes use
// it while open connections carry on with the one they started with.

import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { CaClient } from './ca-client.js';
import { EC_P256, generateKeyPair } from './keys.js';
import { joinCertificates, x509 } from './pem.js';
import { spiffeId } from './spiffe.js';

/** Istio's DEFAULT_WORKLOAD_CERT_TTL. */
export const DEFAULT_WORKLOAD_CERT_TTL_MS = 24 * 3_600_000;
/** Istio's SECRET_GRACE_PERIOD_RATIO: renew once half of the lifetime is gone. */
export const DEFAULT_GRACE_PERIOD_RATIO = 0.5;
/** Retry a failed renewal after 1 s, doubling up to 30 s, until the certificate expires. */
const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 30_000;
/** setTimeout's ceiling (~24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface WorkloadCertificate {
  /** `spiffe://td/ns/x/sa/y`. */
  readonly identity: string;
  /** Leaf first, then the intermediates (PEM bundle). */
  readonly certChain: string;
  /** PKCS#8 PEM. */
  readonly privateKey: string;
  /** Trust anchors (PEM bundle). */
  readonly roots: string;
  readonly serialNumber: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** When it was issued (ms since epoch), and when it will be renewed. */
  readonly issuedAt: number;
  readonly renewAt: number;
}

export interface WorkloadCertificateOptions {
  client: CaClient;
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
  ttlMs?: number;
  gracePeriodRatio?: number;
  /** A renewed certificate is ready (not called for the first one). */
  onRenewed?: (c: WorkloadCertificate) => void;
  /** A renewal failed (it is retried). */
  onError?: (e: Error) => void;
}

export class WorkloadCertificateManager {
  readonly identity: string;
  readonly #o: WorkloadCertificateOptions;
  readonly #ttlMs: number;
  readonly #ratio: number;
  #current: WorkloadCertificate | null = null;
  #timer: NodeJS.Timeout | null = null;
  #retryMs = RETRY_MIN_MS;
  #stopped = false;
  #renewals = 0;

  constructor(o: WorkloadCertificateOptions) {
    this.#o = o;
    this.identity = spiffeId(o.trustDomain, o.namespace, o.serviceAccount);
    this.#ttlMs = o.ttlMs ?? DEFAULT_WORKLOAD_CERT_TTL_MS;
    this.#ratio = o.gracePeriodRatio ?? DEFAULT_GRACE_PERIOD_RATIO;
  }

  /** Issues the first certificate and schedules its renewal. */
  async start(): Promise<WorkloadCertificate> {
    const c = await this.#issue();
    this.#install(c);
    return c;
  }

  /** The certificate in use. */
  current(): WorkloadCertificate {
    if (this.#current === null) throw new Error('workload certificate not issued yet (call start())');
    return this.#current;
  }

  get renewals(): number {
    return this.#renewals;
  }

  /** Renews now (also what the timer does); resolves with the new certificate. */
  async renew(): Promise<WorkloadCertificate> {
    const c = await this.#issue();
    if (this.#stopped) return c;
    this.#renewals++;
    this.#install(c);
    this.#o.onRenewed?.(c);
    return c;
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#o.client.close();
  }

  async #issue(): Promise<WorkloadCertificate> {
    const keys = await generateKeyPair(EC_P256);
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: '',
      keys: keys as unknown as CryptoKeyPair,
      signingAlgorithm: EC_P256,
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: this.identity }], true)],
    });
    const issuedAt = Date.now();
    const chain = await this.#o.client.csrSign(csr.toString('pem'), Math.ceil(this.#ttlMs / 1000));
    if (chain.length === 0) throw new Error('the CA returned no certificate');
    const leaf = new X509Certificate(chain[0]!);
    if (!leaf.checkPrivateKey(createPrivateKey(keys.pem))) throw new Error('the CA returned a certificate for another key');
    const roots = await this.#o.client.rootCertificates();
    const notBefore = new Date(leaf.validFrom);
    const notAfter = new Date(leaf.validTo);
    const lifetime = notAfter.getTime() - issuedAt;
    return Object.freeze({
      identity: this.identity,
      certChain: joinCertificates(chain),
      privateKey: keys.pem,
      roots: joinCertificates(roots),
      serialNumber: leaf.serialNumber,
      notBefore,
      notAfter,
      issuedAt,
      renewAt: issuedAt + Math.max(0, Math.floor(lifetime * (1 - this.#ratio))),
    });
  }

  #install(c: WorkloadCertificate): void {
    this.#current = c;
    this.#retryMs = RETRY_MIN_MS;
    this.#schedule(Math.max(0, c.renewAt - Date.now()));
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = setTimeout(this.#onTimer, Math.min(delayMs, MAX_TIMER_MS));
    this.#timer.unref();
  }

  readonly #onTimer = (): void => {
    this.#timer = null;
    const c = this.#current;
    if (c !== null && Date.now() < c.renewAt) { this.#schedule(c.renewAt - Date.now()); return; }
    this.renew().catch((e: Error) => {
      this.#o.onError?.(e);
      this.#schedule(this.#retryMs);
      this.#retryMs = Math.min(this.#retryMs * 2, RETRY_MAX_MS);
    });
  };
}
