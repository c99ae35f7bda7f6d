import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfigApi, loadKubeConfig } from '../../src/config/kubernetes/api-client.js';
import { KubernetesSource, type KubernetesSourceOptions } from '../../src/config/kubernetes/source.js';
import type { FakeApiServer } from './fake-apiserver.js';

/** Waits until `check` returns a value other than undefined/false (a condition, not a duration). */
export async function until<T>(check: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'sluice-k8s-'));
}

/** A source reading the fake API server through a real kubeconfig file, with short retry delays. */
export function sourceFor(fake: FakeApiServer, o: Partial<KubernetesSourceOptions> = {}): KubernetesSource {
  const { kc, origin } = loadKubeConfig(fake.writeKubeconfig(tempDir()));
  return new KubernetesSource({
    api: new KubeConfigApi(kc, origin),
    namespaces: [],
    gatewayNamespace: 'istio-system',
    debounceMs: 20,
    debounceMaxMs: 200,
    backoff: { initialMs: 50, maxMs: 400 },
    ...o,
  });
}

/** Resolves at the next (debounced) change notification of `source`; counts them all. */
export class ChangeCounter {
  count = 0;
  #waiters: (() => void)[] = [];

  constructor(source: KubernetesSource) {
    source.subscribe(() => {
      this.count++;
      const w = this.#waiters;
      this.#waiters = [];
      for (const f of w) f();
    });
  }

  next(): Promise<void> {
    return new Promise((r) => this.#waiters.push(r));
  }
}
