import type { Server, Socket } from 'node:net';
import type { Listener } from '../../compile/snapshot.js';

/** A listening socket and the snapshot listener it currently serves. */
export interface BoundListener {
  server: Server;
  listener: Listener;
  sockets: Set<Socket>;
}

/**
 * Reconciles bound sockets with the listeners a snapshot wants (keyed `address:port`): closes
 * the ones no longer wanted, points kept ones at their new listener, binds new ones. Returns a
 * message per listener that could not be bound; the others serve.
 */
export async function reconcileListeners(bound: Map<string, BoundListener>, wanted: ReadonlyMap<string, Listener>, bind: (l: Listener) => Promise<BoundListener>): Promise<string[]> {
  for (const [key, b] of bound) if (!wanted.has(key)) { b.server.close(); bound.delete(key); }
  const errors: string[] = [];
  for (const [key, l] of wanted) {
    const b = bound.get(key);
    if (b !== undefined) { b.listener = l; continue; }
    try {
      bound.set(key, await bind(l));
    } catch (e) {
      errors.push(`listener ${l.name}: cannot bind ${l.address}:${l.bindPort}: ${(e as Error).message}`);
    }
  }
  return errors;
}

/** Listens on the listener's address; rejects with the bind error (EADDRINUSE, ...). */
export function listenOn(b: BoundListener): Promise<BoundListener> {
  return new Promise((resolve, reject) => {
    b.server.once('error', reject);
    b.server.listen({ host: b.listener.address, port: b.listener.bindPort, backlog: 4096 }, () => {
      b.server.removeListener('error', reject);
      b.server.on('error', () => {});
      resolve(b);
    });
  });
}

export function listenerKey(l: Listener): string {
  return `${l.address}:${l.bindPort}`;
}

/** Stops accepting on every listener; returns how many connections are still open. */
export function stopAccepting(bound: ReadonlyMap<string, BoundListener>): number {
  for (const b of bound.values()) b.server.close();
  return openConnections(bound);
}

export function openConnections(bound: ReadonlyMap<string, BoundListener>): number {
  let n = 0;
  for (const b of bound.values()) n += b.sockets.size;
  return n;
}

/** Closes every listener and destroys its connections. */
export function closeAll(bound: Map<string, BoundListener>): void {
  for (const b of bound.values()) { b.server.close(); for (const s of b.sockets) s.destroy(); }
  bound.clear();
}
