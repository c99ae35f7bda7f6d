// Private keys for the CA and the workloads: generated in WebCrypto (what @peculiar/x509
// signs with) and imported from whatever PEM a user's CA key is in (PKCS#8, PKCS#1 RSA,
// SEC1 EC) through node:crypto's KeyObject → JWK.

import { createPrivateKey, webcrypto, type JsonWebKey } from 'node:crypto';
import { toPem } from './pem.js';

type WebCryptoKeyPair = { publicKey: CryptoKey; privateKey: CryptoKey };

/** The signature algorithm a key signs with (SHA-256 for P-256 and RSA, SHA-384 for P-384). */
export type SigningAlgorithm = { name: 'ECDSA'; namedCurve: string; hash: string } | { name: 'RSASSA-PKCS1-v1_5'; hash: string; publicExponent?: Uint8Array; modulusLength?: number };

/** ECDSA P-256: what Sluice generates for roots and workloads (Istio's ECC option). */
export const EC_P256: SigningAlgorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

export interface SigningKey {
  readonly privateKey: CryptoKey;
  readonly algorithm: SigningAlgorithm;
  /** PKCS#8 PEM of the private key. */
  readonly pem: string;
}

export async function generateKeyPair(alg: SigningAlgorithm = EC_P256): Promise<WebCryptoKeyPair & { pem: string }> {
  const keys = (await webcrypto.subtle.generateKey(alg as EcKeyGenParams, true, ['sign', 'verify'])) as unknown as WebCryptoKeyPair;
  const der = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey as unknown as webcrypto.CryptoKey);
  return { ...keys, pem: toPem('PRIVATE KEY', der) };
}

/**
 * Imports a PEM private key for signing. Supports EC (P-256, P-384) and RSA keys, in any PEM
 * encoding OpenSSL writes. Throws a message naming the problem for anything else.
 */
export async function importSigningKey(pem: string): Promise<SigningKey> {
  let ko;
  try {
    ko = createPrivateKey(pem);
  } catch (e) {
    throw new Error(`not a readable PEM private key (${(e as Error).message})`);
  }
  const jwk = ko.export({ format: 'jwk' }) as JsonWebKey;
  let algorithm: SigningAlgorithm;
  if (ko.asymmetricKeyType === 'ec') {
    const curve = jwk.crv;
    if (curve !== 'P-256' && curve !== 'P-384') throw new Error(`EC curve ${curve ?? '?'} is not supported (use P-256 or P-384)`);
    algorithm = { name: 'ECDSA', namedCurve: curve, hash: curve === 'P-384' ? 'SHA-384' : 'SHA-256' };
  } else if (ko.asymmetricKeyType === 'rsa') {
    algorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  } else {
    throw new Error(`${ko.asymmetricKeyType ?? 'unknown'} keys are not supported (use RSA or EC P-256/P-384)`);
  }
  const privateKey = (await webcrypto.subtle.importKey('jwk', jwk as webcrypto.JsonWebKey, algorithm as EcKeyImportParams, true, ['sign'])) as unknown as CryptoKey;
  const pkcs8 = ko.export({ format: 'pem', type: 'pkcs8' }) as string;
  return { privateKey, algorithm, pem: pkcs8 };
}
