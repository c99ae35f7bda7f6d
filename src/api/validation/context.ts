import type { Diagnostic, Level } from '../../config/diagnostic.js';
import { formatPath } from '../../config/diagnostic.js';
import type { RawResource } from '../../config/resource.js';

export type Path = readonly (string | number)[];

/**
 * Collects the problems of one resource. Paths are relative to the document root
 * (['spec','servers',0,'tls','mode']); the context adds file:line:col and the resource name.
 */
export class ValidationContext {
  readonly diagnostics: Diagnostic[] = [];
  readonly #raw: RawResource;
  readonly #ref: string;
  /** The resource's namespace (metadata.namespace or the loader's default). */
  readonly namespace: string;

  constructor(raw: RawResource, namespace: string) {
    this.#raw = raw;
    this.namespace = namespace;
    this.#ref = `${raw.kind} ${namespace}/${raw.metadata.name}`;
  }

  get resource(): RawResource {
    return this.#raw;
  }

  error(path: Path, message: string, fix?: string, code = 'IST0106'): void {
    this.#add('error', code, path, message, fix);
  }

  warning(path: Path, message: string, fix?: string, code = 'SLU0100'): void {
    this.#add('warning', code, path, message, fix);
  }

  info(path: Path, message: string, fix?: string, code = 'SLU0101'): void {
    this.#add('info', code, path, message, fix);
  }

  get hasErrors(): boolean {
    return this.diagnostics.some((d) => d.level === 'error');
  }

  #add(level: Level, code: string, path: Path, message: string, fix: string | undefined): void {
    const pos = this.#raw.pos(path);
    const d: Diagnostic = { code, level, message, resource: this.#ref, path: formatPath(path), file: pos.file, line: pos.line, col: pos.col };
    if (fix !== undefined) d.fix = fix;
    this.diagnostics.push(d);
  }
}

/** A per-kind validator: checks `body` (the whole document) and reports into `ctx`. */
export type KindValidator = (body: Record<string, unknown>, ctx: ValidationContext) => void;
