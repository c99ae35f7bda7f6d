// Unary gRPC calls to the services Envoy's filters talk to (ext_authz's Authorization/Check,
// the rate limit service's ShouldRateLimit). Each caller carries the fields of Envoy's protos
// it uses, with Envoy's field numbers, as proto text; @grpc/grpc-js and protobufjs load on
// the first call, so a gateway that calls no gRPC service never loads them.

import type { Client, ServiceError } from '@grpc/grpc-js';
import type { Type } from 'protobufjs';

type GrpcModule = typeof import('@grpc/grpc-js');

type Parse = typeof import('protobufjs').parse;
let modules: Promise<{ grpc: GrpcModule; parse: Parse }> | null = null;
const clients = new Map<string, Client>();

/** One unary method: its path and message types, parsed from proto text on first use. */
export class UnaryMethod<Req extends object, Res extends object> {
  readonly #proto: string;
  readonly #path: string;
  readonly #request: string;
  readonly #response: string;
  #types: Promise<{ grpc: GrpcModule; request: Type; response: Type }> | null = null;

  /** `path`: `/package.Service/Method`; `request`/`response`: fully qualified message names in `proto`. */
  constructor(proto: string, path: string, request: string, response: string) {
    this.#proto = proto;
    this.#path = path;
    this.#request = request;
    this.#response = response;
  }

  #load(): Promise<{ grpc: GrpcModule; request: Type; response: Type }> {
    this.#types ??= (async () => {
      // protobufjs is CommonJS: its functions are on the default export.
      modules ??= Promise.all([import('@grpc/grpc-js'), import('protobufjs')]).then(([grpc, pb]) => ({ grpc, parse: ((pb as unknown as { default?: { parse: Parse } }).default ?? pb).parse }));
      const { grpc, parse } = await modules;
      const root = parse(this.#proto, { keepCase: false }).root;
      return { grpc, request: root.lookupType(this.#request), response: root.lookupType(this.#response) };
    })();
    return this.#types;
  }

  /**
   * Calls the method on `target` (`host:port`, plaintext HTTP/2, one client per target) with
   * a deadline; resolves the answer, rejects with a readable reason (unreachable, deadline
   * exceeded, the service's error status).
   */
  async call(target: string, req: Req, timeoutMs: number): Promise<Res> {
    const { grpc, request, response } = await this.#load();
    let client = clients.get(target);
    if (client === undefined) clients.set(target, (client = new grpc.Client(target, grpc.credentials.createInsecure())));
    return new Promise((resolve, reject) => {
      client.makeUnaryRequest<Req, Res>(
        this.#path,
        (m) => Buffer.from(request.encode(request.fromObject(m as Record<string, unknown>)).finish()),
        (b) => response.toObject(response.decode(b), { longs: Number, enums: Number, defaults: false }) as Res,
        req,
        new grpc.Metadata(),
        { deadline: Date.now() + timeoutMs },
        (err: ServiceError | null, res?: Res) => {
          if (err !== null) reject(new Error(`gRPC ${grpc.status[err.code] ?? err.code}: ${err.details}`));
          else resolve(res ?? ({} as Res));
        },
      );
    });
  }
}
