// What `sluice trace` reports: the request as given, every decision the data plane takes for
// it (each a step with its source position), and the outcome. Plain data: `-o json` prints it,
// `sluice test` compares it, /debug/trace serves it.

export type TraceScheme = 'http' | 'https' | 'tls' | 'tcp';

/** The request to trace, as a client would send it. */
export interface TraceRequest {
  readonly method: string;
  readonly scheme: TraceScheme;
  /** Host as in the URL (no port). */
  readonly host: string;
  /** Gateway (Service) port the connection arrives on: the URL's port, else 80/443. */
  readonly port: number;
  /** Path with query. */
  readonly path: string;
  /** Host / :authority header value (default: the URL's host, with its port when one was written). */
  readonly authority: string;
  /** Request headers in order (names as written). */
  readonly headers: readonly (readonly [string, string])[];
  /** TLS server name (default: the host, for https/tls). */
  readonly sni: string;
  /** Client address (x-forwarded-for, authorization `remote.ip`). */
  readonly sourceIp: string;
  /** PEM of the client certificate presented in the TLS handshake, if any. */
  readonly clientCertPem: string | null;
  readonly http2: boolean;
  /** Weighted destinations are chosen with this draw in [0, 1) (default 0: the first with weight). */
  readonly draw: number;
  /** The request carries a body (content-length > 0). */
  readonly hasBody: boolean;
}

/** Where a decision came from in the user's YAML. */
export interface TraceSource {
  /** `Kind namespace/name`. */
  readonly resource: string;
  readonly file: string;
  readonly line: number;
  readonly col: number;
  /** Field path inside the resource, e.g. `spec.http[2].match[0]`. */
  readonly path?: string;
}

export type StepStage =
  | 'listener' | 'filter_chain' | 'tls' | 'request' | 'virtual_host' | 'route' | 'filter'
  | 'action' | 'destination' | 'cluster' | 'endpoint' | 'tls_origination' | 'upstream_request';

export type StepResult = 'match' | 'no_match' | 'skipped' | 'ok' | 'fail' | 'info';

export interface TraceStep {
  readonly stage: StepStage;
  readonly result: StepResult;
  /** One line: what was decided and why. */
  readonly text: string;
  readonly source?: TraceSource;
  /** Further lines (conditions, headers, endpoints). */
  readonly detail?: readonly string[];
}

export interface TraceDestination {
  readonly cluster: string;
  readonly host: string;
  readonly subset: string;
  readonly port: number;
  readonly weight: number;
  /** Share of traffic in percent (weight / total). */
  readonly percent: number;
}

export interface TraceUpstream {
  readonly cluster: string;
  readonly host: string;
  readonly subset: string;
  readonly port: number;
  /** Every destination of the route with its share; the chosen one is `cluster`. */
  readonly destinations: readonly TraceDestination[];
  /** Path and authority as sent upstream (after rewrites). */
  readonly path: string;
  readonly authority: string;
  /** Request headers as sent upstream, in order. */
  readonly headers: readonly (readonly [string, string])[];
  /** The HTTP/1.1 request head exactly as written upstream (HTTP only). */
  readonly head: string | null;
  /** `address:port` of the endpoint the load balancer picks, when that is decided by the request; else null. */
  readonly endpoint: string | null;
  readonly endpoints: readonly string[];
  readonly loadBalancer: string;
  readonly tls: { readonly mode: string; readonly sni: string; readonly subjectAltNames: readonly string[] } | null;
  readonly timeoutMs: number;
  readonly mirrors: readonly string[];
}

export interface TraceFilter {
  readonly name: string;
  readonly verdict: 'skip' | 'continue' | 'reply' | 'unknown' | 'not_configured';
  readonly summary: string;
  readonly decidedBy?: TraceSource | { readonly resource: string; readonly rule?: string };
}

export interface TraceOutcome {
  /** `upstream`: forwarded; `local_reply`: the proxy answers itself; `closed`: the connection is refused or reset. */
  readonly kind: 'upstream' | 'local_reply' | 'closed';
  /** Local reply status; null when forwarded (the upstream answers) or closed. */
  readonly status: number | null;
  /** Envoy response flags (`NR`, `NC`, `UH`, ...) or `-`. */
  readonly responseFlags: string;
  /** %RESPONSE_CODE_DETAILS% (`route_not_found`, `direct_response`, ...) or the reason a connection closes. */
  readonly details: string;
  /** Headers and body of a local reply. */
  readonly headers: readonly (readonly [string, string])[];
  readonly body: string;
  /** What to add or change when the outcome is an error. */
  readonly fix: string | null;
  /** The access-log line this request would produce (local replies only). */
  readonly accessLog: string | null;
}

export interface Trace {
  readonly request: TraceRequest;
  readonly workload: { readonly mode: string; readonly labels: Readonly<Record<string, string>>; readonly namespace: string };
  readonly configVersion: number;
  readonly listener: string | null;
  readonly filterChain: string | null;
  readonly routeConfig: string | null;
  readonly virtualHost: string | null;
  readonly route: { readonly name: string; readonly index: number; readonly source: TraceSource } | null;
  /** L4 (tcp/tls) route name, for passthrough and TCP chains. */
  readonly l4Route: { readonly name: string; readonly source: TraceSource } | null;
  readonly filters: readonly TraceFilter[];
  readonly upstream: TraceUpstream | null;
  readonly outcome: TraceOutcome;
  readonly steps: readonly TraceStep[];
}
