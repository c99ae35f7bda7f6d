// Unary gRPC calls to the services Envoy's filters talk to (ext_authz's Authorization/Check,
// the rate limit service's ShouldRateLimit). Each caller carries the fields of Envoy's protos
// it uses, with Envoy's field numbers, as proto text; @grpc/grpc-js and protobufjs load on
// the first call, so a gateway that calls no gRPC service never loads them.

import type { Client, ChannelCredentials, ServiceError } from '@grpc/grpc-js';
import type { Type } from 'protobufjs';
import type { ClusterRuntime, HostRuntime } from './cluster-manager.js';
import { peerCheck, sniFor } from './transport.js';

/** Where a call goes: an endpoint of the service's cluster, over TLS when its DestinationRule (or auto mTLS) says so. */
export interface GrpcTarget {
  readonly cluster: ClusterRuntime;
  readonly host: HostRuntime;
  /** The service's host name (SNI and certificate check when the DestinationRule sets none). */
  readonly authority: string;
}

type GrpcModule = typeof import('@grpc/grpc-js');

type Parse = typeof import('protobufjs').parse;
let modules: Promise<{ grpc: GrpcModule; parse: Parse }> | null = null;
/** One client per endpoint and TLS settings (a reload with new TLS material gets a new client). */
const clients = new Map<string, Client>();
const tlsIds = new WeakMap<object, number>();
let nextTlsId = 1;

function clientFor(grpc: GrpcModule, t: GrpcTarget): Client {
  const tls = t.cluster.tls;
  const target = t.host.id;
  let tlsId = 0;
  if (tls !== null) {
    tlsId = tlsIds.get(tls) ?? 0;
    if (tlsId === 0) tlsIds.set(tls, (tlsId = nextTlsId++));
  }
  const key = `${target}|${tlsId}`;
  let client = clients.get(key);
  if (client !== undefined) return client;
  let creds: ChannelCredentials = grpc.credentials.createInsecure();
  const options: Record<string, string> = {};
  if (tls !== null) {
    if (tls.error !== null) throw new Error(`TLS_error: ${tls.error}`);
    const sni = sniFor(t.cluster.config, tls.config, t.authority);
    creds = grpc.credentials.createFromSecureContext(tls.secureContext, { checkServerIdentity: peerCheck(tls.config, sni), rejectUnauthorized: !tls.config.insecureSkipVerify });
    if (sni !== '') options['grpc.ssl_target_name_override'] = sni;
    options['grpc.default_authority'] = t.authority;
  }
  clients.set(key, (client = new grpc.Client(target, creds, options)));
  return client;
}

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
   * Calls the method on an endpoint of the service (HTTP/2; TLS as the cluster's
   * DestinationRule or auto mTLS says) with a deadline; resolves the answer, rejects with a
   * readable reason (unreachable, TLS, deadline exceeded, the service's error status).
   */
  async call(t: GrpcTarget, req: Req, timeoutMs: number): Promise<Res> {
    const { grpc, request, response } = await this.#load();
    const client = clientFor(grpc, t);
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
