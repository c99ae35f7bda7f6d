import type { Diagnostic, Level } from '../config/diagnostic.js';
import { formatPath } from '../config/diagnostic.js';
import type { Resource } from '../config/resource.js';
import { resourceRef } from '../config/resource.js';

// The message catalog: every code `sluice analyze` can print, ordered by code, with Istio's
// name and level where Istio has the same check (istio/istio pkg/config/analysis/msg). Codes
// produced elsewhere (config loading SLU00xx, validation SLU01xx, compile SLU02xx) are listed
// so that tools (SARIF) can describe them; analyzers use SLU03xx. Retired codes stay as
// comments so no number is ever reused.

export interface MessageType {
  readonly code: string;
  readonly name: string;
  readonly level: Level;
  readonly description: string;
}

function m(code: string, name: string, level: Level, description: string): MessageType {
  return Object.freeze({ code, name, level, description });
}

export const CATALOG: readonly MessageType[] = Object.freeze([
  m('IST0101', 'ReferencedResourceNotFound', 'error', 'A resource being referenced does not exist.'),
  // IST0104 RETIRED (GatewayPortNotOnWorkload; IST0162 covers it)
  m('IST0106', 'SchemaValidationError', 'error', 'The resource has a schema validation error.'),
  m('IST0108', 'UnknownAnnotation', 'warning', 'An Istio annotation is not recognized for any kind of resource.'),
  m('IST0109', 'ConflictingMeshGatewayVirtualServiceHosts', 'error', 'Conflicting hosts on VirtualServices associated with the mesh gateway.'),
  m('IST0112', 'VirtualServiceDestinationPortSelectorRequired', 'error', 'A VirtualService routes to a service with more than one port exposed, but does not specify which to use.'),
  m('IST0122', 'InvalidRegexp', 'error', 'A regular expression is not valid RE2 (Sluice refuses the resource, as Envoy would refuse the route).'),
  m('IST0127', 'NoMatchingWorkloadsFound', 'warning', 'A policy selector matches no workload in its namespace.'),
  m('IST0128', 'NoServerCertificateVerificationDestinationLevel', 'warning', 'No caCertificates are set in a DestinationRule with TLS mode SIMPLE/MUTUAL.'),
  m('IST0129', 'NoServerCertificateVerificationPortLevel', 'warning', 'No caCertificates are set in a DestinationRule port-level TLS with mode SIMPLE/MUTUAL.'),
  m('IST0130', 'VirtualServiceUnreachableRule', 'warning', 'A VirtualService rule will never be used because a previous rule uses the same match.'),
  m('IST0131', 'VirtualServiceIneffectiveMatch', 'info', 'A VirtualService rule match duplicates a match in a previous rule.'),
  m('IST0132', 'VirtualServiceHostNotFoundInGateway', 'warning', 'A host defined in a VirtualService is not found in a Gateway it binds to.'),
  m('IST0134', 'ServiceEntryAddressesRequired', 'warning', 'Virtual IP addresses are required for ports serving TCP (or unset) protocol.'),
  m('IST0138', 'GatewayDuplicateCertificate', 'warning', 'Duplicate certificate in multiple gateways may cause 404s if clients re-use HTTP/2 connections.'),
  m('IST0145', 'ConflictingGateways', 'error', 'Gateways with the same selector serve the same port and an overlapping host.'),
  m('IST0149', 'JwtClaimBasedRoutingWithoutRequestAuthN', 'error', 'A VirtualService routes on JWT claims but no RequestAuthentication applies to the gateway.'),
  m('IST0151', 'EnvoyFilterUsesRelativeOperation', 'warning', 'An EnvoyFilter without priority uses a relative patch operation.'),
  m('IST0152', 'EnvoyFilterUsesReplaceOperationIncorrectly', 'error', 'The REPLACE operation is only valid for HTTP_FILTER and NETWORK_FILTER.'),
  m('IST0153', 'EnvoyFilterUsesAddOperationIncorrectly', 'error', 'The ADD operation is ignored when applyTo is ROUTE_CONFIGURATION or HTTP_ROUTE.'),
  m('IST0154', 'EnvoyFilterUsesRemoveOperationIncorrectly', 'error', 'The REMOVE operation is ignored when applyTo is ROUTE_CONFIGURATION or HTTP_ROUTE.'),
  m('IST0157', 'InvalidTelemetryProvider', 'warning', 'A Telemetry with empty providers is ignored.'),
  m('IST0159', 'ConflictingTelemetryWorkloadSelectors', 'error', 'Telemetry resources select the same workload.'),
  m('IST0160', 'MultipleTelemetriesWithoutWorkloadSelectors', 'error', 'More than one Telemetry in a namespace has no workload selector.'),
  m('IST0161', 'InvalidGatewayCredential', 'error', 'The credential a Gateway references is missing or invalid; the server is not served.'),
  m('IST0162', 'GatewayPortNotDefinedOnService', 'warning', 'A Gateway port is not exposed by the Service of its workload.'),
  m('IST0173', 'DestinationRuleSubsetNotSelectPods', 'warning', 'A DestinationRule subset selects no endpoint: requests to it get 503 UH.'),

  m('SLU0001', 'ConfigPathUnreadable', 'error', 'A config path does not exist or cannot be read.'),
  m('SLU0002', 'YamlSyntaxError', 'error', 'A config file is not valid YAML.'),
  m('SLU0003', 'NotAKubernetesObject', 'error', 'A YAML document lacks apiVersion, kind or metadata.name.'),
  m('SLU0004', 'DuplicateResource', 'error', 'The same resource is defined twice; the first definition is used.'),
  m('SLU0005', 'LastGoodVersionServing', 'warning', 'An invalid edit: the last valid version keeps serving.'),
  m('SLU0006', 'MeshConfigUnreadable', 'error', 'The --mesh file cannot be read.'),
  m('SLU0010', 'UnknownKind', 'warning', 'A kind Sluice does not use; the document is ignored.'),
  m('SLU0011', 'EnvoyFilterApiVersion', 'warning', 'Istio serves EnvoyFilter only as networking.istio.io/v1alpha3.'),
  m('SLU0012', 'MeshConfigIsNotAKind', 'warning', 'MeshConfig is not a Kubernetes kind (the seed\'s mistake (b)).'),
  m('SLU0100', 'WebhookWarning', 'warning', 'Accepted by Istio, but likely not what was meant.'),
  m('SLU0101', 'Note', 'info', 'A note; no action needed.'),
  m('SLU0102', 'UnknownFieldIgnored', 'warning', 'Unknown field in a permissive section; ignored.'),
  m('SLU0103', 'DeprecatedField', 'warning', 'A deprecated field.'),
  m('SLU0104', 'NoEffect', 'warning', 'Accepted as written but has no effect.'),
  m('SLU0110', 'PassthroughIgnoresCertificates', 'warning', 'A TLS passthrough server (explicit, or implied by a tls block without mode) ignores certificates.'),
  m('SLU0111', 'CredentialNameWithFiles', 'warning', 'credentialName plus file fields: the files are ignored (the seed\'s mistake (c)).'),
  m('SLU0112', 'PlainHttpTlsIgnored', 'warning', 'A plain HTTP server ignores tls fields other than httpsRedirect.'),
  m('SLU0113', 'UnusableTlsParameters', 'error', 'TLS parameters Envoy cannot use.'),
  m('SLU0120', 'UnsupportedAtGateway', 'warning', 'Accepted by Istio, but a gateway does nothing with it.'),
  m('SLU0130', 'InvalidCelExpression', 'error', 'A CEL expression does not parse.'),
  m('SLU0201', 'PortProtocolConflict', 'warning', 'A port already serves another protocol class; this server is dropped.'),
  m('SLU0202', 'AutoPassthroughUnsupported', 'warning', 'AUTO_PASSTHROUGH is not supported; the server is not served.'),
  m('SLU0203', 'MeshCertificateUnavailable', 'warning', 'ISTIO_MUTUAL without a mesh CA; the server is not served.'),
  m('SLU0204', 'DuplicatePassthroughSni', 'warning', 'A tls match repeats an SNI already served on the port; that match is skipped.'),
  m('SLU0206', 'CaCertificatesIgnored', 'info', 'caCertificates is ignored because credentialName is set.'),
  m('SLU0207', 'TlsVersionRange', 'warning', 'minProtocolVersion is above maxProtocolVersion.'),
  m('SLU0208', 'L4MatchFieldIgnored', 'info', 'A tls/tcp match field a gateway does not apply.'),
  m('SLU0209', 'HttpRoutesOnPassthrough', 'warning', 'A passthrough server has only http routes: they never match and connections are closed.'),
  m('SLU0210', 'TlsOriginationMaterialUnusable', 'warning', 'TLS origination material cannot be used: requests get 503 UF.'),

  m('SLU0301', 'ShadowedRoute', 'warning', 'A route can never match: an earlier route of the same virtual host (possibly from another VirtualService) matches every request it would.'),
  m('SLU0302', 'UnreachableDestination', 'warning', 'A weighted destination receives no traffic (weight 0, or no weight beside other destinations).'),
  m('SLU0303', 'EgressChainMissingGatewayHalf', 'warning', 'Sidecars send a host to an egress gateway, but the gateway half (Gateway server and VirtualService) is missing.'),
  m('SLU0304', 'EgressChainMissingMeshHalf', 'info', 'An egress gateway routes a host, but no mesh rule sends that host to the gateway: sidecars bypass it.'),
  m('SLU0305', 'GatewayHostWithoutVirtualService', 'warning', 'A Gateway server host is bound by no VirtualService: every request for it gets 404 (or the connection is closed).'),
  m('SLU0306', 'DestinationRuleCredentialNotFound', 'warning', 'A DestinationRule credentialName names no Secret: TLS origination fails (503 UF).'),
  m('SLU0307', 'CertificateExpired', 'error', 'A certificate has expired (or is not yet valid).'),
  m('SLU0308', 'CertificateExpiresSoon', 'warning', 'A certificate expires within 30 days.'),
  m('SLU0309', 'DestinationHasNoEndpoints', 'warning', 'A destination host is known but resolves to no endpoint: requests get 503 UH.'),
  m('SLU0310', 'EnvoyFilterPatchNotApplied', 'warning', 'An EnvoyFilter patch that Sluice does not apply.'),
  m('SLU0311', 'RuleKindNeverMatches', 'warning', 'VirtualService http rules bound only to passthrough/TCP servers (or tls rules only to HTTP servers) never match.'),
  m('SLU0312', 'VirtualServiceNotBoundToGateway', 'warning', 'A VirtualService without `gateways` (mesh only) names a host a Gateway serves: it never applies at that gateway.'),

  m('SLU0501', 'PolicySelectorInWrongNamespace', 'warning', 'A policy selector matches workloads only in namespaces the policy cannot reach (a selector applies in the policy\'s own namespace, or from the root namespace).'),
  m('SLU0502', 'UnsupportedConditionKey', 'warning', 'An AuthorizationPolicy condition key Sluice cannot evaluate: a DENY rule matches everything, another rule never matches.'),
  m('SLU0503', 'CustomPolicyOnTcpPort', 'info', 'A CUSTOM policy with an HTTP provider (envoyExtAuthzHttp) does not apply to a TCP port; a gRPC provider does.'),
  m('SLU0504', 'MultipleCustomProviders', 'warning', 'Only one CUSTOM provider per workload: the other provider\'s rules deny.'),
  m('SLU0505', 'ExtensionProviderNotFound', 'warning', 'A CUSTOM provider is not defined (or incomplete) in meshConfig.extensionProviders: matching requests are denied.'),
  m('SLU0506', 'ExtensionProviderKindUnsupported', 'warning', 'A CUSTOM provider is neither envoyExtAuthzHttp nor envoyExtAuthzGrpc: matching requests are denied.'),
  m('SLU0507', 'ExtAuthzBodyNotSent', 'warning', 'includeRequestBodyInCheck has no maxRequestBytes: the check request has no body.'),
  m('SLU0510', 'InlineJwksUnusable', 'warning', 'An inline jwks cannot be used: tokens of that issuer are rejected.'),
  m('SLU0511', 'DuplicateJwtIssuer', 'info', 'Several jwtRules for one issuer apply: a token passes when any accepts it.'),
  m('SLU0520', 'EnvoyFilterApplyToUnsupported', 'warning', 'An EnvoyFilter applyTo Sluice does not apply.'),
  m('SLU0521', 'EnvoyFilterProxyMetadataMismatch', 'info', "match.proxy.metadata does not match the proxy's node metadata: the patch is skipped, as istiod skips it."),
  m('SLU0522', 'EnvoyFilterHttpFilterUnsupported', 'warning', 'An HTTP filter Sluice does not implement: the patch is not applied.'),
  m('SLU0523', 'EnvoyFilterValueInvalid', 'warning', 'A patch value Envoy would reject: the patch is not applied.'),
  m('SLU0524', 'EnvoyFilterAfterRouter', 'warning', 'A filter placed after the router (Envoy NACKs the listener): the patch is not applied.'),
  m('SLU0525', 'EnvoyFilterIstioFilterEdit', 'warning', 'REPLACE/MERGE/REMOVE of a filter Istio generates is not supported.'),
  m('SLU0526', 'EnvoyFilterOperationUnsupported', 'warning', 'An HTTP_FILTER operation Sluice does not apply.'),
  m('SLU0527', 'LocalRateLimitNotEnabled', 'warning', 'filter_enabled is unset (Envoy: 0%): the local rate limit never counts nor limits.'),
  m('SLU0528', 'LocalRateLimitNotEnforced', 'warning', 'filter_enforced is unset (Envoy: 0%): the local rate limit only counts.'),
  m('SLU0529', 'EnvoyFilterNetworkOperationUnsupported', 'warning', 'A NETWORK_FILTER operation other than MERGE into the HTTP connection manager.'),
  m('SLU0530', 'ConnectionManagerFieldsIgnored', 'warning', 'HTTP connection manager fields Sluice does not apply (the rest of the MERGE is applied).'),
  m('SLU0531', 'EnvoyFilterRouteOperationUnsupported', 'warning', 'A VIRTUAL_HOST/HTTP_ROUTE operation other than MERGE.'),
  m('SLU0532', 'RouteFieldsIgnored', 'warning', 'VIRTUAL_HOST/HTTP_ROUTE fields Sluice does not apply (the rest of the MERGE is applied).'),
  m('SLU0533', 'EnvoyFilterOtherContext', 'info', 'A patch for another proxy context (SIDECAR/GATEWAY): skipped here, as in Istio.'),
  m('SLU0534', 'NetworkPatchOnTcpChain', 'info', 'A NETWORK_FILTER patch on a TCP or passthrough chain: Sluice applies them to HTTP connection managers only.'),
  m('SLU0535', 'EnvoyFilterMatchedNothing', 'info', 'A patch that matches nothing on this workload has no effect, as in Istio.'),
  m('SLU0536', 'PerFilterConfigWithoutFilter', 'warning', 'typed_per_filter_config for a filter the chain does not have: no effect.'),
  m('SLU0537', 'GlobalRateLimitPerRouteConfig', 'warning', 'Per-route config for the global ratelimit filter is not supported.'),
  m('SLU0538', 'InsertBeforeWithoutSubFilter', 'info', 'INSERT_BEFORE without subFilter inserts the filter first, before authentication and authorization.'),
  m('SLU0539', 'EnvoyFilterPerPortConnectionSettings', 'warning', 'A NETWORK_FILTER patch that picks one outbound port of a sidecar: its explicit-proxy connections serve every port, so it is not applied.'),
  m('SLU0601', 'TelemetryProviderNotFound', 'warning', 'A Telemetry (or meshConfig.defaultProviders) names a provider that is neither built in (envoy, prometheus) nor in meshConfig.extensionProviders: it is ignored.'),
  m('SLU0602', 'TelemetryProviderUnsupported', 'warning', 'A telemetry provider kind Sluice does not implement (OTLP over gRPC, access-log services, Stackdriver, ...): it is not applied.'),
  m('SLU0603', 'TelemetryExpressionNeverEvaluates', 'warning', 'A CEL expression that type-checks against no Envoy attribute: a log filter never logs, a tag value is always "unknown".'),
  m('SLU0604', 'AccessLogFormatUnsupported', 'warning', 'An access-log format Sluice cannot fully print (unknown command operators print "-", a JSON accessLogFormat that does not parse).'),
  m('SLU0605', 'TracingCollectorNotInRegistry', 'warning', 'A tracing provider service the registry does not know (or without endpoint): spans are sent to it by name.'),
  m('SLU0606', 'TelemetryFieldNoEffect', 'info', 'A Telemetry field that has no effect in Sluice (reportingInterval, customMetric, an invalid label name).'),
]);

const BY_CODE = new Map(CATALOG.map((t) => [t.code, t]));

export function messageType(code: string): MessageType | undefined {
  return BY_CODE.get(code);
}

/** A diagnostic of catalog type `code` about resource `r` at field `path`. */
export function newMessage(code: string, r: Resource, path: readonly (string | number)[], message: string, fix?: string, level?: Level): Diagnostic {
  const t = BY_CODE.get(code);
  if (t === undefined) throw new Error(`message code ${code} is not in the catalog`);
  const pos = r.pos(path);
  const d: Diagnostic = { code, level: level ?? t.level, message, resource: resourceRef(r), path: formatPath(path), file: pos.file, line: pos.line, col: pos.col };
  if (fix !== undefined) d.fix = fix;
  return d;
}
