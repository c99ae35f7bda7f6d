// Headers travel as flat arrays `[name, value, name, value, ...]` with names as received:
// that is what both codecs produce (node:http rawHeaders, llhttp), what they send, and it keeps
// the client's header case (Envoy's header-case preservation). Lookups compare
// case-insensitively; V8's toLowerCase returns the same string when nothing changes.

export type HeaderList = string[];

export function eqLower(name: string, lower: string): boolean {
  return name.length === lower.length && (name === lower || name.toLowerCase() === lower);
}

/** First value of a header, by lower-case name. */
export function getHeader(h: HeaderList, lower: string): string | undefined {
  for (let i = 0; i < h.length; i += 2) if (eqLower(h[i]!, lower)) return h[i + 1];
  return undefined;
}

/** All values of a header joined with "," (Envoy's view of repeated headers). */
export function getHeaderJoined(h: HeaderList, lower: string): string | undefined {
  let out: string | undefined;
  for (let i = 0; i < h.length; i += 2) {
    if (eqLower(h[i]!, lower)) out = out === undefined ? h[i + 1] : `${out},${h[i + 1]}`;
  }
  return out;
}

export function hasHeader(h: HeaderList, lower: string): boolean {
  for (let i = 0; i < h.length; i += 2) if (eqLower(h[i]!, lower)) return true;
  return false;
}

/** Removes every occurrence; returns how many were removed. */
export function removeHeader(h: HeaderList, lower: string): number {
  let w = 0;
  for (let r = 0; r < h.length; r += 2) {
    if (eqLower(h[r]!, lower)) continue;
    if (w !== r) { h[w] = h[r]!; h[w + 1] = h[r + 1]!; }
    w += 2;
  }
  const removed = (h.length - w) / 2;
  h.length = w;
  return removed;
}

/** Replaces all occurrences with one value (appends when absent). */
export function setHeader(h: HeaderList, name: string, lower: string, value: string): void {
  for (let i = 0; i < h.length; i += 2) {
    if (eqLower(h[i]!, lower)) {
      h[i + 1] = value;
      // Drop any later duplicates.
      for (let j = i + 2; j < h.length; j += 2) {
        if (eqLower(h[j]!, lower)) { h.splice(j, 2); j -= 2; }
      }
      return;
    }
  }
  h.push(name, value);
}

export function addHeader(h: HeaderList, name: string, value: string): void {
  h.push(name, value);
}

/** Removes headers whose lower-case name starts with `prefix` (lower case, non-empty). */
export function removeHeaderPrefix(h: HeaderList, prefix: string): void {
  const first = prefix.charCodeAt(0);
  let w = 0;
  for (let r = 0; r < h.length; r += 2) {
    const n = h[r]!;
    // First character before any string is made: most names fail here.
    const c = n.charCodeAt(0);
    if (n.length >= prefix.length && (c === first || (c | 0x20) === first) && n.slice(0, prefix.length).toLowerCase() === prefix) continue;
    if (w !== r) { h[w] = n; h[w + 1] = h[r + 1]!; }
    w += 2;
  }
  h.length = w;
}

// Hop-by-hop headers (RFC 9110 §7.6.1) plus the ones Envoy never forwards.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'upgrade', 'proxy-authenticate', 'proxy-authorization', 'trailer', 'http2-settings']);

/** Copy without hop-by-hop headers (and the ones `Connection` names). */
export function withoutHopByHop(h: HeaderList, keepUpgrade: boolean, keepTe = false): HeaderList {
  let named: string[] | null = null;
  const conn = getHeader(h, 'connection');
  if (conn !== undefined && conn !== 'keep-alive' && conn !== 'close' && conn !== 'Keep-Alive') {
    named = conn.toLowerCase().split(',').map((s) => s.trim()).filter((s) => s !== 'upgrade' && s !== 'keep-alive' && s !== 'close');
  }
  const out: HeaderList = [];
  for (let i = 0; i < h.length; i += 2) {
    const n = h[i]!;
    const lower = n.toLowerCase();
    if (HOP_BY_HOP.has(lower)) {
      if (keepUpgrade && (lower === 'upgrade' || lower === 'connection')) { out.push(n, lower === 'connection' ? 'Upgrade' : h[i + 1]!); continue; }
      if (keepTe && lower === 'te' && h[i + 1]!.toLowerCase() === 'trailers') { out.push(n, h[i + 1]!); continue; }
      continue;
    }
    if (named !== null && named.includes(lower)) continue;
    out.push(n, h[i + 1]!);
  }
  return out;
}
