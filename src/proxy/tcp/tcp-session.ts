import type { L4Route } from '../../compile/snapshot.js';
import type { DownstreamConnection } from '../http/stream.js';

/** One proxied TCP connection, for the access log and TCP metrics (response code 0, as Envoy). */
export class TcpSession {
  readonly conn: DownstreamConnection;
  readonly startMs = performance.now();
  readonly startWall = Date.now();
  route: L4Route | null = null;
  clusterName = '';
  upstreamHost = '';
  upstreamLocalAddress = '';
  upstreamTransportFailureReason = '';
  /** CONNECT target (`host:port`) of an explicit-proxy tunnel, '' otherwise. */
  authority = '';
  responseFlags = 0;
  details = '';
  bytesReceived = 0;
  bytesSent = 0;
  completed = false;

  constructor(conn: DownstreamConnection) {
    this.conn = conn;
  }
}
