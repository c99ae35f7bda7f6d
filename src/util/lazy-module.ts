// Optional dependencies loaded on first use, synchronously: Node ≥ 20.19 can require() an ES
// module (without top-level await), so a caller that needs jose or the CEL parser only when a
// config uses them does not have to become async. Each module loaded at start-up costs RSS
// for good (its source text, bytecode, the objects it builds): ~2.5 MiB for jose + cel-js.
// Import the module's types with `import type`, and only call these where it is used.

import { createRequire } from 'node:module';
import type * as Jose from 'jose';
import type * as Cel from '@marcbachmann/cel-js';
import type * as CelEvaluator from '@marcbachmann/cel-js/evaluator';

const require = createRequire(import.meta.url);

let jose: typeof Jose | null = null;
let cel: typeof Cel | null = null;
let celEvaluator: typeof CelEvaluator | null = null;

/** jose (JWT/JWKS): loaded by the first RequestAuthentication that needs it. */
export function joseModule(): typeof Jose {
  return (jose ??= require('jose') as typeof Jose);
}

/** The CEL parser/checker: loaded by the first Telemetry expression. */
export function celModule(): typeof Cel {
  return (cel ??= require('@marcbachmann/cel-js') as typeof Cel);
}

/** The CEL evaluator's value types (Duration). */
export function celEvaluatorModule(): typeof CelEvaluator {
  return (celEvaluator ??= require('@marcbachmann/cel-js/evaluator') as typeof CelEvaluator);
}
