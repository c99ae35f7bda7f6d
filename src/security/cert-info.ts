// What `sluice proxy-config secret` and the admin `/certs` endpoint show for a certificate:
// serial, SANs, validity and the chain, in the shape of Envoy's /certs (cert_chain / ca_cert
// entries with serial_number, subject_alt_names, days_until_expiration, valid_from,
// expiration_time), plus the subject and issuer.

import { X509Certificate } from 'node:crypto';
import { splitCertificates } from './pem.js';

export interface SubjectAltName {
  readonly uri?: string;
  readonly dns?: string;
  readonly ip_address?: string;
  readonly email?: string;
}

export interface CertificateDetails {
  readonly serial_number: string;
  readonly subject: string;
  readonly issuer: string;
  readonly subject_alt_names: readonly SubjectAltName[];
  readonly days_until_expiration: number;
  readonly valid_from: string;
  readonly expiration_time: string;
  readonly is_ca: boolean;
  readonly fingerprint_sha256: string;
}

const DAY_MS = 86_400_000;

/** Details of every certificate in a PEM bundle, in order; unreadable entries are skipped. */
export function describeCertificates(pem: string | null, now = Date.now()): CertificateDetails[] {
  if (pem === null) return [];
  const out: CertificateDetails[] = [];
  for (const c of splitCertificates(pem)) {
    let x: X509Certificate;
    try { x = new X509Certificate(c); } catch { continue; }
    const to = Date.parse(x.validTo);
    out.push({
      serial_number: x.serialNumber.toLowerCase(),
      subject: oneLine(x.subject),
      issuer: oneLine(x.issuer),
      subject_alt_names: parseSans(x.subjectAltName),
      days_until_expiration: Math.max(0, Math.floor((to - now) / DAY_MS)),
      valid_from: new Date(Date.parse(x.validFrom)).toISOString(),
      expiration_time: new Date(to).toISOString(),
      is_ca: x.ca,
      fingerprint_sha256: x.fingerprint256,
    });
  }
  return out;
}

function oneLine(dn: string | undefined): string {
  if (dn === undefined) return '';
  return dn.split('\n').filter((s) => s !== '').join(', ');
}

function parseSans(text: string | undefined): SubjectAltName[] {
  if (text === undefined || text === '') return [];
  return text.split(', ').map((s): SubjectAltName => {
    if (s.startsWith('URI:')) return { uri: s.slice(4) };
    if (s.startsWith('DNS:')) return { dns: s.slice(4) };
    if (s.startsWith('IP Address:')) return { ip_address: s.slice(11) };
    if (s.startsWith('email:')) return { email: s.slice(6) };
    return { dns: s };
  });
}

export interface SecretView {
  readonly name: string;
  readonly origin: string;
  readonly error: string | null;
  readonly cert_chain: readonly CertificateDetails[];
  readonly ca_cert: readonly CertificateDetails[];
}

/** One snapshot secret as `/certs` lists it (keys never shown). */
export function describeSecret(s: { name: string; cert: string | null; ca: string | null; origin: string; error: string | null }, now = Date.now()): SecretView {
  return { name: s.name, origin: s.origin, error: s.error, cert_chain: describeCertificates(s.cert, now), ca_cert: describeCertificates(s.ca, now) };
}
