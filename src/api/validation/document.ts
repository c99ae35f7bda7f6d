// The document envelope shared by every Istio kind: `apiVersion`, `kind`, `metadata`, `spec`
// (and a `status` that `kubectl get -o yaml` leaves behind). Fields written at the top level by
// mistake (`hosts:` next to `spec:`) are the usual indentation slip, so we say where they belong.

import type { Path, ValidationContext } from './context.js';
import { didYouMean } from './did-you-mean.js';
import type { ObjectSchema } from './schema.js';
import { isPlainObject, walk } from './walk.js';

const ENVELOPE = ['apiVersion', 'kind', 'metadata', 'spec', 'status'];
const SPEC: Path = ['spec'];

/**
 * Checks the envelope and walks `spec` against `schema`. `specRequired` makes a missing spec an
 * error (kinds whose spec has required fields); otherwise a missing spec is an empty one.
 */
export function checkIstioDocument(body: Record<string, unknown>, schema: ObjectSchema, ctx: ValidationContext, specRequired: boolean): boolean {
  for (const k of Object.keys(body)) {
    if (ENVELOPE.includes(k)) continue;
    const underSpec = Object.hasOwn(schema.fields, k);
    ctx.error([k], `unknown top-level field "${k}"${underSpec ? '' : didYouMean(k, ENVELOPE)}`, underSpec ? `"${k}" belongs under spec: indent it below "spec:"` : 'top-level fields are apiVersion, kind, metadata and spec');
  }
  const spec = body.spec;
  if (spec === undefined) {
    if (specRequired) {
      ctx.error(SPEC, 'spec is missing', `add a spec with ${schema.required?.join(', ') ?? 'the resource fields'}`);
      return false;
    }
    return walk({}, schema, SPEC, ctx);
  }
  if (!isPlainObject(spec)) {
    ctx.error(SPEC, 'spec must be a mapping', spec === null ? 'indent the fields below "spec:"' : undefined);
    return false;
  }
  return walk(spec, schema, SPEC, ctx);
}
