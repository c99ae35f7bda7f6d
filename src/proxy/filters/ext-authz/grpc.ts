// The gRPC side of ext_authz (Istio's `envoyExtAuthzGrpc` provider): Envoy's
// `envoy.service.auth.v3.Authorization/Check`. The messages below are the fields of Envoy's
// protos that the check uses, with Envoy's field numbers (protobuf ignores the rest, both ways),
// so any Envoy ext_authz server (OPA-Envoy, ...) understands them.

import type { DownstreamConnection } from '../../http/stream.js';
import { UnaryMethod, type GrpcTarget } from '../../upstream/grpc-unary.js';

const EXT_AUTHZ_PROTO = `
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
    string body = 11; bytes raw_body = 12;
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

const CHECK_PATH = '/envoy.service.auth.v3.Authorization/Check';

interface Peer { address: { socketAddress: { address: string; portValue: number } }; principal: string }
export interface CheckRequest {
  attributes: {
    source: Peer;
    destination: Peer;
    /** `http` is absent for a TCP connection (network ext_authz). */
    request: { time: { seconds: number; nanos: number }; http?: { id: string; method: string; headers: Record<string, string>; path: string; host: string; scheme: string; protocol: string; size: number; body?: string; rawBody?: Buffer } };
  };
}
export type HttpAttributes = NonNullable<CheckRequest['attributes']['request']['http']>;

/** A CheckRequest for a connection: its peers (the caller's SPIFFE principal), now, and the HTTP request if there is one. */
export function checkRequestFor(conn: DownstreamConnection, http: HttpAttributes | null): CheckRequest {
  const now = Date.now();
  return {
    attributes: {
      source: { address: { socketAddress: { address: conn.remoteAddress, portValue: conn.remotePort } }, principal: conn.peerUriSans[0] ?? '' },
      destination: { address: { socketAddress: { address: conn.localAddress, portValue: conn.localPort } }, principal: '' },
      request: { time: { seconds: Math.floor(now / 1000), nanos: (now % 1000) * 1e6 }, ...(http !== null ? { http } : {}) },
    },
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

const check = new UnaryMethod<CheckRequest, CheckResponse>(EXT_AUTHZ_PROTO, CHECK_PATH, 'envoy.service.auth.v3.CheckRequest', 'envoy.service.auth.v3.CheckResponse');

/** Calls Check on an endpoint of the provider's service with a deadline (see UnaryMethod.call). */
export function checkOverGrpc(target: GrpcTarget, req: CheckRequest, timeoutMs: number): Promise<CheckResponse> {
  return check.call(target, req, timeoutMs);
}
