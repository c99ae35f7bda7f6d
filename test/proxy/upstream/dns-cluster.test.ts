import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Cluster } from '../../../src/compile/snapshot.js';
import { ClusterRuntime } from '../../../src/proxy/upstream/cluster-manager.js';
import { DnsResolver, DNS_REFRESH_MS, parseResolveFlag } from '../../../src/proxy/upstream/dns.js';
import { ResourceRegistry } from '../../../src/proxy/upstream/resources.js';

/** A resolver whose answers the test changes (the system resolver cannot be steered in a test). */
class SteeredResolver extends DnsResolver {
  answers: string[] = ['127.0.0.10'];
  calls = 0;
  override resolve(_host: string, cb: (err: Error | null, addresses: string[]) => void): void {
    this.calls++;
    const a = [...this.answers];
    setTimeout(() => cb(a.length === 0 ? new Error('ENOTFOUND') : null, a), 1);
  }
}

const cluster: Cluster = {
  name: 'outbound|80||api.external.test',
  serviceHost: 'api.external.test',
  subset: '',
  port: 80,
  type: 'strict_dns',
  endpoints: [{ address: 'api.external.test', port: 8080, weight: 1, labels: {}, locality: '', serviceAccount: '' }],
  protocol: 'http1',
  lb: { policy: 'ROUND_ROBIN', hash: null },
  pool: { maxConnections: 10, connectTimeoutMs: 1000, maxPendingRequests: 10, maxRequests: 10, maxRequestsPerConnection: 0, maxRetries: 3, idleTimeoutMs: 1000, maxConnectionDurationMs: 0, h2Upgrade: false, useClientProtocol: false },
  outlier: null,
  tls: null,
  meshExternal: true,
  origins: [],
};

describe('DNS clusters', () => {
  afterEach(() => { vi.useRealTimers(); });

  it('resolves every address, then re-resolves on the refresh interval keeping unchanged hosts', async () => {
    vi.useFakeTimers();
    const dns = new SteeredResolver();
    const rt = new ClusterRuntime(cluster, 'fp', dns, new Map(), null, new ResourceRegistry(), null);
    expect(rt.ready).toBe(false);
    const ready = new Promise<void>((r) => rt.whenReady(r));
    await vi.advanceTimersByTimeAsync(5);
    await ready;
    expect(rt.hosts.map((h) => h.id)).toEqual(['127.0.0.10:8080']);
    const kept = rt.hosts[0];
    dns.answers = ['127.0.0.10', '127.0.0.11'];
    await vi.advanceTimersByTimeAsync(DNS_REFRESH_MS + 5);
    expect(rt.hosts.map((h) => h.id)).toEqual(['127.0.0.10:8080', '127.0.0.11:8080']);
    expect(rt.hosts[0]).toBe(kept);
    dns.answers = [];
    await vi.advanceTimersByTimeAsync(DNS_REFRESH_MS + 5);
    expect(rt.dnsError).toMatch(/api\.external\.test/);
    expect(rt.hosts.map((h) => h.id)).toEqual(['127.0.0.10:8080', '127.0.0.11:8080']); // last good answer kept
    rt.close();
  });

  it('parses --resolve overrides and rejects a malformed one', () => {
    const m = parseResolveFlag(['a.test=127.0.0.1,b.test=::1', 'a.test=127.0.0.2']);
    expect(m.get('a.test')).toEqual(['127.0.0.1', '127.0.0.2']);
    expect(new DnsResolver(new Map([['*.wild.test', ['127.0.0.9']]])).override('x.wild.test')).toEqual(['127.0.0.9']);
    expect(() => parseResolveFlag(['a.test=not-an-ip'])).toThrow(/not an IP address/);
  });
});
