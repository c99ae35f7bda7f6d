import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

/**
 * A real gRPC server (@grpc/grpc-js) with one unary method, its messages parsed from proto
 * texts (one package each) written in the test — Envoy's services as a test runs them.
 * `method` is `package.Service/Method`; `request`/`response` are fully qualified type names.
 */
export async function startUnaryGrpcServer<Req, Res extends object>(o: {
  protos: readonly string[];
  method: string;
  request: string;
  response: string;
  handle: (req: Req, cb: grpc.sendUnaryData<Res>) => void;
  credentials?: grpc.ServerCredentials;
}): Promise<{ server: grpc.Server; port: number }> {
  const root = new protobuf.Root();
  for (const p of o.protos) protobuf.parse(p, root, { keepCase: false });
  root.resolveAll();
  const Req = root.lookupType(o.request);
  const Res = root.lookupType(o.response);
  const name = o.method.slice(o.method.lastIndexOf('/') + 1);
  const server = new grpc.Server();
  server.addService({
    [name]: {
      path: `/${o.method}`, requestStream: false, responseStream: false, originalName: name,
      requestSerialize: (m: object) => Buffer.from(Req.encode(Req.fromObject(m)).finish()),
      requestDeserialize: (b: Buffer) => Req.toObject(Req.decode(b), { longs: Number }),
      responseSerialize: (m: object) => Buffer.from(Res.encode(Res.fromObject(m)).finish()),
      responseDeserialize: (b: Buffer) => Res.toObject(Res.decode(b), { longs: Number }),
    },
  }, { [name]: (call: grpc.ServerUnaryCall<Req, Res>, cb: grpc.sendUnaryData<Res>) => o.handle(call.request, cb) });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', o.credentials ?? grpc.ServerCredentials.createInsecure(), (e, p) => (e !== null ? reject(e) : resolve(p))));
  return { server, port };
}
