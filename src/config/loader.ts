import { readFileSync } from 'node:fs';
import { validateResource } from '../api/validate.js';
import type { Diagnostic } from './diagnostic.js';
import { resourceKey, resourceRef, type Resource } from './resource.js';
import { ConfigStore } from './store.js';
import { listConfigFiles, parseConfigText, type ParsedFile } from './yaml-loader.js';

export interface LoadResult {
  store: ConfigStore;
  /** Every parse, schema and webhook-rule problem of this load. */
  diagnostics: Diagnostic[];
  /** Resources whose latest edit is invalid and whose last good version keeps serving. */
  heldBack: string[];
  /** Did the set of valid resources change since the previous load? */
  changed: boolean;
}

interface FileState {
  text: string;
  parsed: ParsedFile;
  keys: string[];
}

/**
 * Loads config files and keeps the last good version of each resource across reloads: an
 * invalid edit breaks only itself (its last good version keeps serving, or it stays absent),
 * while every valid change applies. A file that no longer parses keeps all of its resources.
 */
export class ConfigLoader {
  readonly #paths: readonly string[];
  readonly #seq = new Map<string, number>();
  #nextSeq = 1;
  #lastGood = new Map<string, Resource>();
  #files = new Map<string, FileState>();
  #version = 0;
  #fingerprint = '';

  constructor(paths: readonly string[]) {
    this.#paths = paths;
  }

  load(): LoadResult {
    const diagnostics: Diagnostic[] = [];
    const heldBack: string[] = [];
    const { files, errors } = listConfigFiles(this.#paths);
    diagnostics.push(...errors);
    const current = new Map<string, Resource>();
    const nextFiles = new Map<string, FileState>();
    const origin = new Map<string, string>();

    for (const file of files) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        diagnostics.push({ code: 'SLU0001', level: 'error', message: `cannot read ${file}: ${(e as Error).message}`, file, line: 0, col: 0 });
        continue;
      }
      const prev = this.#files.get(file);
      const parsed = prev !== undefined && prev.text === text ? prev.parsed : parseConfigText(file, text);
      diagnostics.push(...parsed.errors);
      const keys: string[] = [];
      if (parsed.errors.length > 0 && prev !== undefined) {
        // The file does not parse: keep serving what it held before.
        for (const key of prev.keys) {
          const r = this.#lastGood.get(key);
          if (r !== undefined) { current.set(key, r); keys.push(key); heldBack.push(resourceRef(r)); }
        }
        nextFiles.set(file, { text, parsed, keys });
        continue;
      }
      for (const raw of parsed.resources) {
        const ns = typeof raw.metadata.namespace === 'string' && raw.metadata.namespace !== '' ? raw.metadata.namespace : 'default';
        const key = resourceKey(raw.kind, ns, raw.metadata.name);
        let seq = this.#seq.get(key);
        if (seq === undefined) this.#seq.set(key, (seq = this.#nextSeq++));
        const result = validateResource(raw, seq);
        diagnostics.push(...result.diagnostics);
        if (result.ignored) continue;
        const first = origin.get(key);
        if (first !== undefined) {
          diagnostics.push({ code: 'SLU0004', level: 'error', message: `${raw.kind} ${ns}/${raw.metadata.name} is defined twice (first in ${first}); the first definition is used`, resource: `${raw.kind} ${ns}/${raw.metadata.name}`, ...raw.source, fix: 'remove or rename one of the two' });
          continue;
        }
        origin.set(key, `${raw.source.file}:${raw.source.line}`);
        keys.push(key);
        if (result.resource !== null) {
          current.set(key, result.resource);
        } else {
          const last = this.#lastGood.get(key);
          if (last !== undefined) {
            current.set(key, last);
            heldBack.push(resourceRef(last));
            diagnostics.push({ code: 'SLU0005', level: 'warning', message: `the last valid version of ${resourceRef(last)} keeps serving until this edit is fixed`, resource: resourceRef(last), ...raw.source });
          }
        }
      }
      nextFiles.set(file, { text, parsed, keys });
    }

    const fingerprint = fingerprintOf(current);
    const changed = fingerprint !== this.#fingerprint;
    if (changed) this.#version++;
    this.#fingerprint = fingerprint;
    this.#lastGood = current;
    this.#files = nextFiles;
    return { store: new ConfigStore([...current.values()], this.#version), diagnostics, heldBack, changed };
  }
}

/** Identity of a resource set: keys plus the source text positions' content, cheap to compare. */
function fingerprintOf(resources: Map<string, Resource>): string {
  const parts: string[] = [];
  for (const [key, r] of [...resources].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    parts.push(key, JSON.stringify(r.spec), JSON.stringify(r.labels), JSON.stringify(r.annotations));
  }
  return parts.join('\u0000');
}
