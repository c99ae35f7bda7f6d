// PEM helpers shared by the mesh CA, the workload certificate manager and the admin views.

import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

// @peculiar/x509 signs through WebCrypto; Node's implementation serves it.
x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export { x509 };

/** DER → PEM with 64-column lines. */
export function toPem(label: string, der: ArrayBuffer | Uint8Array): string {
  const b64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}

const CERT_RE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Every certificate of a PEM bundle, in order, each normalised to end with a newline. */
export function splitCertificates(pem: string): string[] {
  return (pem.match(CERT_RE) ?? []).map((c) => `${c}\n`);
}

/** A chain (leaf first) as one PEM bundle. */
export function joinCertificates(certs: readonly string[]): string {
  return certs.map((c) => (c.endsWith('\n') ? c : `${c}\n`)).join('');
}
