// Operational log on stderr (stdout carries the access log): one line per event,
// `time level component: message`. Debug lines cost one comparison when disabled.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

let threshold = ORDER.info;

export function setLogLevel(level: LogLevel): void {
  threshold = ORDER[level];
}

/**
 * A reader that goes away (`sluice run | head`, a closed terminal) must not take the process
 * down or make every later write fail again: EPIPE on stdout or stderr ends writing there,
 * serving goes on.
 */
export function tolerateClosedStdio(): void {
  for (const s of [process.stdout, process.stderr]) {
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE' && e.code !== 'ERR_STREAM_DESTROYED') throw e;
      s.destroy();
    });
  }
}

export function isLogEnabled(level: LogLevel): boolean {
  return ORDER[level] >= threshold;
}

export function log(level: LogLevel, component: string, message: string): void {
  if (ORDER[level] < threshold || process.stderr.destroyed) return;
  process.stderr.write(`${new Date().toISOString()} ${level} ${component}: ${message}\n`);
}
