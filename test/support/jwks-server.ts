// A real JWKS HTTP server for RequestAuthentication tests: serves one key set per path,
// can rotate keys, fail (HTTP 500), or hang; signs tokens with jose.

import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

export interface SigningKey {
  readonly kid: string;
  readonly alg: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

/** Every JWS algorithm Istio/Envoy verify from a JWKS. */
export const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

export async function makeKey(alg: string, kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, alg === 'EdDSA' ? { crv: 'Ed25519', extractable: true } : { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicJwk };
}

export interface TokenOptions {
  /** Seconds from now; negative = already expired. Default 1 h. */
  expiresIn?: number;
  notBefore?: number;
  /** Omit the kid header. */
  noKid?: boolean;
}

export async function signToken(key: SigningKey, claims: JWTPayload, o: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: key.alg, ...(o.noKid === true ? {} : { kid: key.kid }), typ: 'JWT' }).setIssuedAt(now).setExpirationTime(now + (o.expiresIn ?? 3600));
  if (o.notBefore !== undefined) jwt.setNotBefore(now + o.notBefore);
  return jwt.sign(key.privateKey);
}

export type JwksMode = 'up' | 'error' | 'hang';

export interface JwksServer {
  readonly port: number;
  /** `http://127.0.0.1:PORT<path>`. */
  url(path?: string): string;
  /** Replaces the keys served at `path`. */
  publish(keys: readonly SigningKey[], path?: string): void;
  /** GET count per path. */
  fetches(path?: string): number;
  mode: JwksMode;
  close(): Promise<void>;
}

export async function startJwksServer(): Promise<JwksServer> {
  const sets = new Map<string, readonly SigningKey[]>();
  const counts = new Map<string, number>();
  const hanging = new Set<ServerResponse>();
  const sockets = new Set<Socket>();
  const state = { mode: 'up' as JwksMode };
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    if (state.mode === 'hang') { hanging.add(res); return; }
    if (state.mode === 'error') { res.writeHead(500, { 'content-type': 'text/plain' }); res.end('jwks backend broken'); return; }
    const keys = sets.get(path);
    if (keys === undefined) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: keys.map((k) => k.publicJwk) }));
  });
  server.on('connection', (s: Socket) => { sockets.add(s); s.once('close', () => sockets.delete(s)); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: (path = '/jwks.json') => `http://127.0.0.1:${port}${path}`,
    publish: (keys, path = '/jwks.json') => { sets.set(path, [...keys]); },
    fetches: (path = '/jwks.json') => counts.get(path) ?? 0,
    get mode() { return state.mode; },
    set mode(m: JwksMode) { state.mode = m; },
    close: () => new Promise<void>((r) => {
      for (const res of hanging) res.destroy();
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}
