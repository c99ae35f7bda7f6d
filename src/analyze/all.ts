import type { Analyzer } from './analyzer.js';
import { unknownAnnotationAnalyzer } from './annotations/unknown-annotation.js';
import { compileAnalyzer } from './compile/compile-diagnostics.js';
import { caCertificatesAnalyzer } from './destinationrule/ca-certificates.js';
import { drCredentialAnalyzer } from './destinationrule/credential.js';
import { egressChainAnalyzer } from './egress/egress-chain.js';
import { envoyFilterOperationsAnalyzer } from './envoyfilter/operations.js';
import { unappliedPatchAnalyzer } from './envoyfilter/unapplied-patch.js';
import { certificateAnalyzer } from './gateway/certificates.js';
import { duplicateCertificateAnalyzer } from './gateway/duplicate-certificate.js';
import { hostWithoutVirtualServiceAnalyzer } from './gateway/host-without-virtualservice.js';
import { portOnServiceAnalyzer } from './gateway/port-on-service.js';
import { validationAnalyzer } from './schema/validation.js';
import { policySelectorAnalyzer } from './security/policy-selector.js';
import { addressesRequiredAnalyzer } from './serviceentry/addresses-required.js';
import { telemetryProvidersAnalyzer } from './telemetry/providers.js';
import { telemetrySelectorsAnalyzer } from './telemetry/selectors.js';
import { conflictingMeshHostsAnalyzer } from './virtualservice/conflicting-mesh-hosts.js';
import { destinationEndpointsAnalyzer } from './virtualservice/destination-endpoints.js';
import { gatewayHostAnalyzer } from './virtualservice/gateway-host.js';
import { jwtClaimRoutingAnalyzer } from './virtualservice/jwt-claim-routing.js';
import { meshDestinationAnalyzer } from './virtualservice/mesh-destination.js';
import { notBoundToGatewayAnalyzer } from './virtualservice/not-bound-to-gateway.js';
import { ruleKindAnalyzer } from './virtualservice/rule-kind.js';
import { shadowedRouteAnalyzer } from './virtualservice/shadowed-route.js';
import { unreachableRuleAnalyzer } from './virtualservice/unreachable-rule.js';
import { unreachableWeightAnalyzer } from './virtualservice/unreachable-weight.js';

/**
 * Every analyzer, sorted by name. The schema and compile analyzers run first: their findings
 * win when another analyzer reports the same code at the same place.
 */
export const ALL_ANALYZERS: readonly Analyzer[] = Object.freeze([
  validationAnalyzer,
  compileAnalyzer,
  ...[
    unknownAnnotationAnalyzer,
    caCertificatesAnalyzer,
    drCredentialAnalyzer,
    egressChainAnalyzer,
    envoyFilterOperationsAnalyzer,
    unappliedPatchAnalyzer,
    certificateAnalyzer,
    duplicateCertificateAnalyzer,
    hostWithoutVirtualServiceAnalyzer,
    portOnServiceAnalyzer,
    policySelectorAnalyzer,
    addressesRequiredAnalyzer,
    telemetryProvidersAnalyzer,
    telemetrySelectorsAnalyzer,
    conflictingMeshHostsAnalyzer,
    destinationEndpointsAnalyzer,
    gatewayHostAnalyzer,
    jwtClaimRoutingAnalyzer,
    meshDestinationAnalyzer,
    notBoundToGatewayAnalyzer,
    ruleKindAnalyzer,
    shadowedRouteAnalyzer,
    unreachableRuleAnalyzer,
    unreachableWeightAnalyzer,
  ].sort((a, b) => a.name.localeCompare(b.name)),
]);
