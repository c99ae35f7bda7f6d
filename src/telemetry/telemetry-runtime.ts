// The data-plane side of the Telemetry API: access logs the Telemetry config asks for
// (providers, filters, formats, files) and the request's span. The runtime calls it only when
// the snapshot has a Telemetry config; everything here lives across reloads (files stay open,
// exporters keep their queues), keyed by what the config names.

import type { AccessLogConfig, TelemetryConfig } from '../compile/telemetry/types.js';
import { STDOUT_PATH } from '../compile/telemetry/access-logging.js';
import type { HttpStream } from '../proxy/http/stream.js';
import type { TcpSession } from '../proxy/tcp/tcp-session.js';
import type { DnsResolver } from '../proxy/upstream/dns.js';
import { AccessLog, formatHttpLine, formatTcpLine } from './access-log.js';
import { Attributes } from './cel/attributes.js';
import { spanKind, telemetryMode } from './mode.js';
import { Tracer } from './tracing/tracer.js';

export class TelemetryRuntime {
  /** The `--access-log` target: where `/dev/stdout` lines go. */
  readonly #stdout: AccessLog;
  readonly #files = new Map<string, AccessLog>();
  readonly tracer: Tracer;

  constructor(stdout: AccessLog, dns: DnsResolver) {
    this.#stdout = stdout;
    this.tracer = new Tracer(dns);
  }

  /** Opens the files and starts the exporters a new snapshot names, before it serves. */
  apply(t: TelemetryConfig | null | undefined): void {
    if (t == null) return;
    for (const m of [t.client, t.server]) {
      for (const l of m.accessLogs ?? []) this.#sink(l.path);
      if (m.tracing !== null) this.tracer.exporter(m.tracing.provider);
    }
  }

  #sink(path: string): AccessLog {
    if (path === STDOUT_PATH) return this.#stdout;
    let f = this.#files.get(path);
    if (f === undefined) this.#files.set(path, (f = new AccessLog({ kind: 'file', path })));
    return f;
  }

  /**
   * A finished HTTP request: ends its span, writes the access logs the config names. Returns
   * false when this mode's access log is Sluice's default (the caller writes it).
   */
  onHttpComplete(s: HttpStream, t: TelemetryConfig): boolean {
    const m = telemetryMode(t, s.conn);
    if (s.span !== null && m.tracing !== null) this.tracer.finish(s, m.tracing, spanKind(s.conn));
    const logs = m.accessLogs;
    if (logs === null) return false;
    let attrs: Attributes | null = null;
    for (let i = 0; i < logs.length; i++) {
      const l = logs[i]!;
      if (l.filterProgram !== null) {
        attrs ??= new Attributes(s);
        if (l.filterProgram.evaluate(attrs) !== true) continue;
      }
      const out = this.#sink(l.path);
      if (out.enabled) out.write(l.formatter === null ? formatHttpLine(s) : l.formatter.http(s));
    }
    return true;
  }

  /** A closed TCP connection: the TCP line of each access log whose filter passes. */
  onTcpComplete(s: TcpSession, t: TelemetryConfig): boolean {
    const logs = telemetryMode(t, s.conn).accessLogs;
    if (logs === null) return false;
    let attrs: Attributes | null = null;
    for (let i = 0; i < logs.length; i++) {
      const l: AccessLogConfig = logs[i]!;
      if (l.filterProgram !== null) {
        attrs ??= new Attributes(s);
        if (l.filterProgram.evaluate(attrs) !== true) continue;
      }
      const out = this.#sink(l.path);
      if (out.enabled) out.write(l.formatter === null ? formatTcpLine(s) : l.formatter.tcp(s));
    }
    return true;
  }

  /** No access log at all in this mode (a Telemetry disabled it): the listener log stays quiet too. */
  logsDisabled(t: TelemetryConfig | null | undefined): boolean {
    return t != null && t.client.accessLogs !== null && t.client.accessLogs.length === 0;
  }

  /** Flushes spans and lines, closes files (drain). */
  async close(): Promise<void> {
    await this.tracer.close();
    await Promise.all([...this.#files.values()].map((f) => f.close()));
  }
}
