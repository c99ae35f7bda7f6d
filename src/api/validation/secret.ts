// Secret: `data` values are base64 (the API server refuses anything else), `stringData` plain
// strings; a kubernetes.io/tls Secret must carry tls.crt and tls.key. Gateways read TLS
// credentials from these (credentialName): generic keys cert/key/cacert, or tls.crt/tls.key/ca.crt.

import type { SecretResource } from '../types.js';
import type { KindValidator, Path, ValidationContext } from './context.js';
import { checkCoreDocument, coreDocument } from './core.js';
import { bool, map, str } from './schema.js';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const KEY = /^[-._a-zA-Z0-9]+$/;

function keyError(k: string): string | undefined {
  return k.length <= 253 && KEY.test(k) ? undefined : `invalid Secret key "${k}": letters, digits, "-", "_" and "." only`;
}

function checkSecret(s: SecretResource & { kind?: unknown }, path: Path, ctx: ValidationContext): void {
  for (const [k, v] of Object.entries(s.data ?? {})) {
    if (!BASE64.test(v)) ctx.error([...path, 'data', k], `data.${k} is not valid base64`, 'base64-encode the value (base64 -w0 file), or put the plain text under stringData');
    if (s.stringData?.[k] !== undefined) ctx.warning([...path, 'stringData', k], `key ${k} is in both data and stringData; stringData wins`);
  }
  if (s.type === 'kubernetes.io/tls') {
    for (const k of ['tls.crt', 'tls.key']) {
      if (s.data?.[k] === undefined && s.stringData?.[k] === undefined) ctx.error([...path, 'data'], `a kubernetes.io/tls Secret needs ${k}`, 'kubectl create secret tls NAME --cert=FILE --key=FILE');
    }
  }
}

const secretSchema = coreDocument(
  { type: str(), data: map(str(), { key: keyError }), stringData: map(str(), { key: keyError }), immutable: bool() },
  checkSecret,
);

export const validateSecret: KindValidator = (body, ctx) => {
  checkCoreDocument(body, secretSchema, ctx);
};
