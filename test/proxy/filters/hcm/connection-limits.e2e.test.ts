// The seed's `gateway-performance` EnvoyFilter shape (NETWORK_FILTER MERGE of the HTTP
// connection manager) with short values, so its effect is observable: idle connections are
// closed after idle_timeout, connections are drained after max_connection_duration.

import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEchoBackend, type EchoBackend } from '../../../support/echo-backend.js';
import { startSluice, type SluiceProcess } from '../../../support/sluice-process.js';
import { configFile, echoRouteYaml } from '../../../support/yaml.js';

function config(backend: number, idle: string, maxDuration: string): string {
  return `
${echoRouteYaml(backend)}---
apiVersion: networking.istio.io/v1beta1
kind: EnvoyFilter
metadata: {name: gateway-performance, namespace: istio-system}
spec:
  workloadSelector: {labels: {istio: ingressgateway}}
  configPatches:
  - applyTo: NETWORK_FILTER
    match: {listener: {filterChain: {filter: {name: "envoy.filters.network.http_connection_manager"}}}}
    patch:
      operation: MERGE
      value:
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          common_http_protocol_options: {max_connection_duration: ${maxDuration}, idle_timeout: ${idle}}
`;
}

/** One raw HTTP/1.1 exchange on an open socket; resolves the response head. */
function exchange(socket: Socket, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer): void => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.slice(0, end);
      const len = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
      if (buf.length < end + 4 + len) return;
      socket.off('data', onData);
      resolve(head);
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(`GET ${path} HTTP/1.1\r\nhost: api.example.com\r\n\r\n`);
  });
}

function closed(socket: Socket, timeoutMs = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.destroyed) { resolve(); return; }
    const t = setTimeout(() => reject(new Error('connection still open')), timeoutMs);
    socket.once('close', () => { clearTimeout(t); resolve(); });
  });
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

let echo: EchoBackend;
let idle: SluiceProcess;
let duration: SluiceProcess;

beforeAll(async () => {
  echo = await startEchoBackend('echo');
  idle = await startSluice({ config: [configFile(config(echo.port, '1s', '3600s'))], ports: [80] });
  duration = await startSluice({ config: [configFile(config(echo.port, '300s', '1s'))], ports: [80] });
});

afterAll(async () => {
  await idle?.stop();
  await duration?.stop();
  await echo?.close();
});

describe('HTTP connection manager timeouts from an EnvoyFilter MERGE', () => {
  it('idle_timeout closes a keep-alive connection that stays idle', async () => {
    const s = await open(idle.port(80));
    expect(await exchange(s, '/one')).toMatch(/^HTTP\/1.1 200/);
    await closed(s);
  });

  it('idle_timeout does not cut a request that takes longer than it', async () => {
    const s = await open(idle.port(80));
    expect(await exchange(s, '/delay/1500')).toMatch(/^HTTP\/1.1 200/);
    s.destroy();
  });

  it('max_connection_duration drains: the response in flight says connection: close, then the connection closes', async () => {
    const s = await open(duration.port(80));
    const head = await exchange(s, '/delay/2500');
    expect(head).toMatch(/^HTTP\/1.1 200/);
    expect(head.toLowerCase()).toContain('connection: close');
    await closed(s);
  });

  it('a new connection is served normally afterwards', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: duration.port(80), path: '/after', headers: { host: 'api.example.com' } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(200);
  });
});
