import type { TelemetryConfig, TelemetryModeConfig } from '../compile/telemetry/types.js';
import type { DownstreamConnection } from '../proxy/http/stream.js';

/** Name of the sidecar's inbound listener (compile/sidecar-inbound.ts): its traffic is SERVER. */
const INBOUND_LISTENER = 'virtualInbound';

/** The Telemetry mode of a connection: a sidecar's inbound side is SERVER, gateways and outbound CLIENT. */
export function telemetryMode(t: TelemetryConfig, conn: DownstreamConnection): TelemetryModeConfig {
  return conn.listener.name === INBOUND_LISTENER ? t.server : t.client;
}

/** Span kind of a connection's requests: SERVER on a sidecar's inbound side, else CLIENT (Envoy's egress). */
export function spanKind(conn: DownstreamConnection): 'CLIENT' | 'SERVER' {
  return conn.listener.name === INBOUND_LISTENER ? 'SERVER' : 'CLIENT';
}
