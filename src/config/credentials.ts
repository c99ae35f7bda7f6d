import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { CredentialFiles } from '../compile/context.js';
import type { ConfigStore } from './store.js';

function readIf(p: string): string | null {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return null;
  }
}

/**
 * `--credentials DIR`: one folder per credential name holding tls.crt/tls.key/ca.crt (the
 * kubernetes.io/tls key names; cert/key/cacert are accepted too).
 */
export function readCredentialsDir(dir: string | undefined): Map<string, CredentialFiles> {
  const out = new Map<string, CredentialFiles>();
  if (dir === undefined) return out;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names.sort()) {
    const p = join(dir, name);
    if (!statSync(p, { throwIfNoEntry: false })?.isDirectory()) continue;
    out.set(name, {
      cert: readIf(join(p, 'tls.crt')) ?? readIf(join(p, 'cert')),
      key: readIf(join(p, 'tls.key')) ?? readIf(join(p, 'key')),
      ca: readIf(join(p, 'ca.crt')) ?? readIf(join(p, 'cacert')),
      origin: `--credentials ${p}`,
    });
  }
  return out;
}

/** Certificate/key/CA file paths named by Gateways and DestinationRules, read now. */
export function readReferencedFiles(store: ConfigStore): Map<string, string> {
  const out = new Map<string, string>();
  for (const p of referencedPaths(store)) { const v = readIf(p); if (v !== null) out.set(p, v); }
  return out;
}

/** The certificate/key/CA paths the config names (watched, so rotating a file reloads). */
export function referencedPaths(store: ConfigStore): string[] {
  const paths = new Set<string>();
  const add = (p: unknown): void => { if (typeof p === 'string' && p !== '') paths.add(p); };
  for (const gw of store.list('Gateway')) {
    for (const s of gw.spec.servers) {
      add(s.tls?.serverCertificate); add(s.tls?.privateKey); add(s.tls?.caCertificates);
      for (const t of s.tls?.tlsCertificates ?? []) { add(t.serverCertificate); add(t.privateKey); add(t.caCertificates); }
    }
  }
  for (const dr of store.list('DestinationRule')) {
    const policies = [dr.spec.trafficPolicy, ...(dr.spec.subsets ?? []).map((s) => s.trafficPolicy)];
    for (const tp of policies) {
      for (const t of [tp?.tls, ...(tp?.portLevelSettings ?? []).map((p) => p.tls)]) { add(t?.clientCertificate); add(t?.privateKey); add(t?.caCertificates); }
    }
  }
  return [...paths];
}
