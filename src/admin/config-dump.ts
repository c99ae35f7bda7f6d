import type { Snapshot } from '../compile/snapshot.js';

/**
 * The snapshot as JSON: Maps become objects, compiled matchers print their description,
 * private key material is redacted. This is what /config_dump and `proxy-config` read.
 */
export function snapshotToJson(s: Snapshot): unknown {
  return JSON.parse(JSON.stringify(s, replacer));
}

function replacer(this: unknown, key: string, value: unknown): unknown {
  if (value instanceof Map) return Object.fromEntries(value);
  if (typeof value === 'function') return undefined;
  if (key === 'key' && typeof value === 'string' && value.includes('PRIVATE KEY')) return '[redacted]';
  if (key === 'conditions' && Array.isArray(value)) return value.map((c: { describe: string }) => c.describe);
  if (key === 'allowOrigins' && Array.isArray(value)) return value.map((c: { describe: string }) => c.describe);
  if (key === 'suffixes' || key === 'exact' || key === 'any') return undefined; // indexes of virtualHosts
  return value;
}
