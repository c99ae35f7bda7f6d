import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestCa, serverCert, tlsSecretYaml } from '../../support/certs.js';
import type { SluiceProcess } from '../../support/sluice-process.js';
import { serviceEntry, startGateway } from './helpers.js';

// gRPC through the gateway with a real @grpc/grpc-js client and server: h2c on a GRPC port and
// h2 over TLS (ALPN) on an HTTPS port, to an HTTP/2 upstream (ServiceEntry protocol GRPC).
// Unary, server streaming, client streaming and bidi calls, metadata, trailers, error statuses.

const ser = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
const de = (b: Buffer): unknown => JSON.parse(b.toString());
const method = (name: string, requestStream: boolean, responseStream: boolean): grpc.MethodDefinition<unknown, unknown> => ({
  path: `/sluice.test.Echo/${name}`, requestStream, responseStream,
  requestSerialize: ser, requestDeserialize: de, responseSerialize: ser, responseDeserialize: de,
});
const service = {
  Unary: method('Unary', false, false),
  Fail: method('Fail', false, false),
  ServerStream: method('ServerStream', false, true),
  ClientStream: method('ClientStream', true, false),
  Bidi: method('Bidi', true, true),
};
type Msg = { text?: string; n?: number; who?: string; authority?: string; meta?: string };
const EchoClient = grpc.makeGenericClientConstructor(service, 'Echo');
type Client = InstanceType<typeof EchoClient> & Record<string, (...a: unknown[]) => unknown>;

let server: grpc.Server;
let grpcPort = 0;
let gw: SluiceProcess;
const ca = createTestCa();
const cert = serverCert(ca, 'grpc.example.com');

beforeAll(async () => {
  server = new grpc.Server();
  server.addService(service, {
    Unary: (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      const trailer = new grpc.Metadata();
      trailer.set('x-trailer', 'from-upstream');
      cb(null, { text: call.request.text, who: 'grpc-echo', authority: String(call.getPath()), meta: String(call.metadata.get('x-client')[0] ?? '') }, trailer);
    },
    Fail: (_call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      cb({ code: grpc.status.NOT_FOUND, details: 'no such thing' });
    },
    ServerStream: (call: grpc.ServerWritableStream<Msg, Msg>) => {
      const n = call.request.n ?? 3;
      for (let i = 0; i < n; i++) call.write({ n: i, text: `item ${i}` });
      call.end();
    },
    ClientStream: (call: grpc.ServerReadableStream<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      let sum = 0;
      call.on('data', (m: Msg) => { sum += m.n ?? 0; });
      call.on('end', () => cb(null, { n: sum }));
    },
    Bidi: (call: grpc.ServerDuplexStream<Msg, Msg>) => {
      call.on('data', (m: Msg) => call.write({ text: `echo ${m.text}` }));
      call.on('end', () => call.end());
    },
  });
  grpcPort = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  gw = await startGateway(`
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 8080, name: grpc, protocol: GRPC}
    hosts: [grpc.example.com]
  - port: {number: 8443, name: https, protocol: HTTPS}
    hosts: [grpc.example.com]
    tls: {mode: SIMPLE, credentialName: grpc-cert}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: grpc, namespace: default}
spec:
  hosts: [grpc.example.com]
  gateways: [istio-system/gw]
  http:
  - match: [{uri: {prefix: /sluice.test.Echo/}}]
    route: [{destination: {host: grpc-echo.default.svc.cluster.local, port: {number: 9000}}}]
  - match: [{uri: {prefix: /down.}}]
    route: [{destination: {host: down.default.svc.cluster.local, port: {number: 9000}}}]
${serviceEntry('grpc-echo', 'grpc-echo.default.svc.cluster.local', 9000, 'GRPC', grpcPort)}
${serviceEntry('down', 'down.default.svc.cluster.local', 9000, 'GRPC', 1)}
---
${tlsSecretYaml('grpc-cert', 'istio-system', { cert: cert.cert, key: cert.key })}
`, [8080, 8443]);
});

afterAll(async () => {
  await gw?.stop();
  server?.forceShutdown();
});

function h2cClient(): Client {
  return new EchoClient(`127.0.0.1:${gw.port(8080)}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'grpc.example.com' }) as Client;
}

function tlsClient(): Client {
  return new EchoClient(`127.0.0.1:${gw.port(8443)}`, grpc.credentials.createSsl(Buffer.from(ca.certPem)), { 'grpc.ssl_target_name_override': 'grpc.example.com', 'grpc.default_authority': 'grpc.example.com' }) as Client;
}

function unary(c: Client, name: string, req: Msg, md = new grpc.Metadata()): Promise<{ err: grpc.ServiceError | null; res: Msg | undefined; trailers: grpc.Metadata | null }> {
  return new Promise((resolve) => {
    let trailers: grpc.Metadata | null = null;
    const call = c[name]!(req, md, (err: grpc.ServiceError | null, res: Msg | undefined) => setImmediate(() => resolve({ err, res, trailers }))) as grpc.ClientUnaryCall;
    call.on('status', (st: grpc.StatusObject) => { trailers = st.metadata; });
  });
}

for (const [label, make] of [['h2c on a GRPC port', h2cClient], ['h2 over TLS (ALPN) on an HTTPS port', tlsClient]] as const) {
  describe(`gRPC ${label}`, () => {
    it('unary call: request metadata reaches the server, response and trailers come back', async () => {
      const c = make();
      const md = new grpc.Metadata();
      md.set('x-client', 'meta-1');
      const { err, res, trailers } = await unary(c, 'Unary', { text: 'hello' }, md);
      c.close();
      expect(err).toBeNull();
      expect(res).toMatchObject({ text: 'hello', who: 'grpc-echo', authority: '/sluice.test.Echo/Unary', meta: 'meta-1' });
      expect(trailers?.get('x-trailer')).toEqual(['from-upstream']);
    });

    it('an error status and message from the server pass through (trailers-only response)', async () => {
      const c = make();
      const { err } = await unary(c, 'Fail', {});
      c.close();
      expect(err?.code).toBe(grpc.status.NOT_FOUND);
      expect(err?.details).toBe('no such thing');
    });

    it('server streaming delivers every message in order', async () => {
      const c = make();
      const got: Msg[] = [];
      await new Promise<void>((resolve, reject) => {
        const call = c.ServerStream!({ n: 25 }) as grpc.ClientReadableStream<Msg>;
        call.on('data', (m: Msg) => got.push(m));
        call.on('error', reject);
        call.on('end', () => resolve());
      });
      c.close();
      expect(got.map((m) => m.n)).toEqual([...Array(25).keys()]);
    });

    it('client streaming: the server sees every message', async () => {
      const c = make();
      const res = await new Promise<Msg>((resolve, reject) => {
        const call = c.ClientStream!((err: grpc.ServiceError | null, r: Msg) => (err ? reject(err) : resolve(r))) as grpc.ClientWritableStream<Msg>;
        for (let i = 1; i <= 100; i++) call.write({ n: i });
        call.end();
      });
      c.close();
      expect(res.n).toBe(5050);
    });

    it('bidirectional streaming interleaves requests and replies', async () => {
      const c = make();
      const replies: string[] = [];
      await new Promise<void>((resolve, reject) => {
        const call = c.Bidi!() as grpc.ClientDuplexStream<Msg, Msg>;
        let i = 0;
        call.on('data', (m: Msg) => {
          replies.push(m.text ?? '');
          if (++i < 5) call.write({ text: `m${i}` }); else call.end();
        });
        call.on('error', reject);
        call.on('end', () => resolve());
        call.write({ text: 'm0' });
      });
      c.close();
      expect(replies).toEqual(['echo m0', 'echo m1', 'echo m2', 'echo m3', 'echo m4']);
    });
  });
}

describe('gRPC local replies (Envoy sends them as gRPC statuses)', () => {
  it('no route → UNIMPLEMENTED', async () => {
    const c = new EchoClient(`127.0.0.1:${gw.port(8080)}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'other.example.com' }) as Client;
    const { err } = await unary(c, 'Unary', { text: 'x' });
    c.close();
    expect(err?.code).toBe(grpc.status.UNIMPLEMENTED);
    await gw.waitFor(/"POST \/sluice\.test\.Echo\/Unary HTTP\/2" 200 NR route_not_found/, 'stdout');
  });

  it('upstream refuses connections → UNAVAILABLE with the reason', async () => {
    const client = new grpc.Client(`127.0.0.1:${gw.port(8080)}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'grpc.example.com' });
    const err = await new Promise<grpc.ServiceError>((resolve) => {
      client.makeUnaryRequest('/down.Svc/Call', ser, de, {}, (e) => resolve(e as grpc.ServiceError));
    });
    client.close();
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect(err.details).toContain('connection failure');
  });
});
