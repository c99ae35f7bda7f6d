import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { isMap, isNode, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node } from 'yaml';
import type { ObjectMeta } from '../api/types.js';
import type { Diagnostic, SourcePos } from './diagnostic.js';
import type { RawResource } from './resource.js';

/** Every `*.yaml`/`*.yml` under the given paths (files are taken as given), sorted per folder. */
export function listConfigFiles(paths: readonly string[]): { files: string[]; errors: Diagnostic[] } {
  const files: string[] = [];
  const errors: Diagnostic[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      if (name.startsWith('.')) continue;
      const p = join(dir, name);
      const st = statSync(p, { throwIfNoEntry: false });
      if (st === undefined) continue;
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && (extname(name) === '.yaml' || extname(name) === '.yml')) files.push(p);
    }
  };
  for (const raw of paths) {
    const p = resolve(raw);
    const st = statSync(p, { throwIfNoEntry: false });
    if (st === undefined) {
      errors.push({ code: 'SLU0001', level: 'error', message: `config path ${raw} does not exist`, file: raw, line: 0, col: 0, fix: 'pass an existing file or folder with -c' });
    } else if (st.isDirectory()) walk(p);
    else files.push(p);
  }
  return { files: [...new Set(files)], errors };
}

export interface ParsedFile {
  file: string;
  resources: RawResource[];
  errors: Diagnostic[];
}

/** Parses one multi-document YAML text into raw resources, keeping positions for every node. */
export function parseConfigText(file: string, text: string): ParsedFile {
  const lc = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const errors: Diagnostic[] = [];
  const resources: RawResource[] = [];
  const at = (offset: number): SourcePos => {
    const { line, col } = lc.linePos(offset);
    return { file, line, col };
  };
  if (!Array.isArray(docs)) {
    // `parseAllDocuments` returns an EmptyStream for empty input.
    return { file, resources, errors };
  }
  for (const doc of docs) {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        const pos = at(e.pos[0]);
        errors.push({ code: 'SLU0002', level: 'error', message: `YAML ${e.code}: ${firstLine(e.message)}`, ...pos, fix: 'fix the YAML syntax at this position' });
      }
      continue;
    }
    if (doc.contents === null) continue; // empty document (`---` at the end, comments only)
    const body = doc.toJS({ maxAliasCount: 100 }) as unknown;
    if (body === null || body === undefined) continue; // `---` followed by `---`: an empty document
    const start = at(doc.contents.range?.[0] ?? 0);
    if (typeof body !== 'object' || Array.isArray(body)) {
      errors.push({ code: 'SLU0003', level: 'error', message: 'a config document must be a mapping with apiVersion, kind and metadata', ...start });
      continue;
    }
    const obj = body as Record<string, unknown>;
    // A `kind: List` (kubectl get -o yaml) holds its objects under `items`.
    if (obj.kind === 'List' && Array.isArray(obj.items)) {
      obj.items.forEach((item, i) => {
        const r = toRaw(item, doc, ['items', i], at, start);
        if (typeof r === 'string') errors.push({ code: 'SLU0003', level: 'error', message: r, ...positionIn(doc, ['items', i], at, start) });
        else resources.push(r);
      });
      continue;
    }
    const r = toRaw(obj, doc, [], at, start);
    if (typeof r === 'string') errors.push({ code: 'SLU0003', level: 'error', message: r, ...start, fix: fragmentFix(obj) ?? 'every document needs apiVersion, kind and metadata.name' });
    else resources.push(r);
  }
  return { file, resources, errors };
}

/** A fix for a fragment copied from a document that is not an object at all (the seed's `resources:` blocks). */
function fragmentFix(obj: Record<string, unknown>): string | null {
  if (obj.apiVersion !== undefined || obj.kind !== undefined) return null;
  const res = obj.resources;
  if (res !== null && typeof res === 'object' && ('requests' in res || 'limits' in res)) {
    return "this is a container's CPU/memory `resources` block (Helm values or a Deployment), not Istio config: keep it out of the -c folders and set it on the gateway's container (deploy/deployment.yaml), or pass it to Helm (helm install istio-ingressgateway istio/gateway -f values.yaml)";
  }
  return null;
}

export function parseConfigFile(file: string): ParsedFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return { file, resources: [], errors: [{ code: 'SLU0001', level: 'error', message: `cannot read ${file}: ${(e as Error).message}`, file, line: 0, col: 0 }] };
  }
  return parseConfigText(file, text);
}

function toRaw(
  value: unknown,
  doc: Document.Parsed,
  base: (string | number)[],
  at: (o: number) => SourcePos,
  start: SourcePos,
): RawResource | string {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'a config document must be a mapping';
  const body = value as Record<string, unknown>;
  const { apiVersion, kind, metadata } = body;
  if (typeof apiVersion !== 'string' || apiVersion === '') return 'missing apiVersion (for example networking.istio.io/v1)';
  if (typeof kind !== 'string' || kind === '') return 'missing kind (for example Gateway, VirtualService)';
  if (metadata === null || typeof metadata !== 'object' || typeof (metadata as ObjectMeta).name !== 'string' || (metadata as ObjectMeta).name === '') {
    return `${kind} has no metadata.name`;
  }
  const meta = metadata as ObjectMeta;
  return {
    apiVersion,
    kind,
    metadata: meta,
    body,
    source: positionIn(doc, base, at, start),
    pos: (path) => positionIn(doc, [...base, ...path], at, start),
  };
}

/** Position of the node at `path`, or of its nearest existing ancestor. */
function positionIn(doc: Document.Parsed, path: readonly (string | number)[], at: (o: number) => SourcePos, fallback: SourcePos): SourcePos {
  let node: Node | null = doc.contents as Node | null;
  let best: SourcePos = node?.range !== undefined && node.range !== null ? at(node.range[0]) : fallback;
  for (const key of path) {
    if (node === null) break;
    let next: unknown;
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) === String(key) : p.key === key));
      if (pair === undefined) break;
      // Point at the key: that is where the user looks for a field.
      if (isNode(pair.key) && pair.key.range) best = at(pair.key.range[0]);
      next = pair.value;
      if (isNode(next) && (isScalar(next) || next.range)) {
        // For scalars report the value itself (its line is the key's line anyway).
        if (isScalar(next) && next.range) best = at(next.range[0]);
      }
    } else if (isSeq(node) && typeof key === 'number') {
      next = node.items[key];
      if (isNode(next) && next.range) best = at(next.range[0]);
    } else break;
    node = isNode(next) ? next : null;
  }
  return best;
}

function firstLine(s: string): string {
  const i = s.indexOf('\n');
  return i < 0 ? s : s.slice(0, i);
}
