// A small declarative schema language for Istio's CRD shapes. Schemas are plain frozen objects
// built once at module load; `walk.ts` interprets them. We use our own instead of zod because
// we need: every error (not the first), exact field paths for file:line, did-you-mean on unknown
// fields and enum values, per-field fix hints, and semantic hooks that run only once the subtree
// has the right JS types (so hooks can trust `types.ts`).

import type { Path, ValidationContext } from './context.js';

/** A semantic check; runs after the value and all its children passed the structural check. */
export type Check = (value: any, path: Path, ctx: ValidationContext) => void; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Common {
  /** Runs when the value is structurally valid (right types, required fields, enums). */
  readonly check?: Check | undefined;
  /** Present field ⇒ warning with this text (Istio's own deprecation notices). */
  readonly deprecated?: string | undefined;
}

export interface StringSchema extends Common {
  readonly t: 'string';
  /** Empty string is an error (`must not be empty`). */
  readonly nonEmpty?: boolean | undefined;
}
export interface IntSchema extends Common {
  readonly t: 'int';
  readonly min: number;
  readonly max: number;
}
export interface NumberSchema extends Common {
  readonly t: 'number';
  readonly min?: number | undefined;
  readonly max?: number | undefined;
}
export interface BoolSchema extends Common {
  readonly t: 'bool';
}
export interface EnumSchema extends Common {
  readonly t: 'enum';
  readonly values: readonly string[];
  /** Istio parses a few strings case-insensitively (port protocols); CRD enums are exact. */
  readonly caseInsensitive?: boolean | undefined;
  /** Fix text keyed by the suggested value (e.g. ISTIO_MUTUAL → "takes no certificate fields"). */
  readonly fixes?: Readonly<Record<string, string>> | undefined;
}
export interface DurationSchema extends Common {
  readonly t: 'duration';
  /** Istio's ValidateDuration: ≥1ms and whole milliseconds. Off for fields Istio leaves alone. */
  readonly msPrecision?: boolean | undefined;
  /** Minimum in milliseconds (inclusive). */
  readonly minMs?: number | undefined;
}
export interface ListSchema extends Common {
  readonly t: 'list';
  readonly items: Schema;
  readonly minItems?: number | undefined;
  readonly maxItems?: number | undefined;
}
export interface MapSchema extends Common {
  readonly t: 'map';
  readonly values: Schema;
  /** Checks each key; return an error message or undefined. */
  readonly key?: ((key: string) => string | undefined) | undefined;
}
export interface ObjectSchema extends Common {
  readonly t: 'object';
  readonly fields: Readonly<Record<string, Schema>>;
  readonly required?: readonly string[] | undefined;
  /** Proto oneofs: at most one field of each group may be set. */
  readonly oneOf?: readonly (readonly string[])[] | undefined;
  /** Unknown fields: error (CRD structural schema, default) or warning (install config, core kinds). */
  readonly unknown?: 'error' | 'warn' | undefined;
  /** Fix text for known misplacements, keyed by the unknown field's name. */
  readonly hints?: Readonly<Record<string, string>> | undefined;
}
export interface AnySchema extends Common {
  readonly t: 'any';
}
export interface IntOrStringSchema extends Common {
  readonly t: 'intOrString';
}

export type Schema =
  | StringSchema
  | IntSchema
  | NumberSchema
  | BoolSchema
  | EnumSchema
  | DurationSchema
  | ListSchema
  | MapSchema
  | ObjectSchema
  | AnySchema
  | IntOrStringSchema;

type Opts<S> = Omit<S, 't'>;

// Ranges of the proto scalar types as the CRDs declare them.
export const INT32_MAX = 2147483647;
export const UINT32_MAX = 4294967295;

export const str = (o: Opts<StringSchema> = {}): StringSchema => Object.freeze({ t: 'string', ...o });
export const bool = (o: Opts<BoolSchema> = {}): BoolSchema => Object.freeze({ t: 'bool', ...o });
export const num = (o: Opts<NumberSchema> = {}): NumberSchema => Object.freeze({ t: 'number', ...o });
export const int32 = (o: Partial<Opts<IntSchema>> = {}): IntSchema => Object.freeze({ t: 'int', min: -2147483648, max: INT32_MAX, ...o });
export const uint32 = (o: Partial<Opts<IntSchema>> = {}): IntSchema => Object.freeze({ t: 'int', min: 0, max: UINT32_MAX, ...o });
export const anyValue = (o: Opts<AnySchema> = {}): AnySchema => Object.freeze({ t: 'any', ...o });
export const intOrString = (o: Opts<IntOrStringSchema> = {}): IntOrStringSchema => Object.freeze({ t: 'intOrString', ...o });
export const enumOf = (values: readonly string[], o: Omit<Opts<EnumSchema>, 'values'> = {}): EnumSchema =>
  Object.freeze({ t: 'enum', values: Object.freeze([...values]), ...o });
/** A duration as Istio's webhook wants most of them: Go syntax, ≥1ms, whole milliseconds. */
export const duration = (o: Opts<DurationSchema> = {}): DurationSchema => Object.freeze({ t: 'duration', msPrecision: true, minMs: 1, ...o });
/** A duration Istio only parses (no range rule). */
export const anyDuration = (o: Opts<DurationSchema> = {}): DurationSchema => Object.freeze({ t: 'duration', ...o });
export const list = (items: Schema, o: Omit<Opts<ListSchema>, 'items'> = {}): ListSchema => Object.freeze({ t: 'list', items, ...o });
export const map = (values: Schema, o: Omit<Opts<MapSchema>, 'values'> = {}): MapSchema => Object.freeze({ t: 'map', values, ...o });
export const obj = (fields: Record<string, Schema>, o: Omit<Opts<ObjectSchema>, 'fields'> = {}): ObjectSchema =>
  Object.freeze({ t: 'object', fields: Object.freeze(fields), ...o });

/** Copy of an object schema with extra options (e.g. a hook added where the shape is reused). */
export function withOpts(s: ObjectSchema, o: Omit<Opts<ObjectSchema>, 'fields'>): ObjectSchema {
  return Object.freeze({ ...s, ...o });
}

/** `map<string,string>` — labels, selectors, header operations. */
export const stringMap = (o: Omit<Opts<MapSchema>, 'values'> = {}): MapSchema => map(str(), o);
export const stringList = (o: Omit<Opts<ListSchema>, 'items'> = {}): ListSchema => list(str(), o);
