import type { HeaderMutation } from '../../compile/header-mutation.js';
import { removeHeader, setHeader, type HeaderList } from './headers.js';

/** Envoy's order: remove, then set (overwrite), then add (append). */
export function applyHeaderMutation(h: HeaderList, m: HeaderMutation): void {
  for (let i = 0; i < m.remove.length; i++) removeHeader(h, m.remove[i]!);
  for (let i = 0; i < m.set.length; i++) { const e = m.set[i]!; setHeader(h, e[1], e[0], e[2]); }
  for (let i = 0; i < m.add.length; i++) { const e = m.add[i]!; h.push(e[1], e[2]); }
}
