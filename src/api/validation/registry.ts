import type { Kind } from '../types.js';
import type { KindValidator } from './context.js';

/** One validator per kind (files beside this one). Kinds without one are accepted as parsed. */
export const kindValidators: Partial<Record<Kind, KindValidator>> = {};
