// Reads the SNI and ALPN list from a TLS ClientHello without consuming it, as Envoy's
// tls_inspector listener filter does. Only the first handshake record is examined.

export interface ClientHelloInfo {
  /** '' when the client sent no server_name extension. */
  readonly serverName: string;
  readonly alpn: readonly string[];
}

export const enum PeekResult {
  /** Not a TLS handshake (plaintext on a TLS port). */
  NotTls = 0,
  /** More bytes needed. */
  Incomplete = 1,
}

/** Largest ClientHello record we wait for (TLS records are at most 16 KiB + header). */
export const MAX_CLIENT_HELLO = 16 * 1024 + 5;

export function parseClientHello(buf: Buffer): ClientHelloInfo | PeekResult {
  if (buf.length < 1) return PeekResult.Incomplete;
  if (buf[0] !== 0x16) return PeekResult.NotTls;
  if (buf.length < 5) return PeekResult.Incomplete;
  if (buf[1] !== 0x03) return PeekResult.NotTls;
  const recordLen = buf.readUInt16BE(3);
  if (buf.length < 5 + recordLen) return PeekResult.Incomplete;
  const end = 5 + recordLen;
  let p = 5;
  if (buf[p] !== 0x01) return PeekResult.NotTls; // handshake type ClientHello
  p += 4; // type + 24-bit length
  p += 2 + 32; // legacy_version + random
  if (p >= end) return PeekResult.NotTls;
  p += 1 + buf[p]!; // session id
  if (p + 2 > end) return PeekResult.NotTls;
  p += 2 + buf.readUInt16BE(p); // cipher suites
  if (p >= end) return PeekResult.NotTls;
  p += 1 + buf[p]!; // compression methods
  let serverName = '';
  const alpn: string[] = [];
  if (p + 2 > end) return { serverName, alpn };
  const extEnd = Math.min(end, p + 2 + buf.readUInt16BE(p));
  p += 2;
  while (p + 4 <= extEnd) {
    const type = buf.readUInt16BE(p);
    const len = buf.readUInt16BE(p + 2);
    const body = p + 4;
    if (body + len > extEnd) break;
    if (type === 0 && len >= 5) {
      // server_name_list: length(2), then entries type(1) length(2) name
      let q = body + 2;
      const listEnd = body + len;
      while (q + 3 <= listEnd) {
        const nameType = buf[q]!;
        const nameLen = buf.readUInt16BE(q + 1);
        if (nameType === 0 && q + 3 + nameLen <= listEnd) { serverName = buf.toString('latin1', q + 3, q + 3 + nameLen).toLowerCase(); break; }
        q += 3 + nameLen;
      }
    } else if (type === 16 && len >= 2) {
      let q = body + 2;
      const listEnd = body + len;
      while (q < listEnd) {
        const l = buf[q]!;
        alpn.push(buf.toString('latin1', q + 1, q + 1 + l));
        q += 1 + l;
      }
    }
    p = body + len;
  }
  return { serverName, alpn };
}
