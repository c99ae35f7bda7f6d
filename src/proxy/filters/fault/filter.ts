import { continueFilters } from '../../http/connection-manager.js';
import { FilterStatus, type HttpFilter } from '../../http/filter.js';
import { sendLocalReply } from '../../http/local-reply.js';
import { ResponseFlag } from '../../http/response-flags.js';
import type { HttpStream } from '../../http/stream.js';

/** Millionths: a draw in [0, 1e6) against the configured fraction. */
function hit(perMillion: number): boolean {
  return perMillion >= 1_000_000 || (perMillion > 0 && Math.random() * 1_000_000 < perMillion);
}

function onDelayed(s: HttpStream): void {
  if (s.completed) return;
  abortOrContinue(s);
}

function abortOrContinue(s: HttpStream): void {
  const f = s.route!.filters.fault!;
  if (f.abortPerMillion > 0 && hit(f.abortPerMillion)) {
    if (f.abortGrpcStatus !== null) {
      sendLocalReply(s, 200, '', ResponseFlag.FI, 'fault_filter_abort', ['content-type', 'application/grpc', 'grpc-status', String(f.abortGrpcStatus), 'grpc-message', 'fault filter abort']);
    } else {
      sendLocalReply(s, f.abortStatus, 'fault filter abort', ResponseFlag.FI, 'fault_filter_abort');
    }
    return;
  }
  continueFilters(s);
}

/**
 * Envoy's fault filter as Istio configures it from `fault`: an optional delay (flag DI), then
 * an optional abort (flag FI, body `fault filter abort`), each with its own percentage.
 */
export const faultFilter: HttpFilter = {
  name: 'envoy.filters.http.fault',
  onRequest(s) {
    const f = s.route === null ? null : s.route.filters.fault;
    if (f === null) return FilterStatus.Continue;
    if (f.delayPerMillion > 0 && f.delayMs > 0 && hit(f.delayPerMillion)) {
      s.setFlag(ResponseFlag.DI);
      setTimeout(onDelayed, f.delayMs, s);
      return FilterStatus.Stop;
    }
    if (f.abortPerMillion === 0) return FilterStatus.Continue;
    abortOrContinue(s);
    return FilterStatus.Stop;
  },
  explain(s) {
    const f = s.route === null ? null : s.route.filters.fault;
    if (f === null) return { verdict: 'skip', summary: s.route === null ? 'no route' : 'no fault on this route' };
    const pct = (pm: number): string => `${pm / 10_000}%`;
    const steps: string[] = [];
    if (f.delayPerMillion > 0 && f.delayMs > 0) steps.push(`delay ${f.delayMs} ms for ${pct(f.delayPerMillion)} of requests (flag DI)`);
    if (f.abortPerMillion > 0) steps.push(`abort with ${f.abortGrpcStatus !== null ? `grpc-status ${f.abortGrpcStatus}` : f.abortStatus} for ${pct(f.abortPerMillion)} of requests (flag FI)`);
    if (f.abortPerMillion >= 1_000_000) {
      return f.abortGrpcStatus !== null
        ? { verdict: 'reply', summary: `every request is aborted with grpc-status ${f.abortGrpcStatus}`, status: 200, responseFlag: 'FI', details: 'fault_filter_abort', headers: [['content-type', 'application/grpc'], ['grpc-status', String(f.abortGrpcStatus)], ['grpc-message', 'fault filter abort']], steps, fix: 'lower fault.abort.percentage on this route' }
        : { verdict: 'reply', summary: `every request is aborted with ${f.abortStatus}`, status: f.abortStatus, body: 'fault filter abort', responseFlag: 'FI', details: 'fault_filter_abort', steps, fix: 'lower fault.abort.percentage on this route' };
    }
    return { verdict: 'continue', summary: steps.length > 0 ? `passes most requests: ${steps.join('; ')}` : 'fault configured with 0% (no effect)', steps };
  },
};
