import type { JwtAuthnConfig } from '../proxy/filters/jwt-authn/config.js';
import type { RateLimitPolicies } from '../proxy/filters/ratelimit/slots.js';
import type { RbacConfig } from '../proxy/filters/rbac/config.js';

// Per-route and per-listener filter configuration. Each field is null when the feature is off,
// so a request pays one null check per absent filter. The connection manager runs them in
// Istio's HTTP filter order: jwt → ext_authz → rbac → local rate limit → cors → fault → router.

export interface FaultConfig {
  /** Delay in ms and its probability in millionths; 0 = no delay. */
  readonly delayMs: number;
  readonly delayPerMillion: number;
  /** HTTP status to abort with (0 = none), probability in millionths. */
  readonly abortStatus: number;
  readonly abortGrpcStatus: number | null;
  readonly abortPerMillion: number;
}

export interface CorsConfig {
  readonly allowOrigins: readonly { readonly describe: string; readonly test: (origin: string) => boolean }[];
  readonly allowMethods: string;
  readonly allowHeaders: string;
  readonly exposeHeaders: string;
  readonly maxAge: string;
  readonly allowCredentials: boolean;
  /** FORWARD: a preflight whose origin does not match goes upstream; IGNORE: answered empty. */
  readonly forwardUnmatchedPreflights: boolean;
}

export interface HttpFilterConfigs {
  readonly fault: FaultConfig | null;
  readonly cors: CorsConfig | null;
}

export const NO_ROUTE_FILTERS: HttpFilterConfigs = Object.freeze({ fault: null, cors: null });

/** Workload-level policies attached to a filter chain (JWT, authorization, rate limits, ...). */
export interface ListenerPolicies {
  readonly idleTimeoutMs: number;
  readonly maxConnectionDurationMs: number;
  /** RequestAuthentication (jwt_authn); null = none applies. */
  readonly jwt: JwtAuthnConfig | null;
  /** AuthorizationPolicy for HTTP chains (ext_authz CUSTOM + RBAC); null = none applies. */
  readonly rbac: RbacConfig | null;
  /** AuthorizationPolicy for TCP / TLS passthrough chains (network RBAC). */
  readonly networkRbac: RbacConfig | null;
  /** local_ratelimit / ratelimit filters inserted by EnvoyFilters. */
  readonly rateLimits: RateLimitPolicies | null;
}

export const DEFAULT_LISTENER_POLICIES: ListenerPolicies = Object.freeze({
  // Envoy/Istio defaults: downstream HTTP idle 1 h, no max connection duration.
  idleTimeoutMs: 3_600_000,
  maxConnectionDurationMs: 0,
  jwt: null,
  rbac: null,
  networkRbac: null,
  rateLimits: null,
});
