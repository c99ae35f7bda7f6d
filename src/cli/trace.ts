import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { hasErrors } from '../config/diagnostic.js';
import { formatTrace } from '../trace/format.js';
import { buildOffline, chooseWorkload, UsageError } from '../trace/offline.js';
import { parseTraceRequest, TraceRequestError, type TraceRequestOptions } from '../trace/request.js';
import { traceRequestAsync } from '../trace/trace.js';
import type { Trace } from '../trace/types.js';
import { collect } from './flags.js';
import type { SourceFlags } from './proxy-config.js';

interface TraceFlags extends SourceFlags {
  header?: string[];
  sni?: string;
  clientCert?: string;
  sourceIp?: string;
  jwt?: string;
  draw?: string;
  http2?: boolean;
  data?: boolean;
  jwksFetch?: boolean;
  placeholderCredentials?: boolean;
  appPort?: string;
  inboundPort?: string;
  outboundPort?: string;
  output: string;
}

const METHODS = /^(GET|HEAD|POST|PUT|DELETE|PATCH|OPTIONS|CONNECT|TRACE|[A-Z]+)$/;

export function registerTrace(program: Command): void {
  program
    .command('trace')
    .description('explain how the gateway routes one request: listener, chain, virtual host, each route tried, filters, cluster, endpoint, upstream request')
    .argument('<method>', 'HTTP method (or the URL, for GET)')
    .argument('[url]', 'http://, https://, tls:// (passthrough by SNI) or tcp:// URL; the port is the Gateway port')
    .option('-c, --config <path>', 'YAML file or folder (repeatable)', collect)
    .option('--gateway <k=v,...>', 'trace through the gateway with these labels', undefined)
    .option('--sidecar <ns/sa>', 'trace through a sidecar of this namespace/service account')
    .option('--labels <k=v,...>', "workload labels (as `sluice run --labels`)")
    .option('--app-port <port>', 'with --sidecar: the application port (as `sluice run --app-port`); a URL on the inbound port (--inbound-port, default 15006) is then traced through the inbound side')
    .option('--inbound-port <port>', 'with --sidecar: as `sluice run --inbound-port` (default 15006)')
    .option('--outbound-port <port>', 'with --sidecar: as `sluice run --outbound-port` (default 15001)')
    .option('--namespace <ns>', "the workload's namespace (gateway default istio-system)")
    .option('--mesh <file>', 'Istio MeshConfig YAML')
    .option('--credentials <dir>', 'TLS credentials folder, as `sluice run --credentials`')
    .option('--placeholder-credentials', 'mint a throw-away certificate for every credentialName (secrets need not be in the repository)')
    .option('-H, --header <name:value>', 'request header (repeatable)', collect)
    .option('--sni <name>', 'TLS server name (default: the URL host)')
    .option('--client-cert <file>', 'PEM client certificate presented in the TLS handshake')
    .option('--source-ip <ip>', 'client address', '127.0.0.1')
    .option('--jwt <token>', 'send `authorization: Bearer <token>`; the trace verifies it as the gateway would')
    .option('--no-jwks-fetch', 'do not fetch remote JWKS to verify --jwt (offline; the JWT verdict is then unknown)')
    .option('--draw <0..1>', 'random draw for weighted destinations (default 0: the first)')
    .option('--http2', 'the request arrives over HTTP/2')
    .option('--data', 'the request has a body')
    .option('--admin <host:port>', "ask a running gateway's admin API (/debug/trace) instead of compiling -c")
    .option('-o, --output <format>', 'text | json', 'text')
    .action(async (first: string, second: string | undefined, flags: TraceFlags) => {
      process.exitCode = await traceCommand(first, second, flags);
    });
}

/** Exit code: 0 forwarded or a non-error reply, 1 a 4xx/5xx reply or a closed connection, 2 usage. */
export function traceExitCode(t: Trace): number {
  if (t.outcome.kind === 'upstream') return 0;
  if (t.outcome.kind === 'local_reply' && t.outcome.status !== null && t.outcome.status < 400) return 0;
  return 1;
}

async function traceCommand(first: string, second: string | undefined, flags: TraceFlags): Promise<number> {
  let method = 'GET';
  let url = first;
  if (second !== undefined) {
    if (!METHODS.test(first.toUpperCase())) { process.stderr.write(`sluice trace: ${first} is not an HTTP method\n`); return 2; }
    method = first;
    url = second;
  }
  if (flags.output !== 'text' && flags.output !== 'json') { process.stderr.write(`sluice trace: -o ${flags.output}: expected text or json\n`); return 2; }
  let opts: TraceRequestOptions;
  try {
    opts = {
      method,
      url,
      headers: flags.header ?? [],
      sourceIp: flags.sourceIp ?? '127.0.0.1',
      clientCertPem: flags.clientCert !== undefined ? readFileSync(flags.clientCert, 'utf8') : null,
      http2: flags.http2 === true,
      hasBody: flags.data === true,
      ...(flags.sni !== undefined ? { sni: flags.sni } : {}),
      ...(flags.jwt !== undefined ? { jwt: flags.jwt } : {}),
      ...(flags.draw !== undefined ? { draw: Number(flags.draw) } : {}),
    };
    parseTraceRequest(opts);
  } catch (e) {
    process.stderr.write(`sluice trace: ${(e as Error).message}\n`);
    return 2;
  }
  if (flags.admin !== undefined) return traceLive(flags.admin, opts, flags.output);
  let trace: Trace;
  try {
    const workload = chooseWorkload(flags);
    const configPaths = flags.config ?? ['./'];
    let credentials = flags.credentials;
    if (credentials === undefined && flags.placeholderCredentials === true) {
      const { placeholderCredentials } = await import('../trace/routing-tests.js');
      credentials = await placeholderCredentials(configPaths);
    }
    const built = buildOffline({ configPaths, mesh: flags.mesh, credentials, workload });
    if (hasErrors(built.diagnostics)) {
      const n = built.diagnostics.filter((d) => d.level === 'error').length;
      process.stderr.write(`sluice trace: note: the configuration has ${n} error${n === 1 ? '' : 's'} (sluice run would not start; see sluice analyze); tracing the resources that are valid\n`);
    }
    trace = await traceRequestAsync({ snapshot: built.snapshot, store: built.store }, parseTraceRequest(opts), { offline: true, fetchJwks: flags.jwksFetch !== false });
    // Offline, a Secret that lives in the cluster (not in the repository) is the usual reason.
    const fix = trace.outcome.fix;
    if (credentials === undefined && fix !== null && fix.includes('--credentials DIR/')) {
      trace = { ...trace, outcome: { ...trace.outcome, fix: `${fix}; or, to trace without the real certificate, add --placeholder-credentials` } };
    }
  } catch (e) {
    if (e instanceof UsageError || e instanceof TraceRequestError) { process.stderr.write(`sluice trace: ${e.message}\n`); return 2; }
    throw e;
  }
  process.stdout.write(flags.output === 'json' ? `${JSON.stringify(trace, null, 2)}\n` : formatTrace(trace));
  return traceExitCode(trace);
}

async function traceLive(admin: string, o: TraceRequestOptions, output: string): Promise<number> {
  const q = new URLSearchParams({ method: o.method, url: o.url, format: 'json', 'source-ip': o.sourceIp ?? '127.0.0.1' });
  for (const h of o.headers ?? []) q.append('header', h);
  if (o.sni !== undefined) q.set('sni', o.sni);
  if (o.jwt !== undefined) q.set('jwt', o.jwt);
  if (o.draw !== undefined) q.set('draw', String(o.draw));
  if (o.http2 === true) q.set('http2', '1');
  if (o.hasBody === true) q.set('data', '1');
  if (o.clientCertPem !== null && o.clientCertPem !== undefined) q.set('client-cert', o.clientCertPem);
  let res: Response;
  try {
    res = await fetch(`http://${admin}/debug/trace?${q}`);
  } catch (e) {
    process.stderr.write(`sluice trace: cannot reach the admin API at ${admin}: ${(e as Error).message}\n`);
    return 2;
  }
  const body = await res.text();
  if (res.status !== 200) { process.stderr.write(`sluice trace: ${admin}/debug/trace answered ${res.status}: ${body}`); return 2; }
  const trace = JSON.parse(body) as Trace;
  process.stdout.write(output === 'json' ? `${JSON.stringify(trace, null, 2)}\n` : formatTrace(trace));
  return traceExitCode(trace);
}
