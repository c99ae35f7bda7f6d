// Operational log on stderr (stdout carries the access log): one line per event,
// `time level component: message`. Debug lines cost one comparison when disabled.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

let threshold = ORDER.info;

export function setLogLevel(level: LogLevel): void {
  threshold = ORDER[level];
}

export function isLogEnabled(level: LogLevel): boolean {
  return ORDER[level] >= threshold;
}

export function log(level: LogLevel, component: string, message: string): void {
  if (ORDER[level] < threshold) return;
  process.stderr.write(`${new Date().toISOString()} ${level} ${component}: ${message}\n`);
}
