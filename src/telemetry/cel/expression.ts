// CEL expressions of Telemetry resources, compiled once per snapshot against a typed
// environment of Envoy's attributes. Type checking at compile time catches what Envoy would
// only find per request (`response.cod`, `response.code >= "4"`): the caller reports it.

import type { Environment } from '@marcbachmann/cel-js';
import { celModule } from '../../util/lazy-module.js';
import {
  Attributes, AuthAttributes, ConnectionAttributes, PeerAttributes, RequestAttributes, ResponseAttributes, UpstreamAttributes, XdsAttributes,
} from './attributes.js';

// Built on the first expression: the CEL module is loaded only when a config has one.
let env: Environment | null = null;
const celEnvironment = (): Environment => (env ??= new (celModule().Environment)({ unlistedVariablesAreDyn: false, homogeneousAggregateLiterals: false })
  .registerType('envoy.RequestAuth', { ctor: AuthAttributes, fields: { principal: 'string', claims: 'map<string, dyn>', audiences: 'list<string>', presenter: 'string' } })
  .registerType('envoy.Request', {
    ctor: RequestAttributes,
    fields: {
      path: 'string', url_path: 'string', host: 'string', scheme: 'string', method: 'string', headers: 'map<string, string>',
      referer: 'string', useragent: 'string', time: 'google.protobuf.Timestamp', id: 'string', protocol: 'string',
      duration: 'google.protobuf.Duration', size: 'int', total_size: 'int', query: 'string', auth: 'envoy.RequestAuth',
    },
  })
  .registerType('envoy.Response', { ctor: ResponseAttributes, fields: { code: 'int', code_details: 'string', flags: 'int', size: 'int', total_size: 'int', grpc_status: 'int' } })
  .registerType('envoy.Peer', { ctor: PeerAttributes, fields: { address: 'string', port: 'int' } })
  .registerType('envoy.Connection', {
    ctor: ConnectionAttributes,
    fields: {
      mtls: 'bool', requested_server_name: 'string', tls_version: 'string', subject_peer_certificate: 'string', uri_san_peer_certificate: 'string',
      dns_san_peer_certificate: 'string', sha256_peer_certificate_digest: 'string', termination_details: 'string',
    },
  })
  .registerType('envoy.Upstream', { ctor: UpstreamAttributes, fields: { address: 'string', port: 'int', local_address: 'string', transport_failure_reason: 'string' } })
  .registerType('envoy.Xds', { ctor: XdsAttributes, fields: { cluster_name: 'string', route_name: 'string', listener_direction: 'int', filter_chain_name: 'string' } })
  .registerVariable('request', 'envoy.Request')
  .registerVariable('response', 'envoy.Response')
  .registerVariable('connection', 'envoy.Connection')
  .registerVariable('source', 'envoy.Peer')
  .registerVariable('destination', 'envoy.Peer')
  .registerVariable('upstream', 'envoy.Upstream')
  .registerVariable('xds', 'envoy.Xds'));

/** A compiled expression. `evaluate` never throws: an evaluation error is returned as `ERROR`. */
export interface CelProgram {
  readonly expression: string;
  /** The expression's static type (`bool`, `int`, `string`, `dyn`, ...). */
  readonly type: string;
  evaluate(a: Attributes): unknown;
}

/** What evaluate returns when the expression fails for this request (absent attribute, bad index, ...). */
export const ERROR: unique symbol = Symbol('cel-error');

export type CelCompileResult = { ok: true; program: CelProgram } | { ok: false; error: string };

/** Parses and type-checks `expression` over Envoy's attributes. */
export function compileCel(expression: string): CelCompileResult {
  let parsed: ReturnType<Environment['parse']>;
  try {
    parsed = celEnvironment().parse(expression);
  } catch (e) {
    return { ok: false, error: firstLine(e) };
  }
  const check = parsed.check();
  if (!check.valid) return { ok: false, error: firstLine(check.error) };
  const fn = parsed;
  const program: CelProgram = Object.freeze({
    expression,
    type: check.type ?? 'dyn',
    evaluate(a: Attributes): unknown {
      // User expressions are a trust boundary: any failure is "no value" for this request.
      try {
        return fn(a);
      } catch {
        return ERROR;
      }
    },
  });
  return { ok: true, program };
}

function firstLine(e: unknown): string {
  return String((e as Error | undefined)?.message ?? e).split('\n')[0]!;
}

/** A CEL value as a metric label or span tag (Istio's stats plugin formatting). */
export function celValueToString(v: unknown): string | null {
  switch (typeof v) {
    case 'string': return v;
    case 'bigint': return v.toString();
    case 'number': return Number.isInteger(v) ? String(v) : String(v);
    case 'boolean': return v ? 'true' : 'false';
    case 'object':
      if (v === null) return null;
      if (v instanceof Date) return v.toISOString();
      return null;
    default: return null;
  }
}
