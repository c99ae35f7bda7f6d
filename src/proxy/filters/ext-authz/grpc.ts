// The gRPC side of ext_authz (Istio's `envoyExtAuthzGrpc` provider): Envoy's
// `envoy.service.auth.v3.Authorization/Check`. The messages below are the fields of Envoy's
// protos that the check uses, with Envoy's field numbers (protobuf ignores the rest, both ways),
// so any Envoy ext_authz server (OPA-Envoy, ...) understands them. @grpc/grpc-js and protobufjs
// load on the first check: a gateway without a gRPC provider never pays for them.

import type { Client, ServiceError } from '@grpc/grpc-js';
import type { Type } from 'protobufjs';

export const EXT_AUTHZ_PROTO = `
syntax = "proto3";
package envoy.service.auth.v3;

message SocketAddress { int32 protocol = 1; string address = 2; uint32 port_value = 3; }
message Address { SocketAddress socket_address = 1; }
message Timestamp { int64 seconds = 1; int32 nanos = 2; }
message BoolValue { bool value = 1; }
message HeaderValue { string key = 1; string value = 2; bytes raw_value = 3; }
message HeaderValueOption { HeaderValue header = 1; BoolValue append = 2; int32 append_action = 3; }
message RpcStatus { int32 code = 1; string message = 2; }
message HttpStatus { int32 code = 1; }

message AttributeContext {
  message Peer { Address address = 1; string service = 2; map<string, string> labels = 3; string principal = 4; string certificate = 5; }
  message HttpRequest {
    string id = 1; string method = 2; map<string, string> headers = 3; string path = 4; string host = 5;
    string scheme = 6; string query = 7; string fragment = 8; int64 size = 9; string protocol = 10;
  }
  message Request { Timestamp time = 1; HttpRequest http = 2; }
  Peer source = 1;
  Peer destination = 2;
  Request request = 4;
  map<string, string> context_extensions = 10;
}

message CheckRequest { AttributeContext attributes = 1; }

message DeniedHttpResponse { HttpStatus status = 1; repeated HeaderValueOption headers = 2; string body = 3; }
message OkHttpResponse { repeated HeaderValueOption headers = 2; repeated string headers_to_remove = 5; repeated HeaderValueOption response_headers_to_add = 6; }
message CheckResponse {
  RpcStatus status = 1;
  oneof http_response { DeniedHttpResponse denied_response = 2; OkHttpResponse ok_response = 3; }
}

service Authorization { rpc Check(CheckRequest) returns (CheckResponse); }
`;

export const CHECK_PATH = '/envoy.service.auth.v3.Authorization/Check';

interface Peer { address: { socketAddress: { address: string; portValue: number } }; principal: string }
export interface CheckRequest {
  attributes: {
    source: Peer;
    destination: Peer;
    /** `http` is absent for a TCP connection (network ext_authz). */
    request: { time: { seconds: number; nanos: number }; http?: { id: string; method: string; headers: Record<string, string>; path: string; host: string; scheme: string; protocol: string; size: number } };
  };
}
interface HeaderValueOption { header?: { key?: string; value?: string }; append?: { value?: boolean } }
export interface CheckResponse {
  status?: { code?: number; message?: string };
  deniedResponse?: { status?: { code?: number }; headers?: HeaderValueOption[]; body?: string };
  okResponse?: { headers?: HeaderValueOption[]; headersToRemove?: string[]; responseHeadersToAdd?: HeaderValueOption[] };
}

/** A header from the service: name (lower case), value, and whether it appends (else it replaces). */
export function headerOption(o: HeaderValueOption): { name: string; value: string; append: boolean } | null {
  const name = o.header?.key?.toLowerCase() ?? '';
  if (name === '') return null;
  return { name, value: o.header?.value ?? '', append: o.append?.value === true };
}

interface Loaded {
  grpc: typeof import('@grpc/grpc-js');
  request: Type;
  response: Type;
}

let loaded: Promise<Loaded> | null = null;

/** The proto types and grpc-js, loaded once. */
export function loadExtAuthzGrpc(): Promise<Loaded> {
  loaded ??= (async () => {
    const [grpc, pb] = await Promise.all([import('@grpc/grpc-js'), import('protobufjs')]);
    const root = pb.default.parse(EXT_AUTHZ_PROTO, { keepCase: false }).root;
    return { grpc, request: root.lookupType('envoy.service.auth.v3.CheckRequest'), response: root.lookupType('envoy.service.auth.v3.CheckResponse') };
  })();
  return loaded;
}

const clients = new Map<string, Client>();

/**
 * Calls Check on `target` (`host:port`, plaintext HTTP/2) with a deadline; resolves the answer,
 * rejects with a readable reason (unreachable, deadline exceeded, a gRPC error status).
 */
export async function checkOverGrpc(target: string, req: CheckRequest, timeoutMs: number): Promise<CheckResponse> {
  const { grpc, request, response } = await loadExtAuthzGrpc();
  let client = clients.get(target);
  if (client === undefined) clients.set(target, (client = new grpc.Client(target, grpc.credentials.createInsecure())));
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest<CheckRequest, CheckResponse>(
      CHECK_PATH,
      (m) => Buffer.from(request.encode(request.fromObject(m)).finish()),
      (b) => response.toObject(response.decode(b), { longs: Number, defaults: false }) as CheckResponse,
      req,
      new grpc.Metadata(),
      { deadline: Date.now() + timeoutMs },
      (err: ServiceError | null, res?: CheckResponse) => {
        if (err !== null) reject(new Error(`gRPC ${grpc.status[err.code] ?? err.code}: ${err.details}`));
        else resolve(res ?? {});
      },
    );
  });
}
