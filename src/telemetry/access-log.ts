import cluster from 'node:cluster';
import { createWriteStream, type WriteStream } from 'node:fs';
import { getHeader } from '../proxy/http/headers.js';
import { formatResponseFlags } from '../proxy/http/response-flags.js';
import type { HttpStream } from '../proxy/http/stream.js';
import type { TcpSession } from '../proxy/tcp/tcp-session.js';

/** Where access log lines go: stdout by default, a file, or nowhere. */
export type AccessLogTarget = { kind: 'stdout' } | { kind: 'file'; path: string } | { kind: 'off' };

/** Lines are batched per event-loop turn (or per 64 KiB) instead of one write per request. */
const FLUSH_BYTES = 64 * 1024;
/** Characters per write when worker processes share stdout: ≤ 4096 bytes even if every char takes 2. */
const SHARED_WRITE_CHARS = 2048;

// %START_TIME% in ISO form: the date-time part changes once a second, so it is formatted once
// a second and only the milliseconds are added per line (Date#toISOString per request was a
// measurable share of the hot path).
let isoSecond = -1;
let isoPrefix = '';
export function isoTime(ms: number): string {
  const sec = Math.floor(ms / 1000);
  if (sec !== isoSecond) {
    isoSecond = sec;
    isoPrefix = new Date(sec * 1000).toISOString().slice(0, 20); // 'YYYY-MM-DDTHH:MM:SS.'
  }
  const r = ms - sec * 1000;
  return `${isoPrefix}${r < 10 ? '00' : r < 100 ? '0' : ''}${r}Z`;
}

function dash(v: string | undefined): string {
  return v === undefined || v === '' ? '-' : v;
}

/** %UPSTREAM_TRANSPORT_FAILURE_REASON%: Envoy prints it with spaces as underscores. */
export function transportFailureReason(v: string | undefined): string {
  return v === undefined || v === '' ? '-' : v.includes(' ') ? v.replace(/ /g, '_') : v;
}

function addr(a: string, p: number): string {
  if (a === '') return '-';
  return a.includes(':') ? `[${a}]:${p}` : `${a}:${p}`;
}

/**
 * Istio's default TEXT access log line (meshConfig.accessLogFormat unset):
 * [%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE%
 * %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS%
 * "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION%
 * %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%"
 * "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW%
 * %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS%
 * %REQUESTED_SERVER_NAME% %ROUTE_NAME%
 */
export function formatHttpLine(s: HttpStream): string {
  const c = s.conn;
  const duration = Math.round(performance.now() - s.startMs);
  const path = s.originalPath !== '' ? s.originalPath : s.path;
  return `[${isoTime(s.startWall)}] "${s.method} ${path} ${s.protocol}" ${s.responseCode} ${formatResponseFlags(s.responseFlags)} ${dash(s.details)} ${dash(s.connectionTerminationDetails)} "${transportFailureReason(s.upstreamTransportFailureReason)}" ${s.bytesReceived} ${s.bytesSent} ${duration} ${s.upstreamServiceTimeMs >= 0 ? s.upstreamServiceTimeMs : '-'} "${dash(getHeader(s.headers, 'x-forwarded-for'))}" "${dash(getHeader(s.headers, 'user-agent'))}" "${dash(s.requestId)}" "${dash(s.authority)}" "${dash(s.upstreamHost)}" ${dash(s.clusterName)} ${dash(s.upstreamLocalAddress)} ${addr(c.localAddress, c.localPort)} ${addr(c.remoteAddress, c.remotePort)} ${dash(c.sni)} ${dash(s.route?.name)}\n`;
}

/** The same format for a TCP connection: method/path/protocol are `-`, response code 0. */
export function formatTcpLine(s: TcpSession): string {
  const c = s.conn;
  const duration = Math.round(performance.now() - s.startMs);
  return `[${isoTime(s.startWall)}] "- - -" 0 ${formatResponseFlags(s.responseFlags)} ${dash(s.details)} - "${transportFailureReason(s.upstreamTransportFailureReason)}" ${s.bytesReceived} ${s.bytesSent} ${duration} - "-" "-" "-" "${dash(s.authority)}" "${dash(s.upstreamHost)}" ${dash(s.clusterName)} ${dash(s.upstreamLocalAddress)} ${addr(c.localAddress, c.localPort)} ${addr(c.remoteAddress, c.remotePort)} ${dash(c.sni)} -\n`;
}

/** A connection no filter chain accepted: Envoy's listener access log, flag NR. */
export function formatRefusedLine(socket: { localAddress?: string | undefined; localPort?: number | undefined; remoteAddress?: string | undefined; remotePort?: number | undefined }, sni: string): string {
  const v4 = (a: string | undefined): string => (a ?? '').replace(/^::ffff:/, '');
  return `[${new Date().toISOString()}] "- - -" 0 NR filter_chain_not_found - "-" 0 0 0 - "-" "-" "-" "-" "-" - - ${addr(v4(socket.localAddress), socket.localPort ?? 0)} ${addr(v4(socket.remoteAddress), socket.remotePort ?? 0)} ${dash(sni)} -\n`;
}

export class AccessLog {
  readonly #out: NodeJS.WritableStream | WriteStream | null;
  #buf = '';
  #scheduled = false;
  readonly #shared: boolean;
  readonly #flushBound = (): void => this.flush();

  constructor(target: AccessLogTarget) {
    this.#out = target.kind === 'off' ? null : target.kind === 'stdout' ? process.stdout : createWriteStream(target.path, { flags: 'a' });
    this.#shared = cluster.isWorker && target.kind === 'stdout';
  }

  get enabled(): boolean {
    return this.#out !== null;
  }

  write(line: string): void {
    if (this.#out === null) return;
    this.#buf += line;
    if (this.#buf.length >= FLUSH_BYTES) { this.flush(); return; }
    if (!this.#scheduled) { this.#scheduled = true; setImmediate(this.#flushBound); }
  }

  flush(): void {
    this.#scheduled = false;
    if (this.#buf === '' || this.#out === null) return;
    const b = this.#buf;
    this.#buf = '';
    // A reader that went away (EPIPE): nowhere left to write.
    if ((this.#out as { destroyed?: boolean }).destroyed === true) return;
    if (!this.#shared || b.length <= SHARED_WRITE_CHARS) { this.#out.write(b); return; }
    // Worker processes share stdout: a pipe write of at most PIPE_BUF (4096) bytes is never
    // interleaved with another process's, so lines go out in whole-line pieces below that.
    let from = 0;
    while (from < b.length) {
      let to = Math.min(b.length, from + SHARED_WRITE_CHARS);
      if (to < b.length) {
        const nl = b.lastIndexOf('\n', to - 1);
        if (nl >= from) to = nl + 1;
      }
      this.#out.write(b.slice(from, to));
      from = to;
    }
  }

  /** Flushes and waits until the bytes left the process (shutdown: no line is lost). */
  close(): Promise<void> {
    this.flush();
    const out = this.#out;
    return new Promise((resolve) => {
      if (out === null || (out as { destroyed?: boolean }).destroyed === true) { resolve(); return; }
      if (out === process.stdout) { out.write('', () => resolve()); return; }
      (out as WriteStream).end(() => resolve());
    });
  }
}
