// Kubernetes core kinds (Secret, Service, Endpoints, EndpointSlice) are read for data, not
// policy: check what Sluice uses and warn on the rest (the API server would keep unknown
// fields out, but a stray field is no reason to drop a Secret).

import type { ValidationContext } from './context.js';
import { anyValue, obj, type ObjectSchema, type Schema } from './schema.js';
import { walk } from './walk.js';

const envelope = { apiVersion: anyValue(), kind: anyValue(), metadata: anyValue(), status: anyValue() };

/** A lenient document schema: the envelope plus `fields`, unknown top-level fields warn. */
export function coreDocument(fields: Record<string, Schema>, check?: ObjectSchema['check']): ObjectSchema {
  return obj({ ...envelope, ...fields }, { unknown: 'warn', check });
}

export function checkCoreDocument(body: Record<string, unknown>, schema: ObjectSchema, ctx: ValidationContext): boolean {
  return walk(body, schema, [], ctx);
}
