import { readdirSync, statSync, watch, type FSWatcher } from 'node:fs';
import { listConfigFiles } from './yaml-loader.js';

/** How often the tree is also polled: fs.watch misses events on some file systems and editors. */
const POLL_MS = 500;
/** Editors write files in several steps; wait for quiet before reloading. */
const DEBOUNCE_MS = 60;

/**
 * Calls `onChange` when any config file (or an extra watched path: credentials folder, mesh
 * file) changes, appears or disappears. fs.watch gives speed, polling gives certainty; both
 * feed one debounced callback, so a valid edit is live well within a second.
 */
export class ConfigWatcher {
  readonly #paths: readonly string[];
  readonly #extra: () => readonly string[];
  readonly #onChange: () => void;
  readonly #watchers: FSWatcher[] = [];
  #fingerprint: string;
  #poll: NodeJS.Timeout | null = null;
  #debounce: NodeJS.Timeout | null = null;

  /** `extra` may be a function: files named by the config (certificate paths) change with it. */
  constructor(paths: readonly string[], extra: readonly string[] | (() => readonly string[]), onChange: () => void) {
    this.#paths = paths;
    this.#extra = typeof extra === 'function' ? extra : () => extra;
    this.#onChange = onChange;
    this.#fingerprint = this.#scan();
  }

  start(): void {
    for (const p of [...this.#paths, ...this.#extra()]) {
      try {
        const st = statSync(p, { throwIfNoEntry: false });
        if (st === undefined) continue;
        this.#watchers.push(watch(p, { recursive: st.isDirectory(), persistent: false }, () => this.#kick()));
      } catch {
        // polling still covers it
      }
    }
    this.#poll = setInterval(() => this.#check(), POLL_MS);
    this.#poll.unref();
  }

  stop(): void {
    for (const w of this.#watchers) w.close();
    this.#watchers.length = 0;
    if (this.#poll !== null) clearInterval(this.#poll);
    if (this.#debounce !== null) clearTimeout(this.#debounce);
  }

  #kick(): void {
    if (this.#debounce !== null) clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => { this.#debounce = null; this.#check(); }, DEBOUNCE_MS);
  }

  #check(): void {
    const fp = this.#scan();
    if (fp === this.#fingerprint) return;
    this.#fingerprint = fp;
    this.#onChange();
  }

  #scan(): string {
    const { files } = listConfigFiles(this.#paths);
    const parts: string[] = [];
    for (const f of [...files, ...this.#extraFiles()]) {
      const st = statSync(f, { throwIfNoEntry: false });
      parts.push(st === undefined ? `${f}:-` : `${f}:${st.mtimeMs}:${st.size}:${st.ino}`);
    }
    return parts.join('\n');
  }

  #extraFiles(): string[] {
    const out: string[] = [];
    const walk = (p: string, depth: number): void => {
      const st = statSync(p, { throwIfNoEntry: false });
      if (st === undefined) return;
      if (st.isFile()) { out.push(p); return; }
      if (!st.isDirectory() || depth > 3) return;
      try {
        for (const n of readdirSync(p)) walk(`${p}/${n}`, depth + 1);
      } catch { /* unreadable: ignore */ }
    };
    for (const p of this.#extra()) walk(p, 0);
    return out;
  }
}
