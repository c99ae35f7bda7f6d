// Per-kind validators. Each checks the CRD shape (types, required fields, enums, unknown fields)
// and Istio's webhook rules (istio/istio pkg/config/validation), reporting every problem.
//
// Diagnostic codes used by src/api/validation (Sluice range SLU0100–SLU0199; IST codes where
// Istio has the same condition):
//   IST0106  error    SchemaValidationError: shape or webhook rule violated (default error code)
//   IST0122  error    InvalidRegexp: a regex is not valid RE2
//   SLU0100  warning  Istio webhook warning: accepted by Istio, but likely not what was meant
//   SLU0101  info     note (no action needed)
//   SLU0102  warning  unknown field in a permissive section (MeshConfig, Kubernetes core kinds); ignored
//   SLU0103  warning  deprecated field (Istio's own deprecation notice)
//   SLU0104  warning  accepted as written but has no effect (e.g. fault without percentage = 0%)
//   SLU0110  warning  Gateway TLS passthrough (explicit or implied by a missing mode) ignores certificates
//   SLU0111  warning  Gateway credentialName plus file fields: files ignored (seed mistake (c))
//   SLU0112  warning  Gateway plain HTTP server: tls fields other than httpsRedirect ignored
//   SLU0113  error    TLS parameters Envoy cannot use (min > max version, malformed pins)
//   SLU0120  warning  accepted by Istio, but a gateway (and Sluice) does nothing with it
//   SLU0130  error    CEL expression does not parse (Envoy would reject the filter)

import type { Kind } from '../types.js';
import type { KindValidator } from './context.js';
import { validateAuthorizationPolicy } from './authorization-policy.js';
import { validateDestinationRule } from './destination-rule.js';
import { validateEndpointSlice } from './endpoint-slice.js';
import { validateEndpoints } from './endpoints.js';
import { validateEnvoyFilter } from './envoy-filter.js';
import { validateGateway } from './gateway.js';
import { validateMeshConfig } from './mesh-config.js';
import { validatePod } from './pod.js';
import { validatePeerAuthentication } from './peer-authentication.js';
import { validateRequestAuthentication } from './request-authentication.js';
import { validateSecret } from './secret.js';
import { validateService } from './service.js';
import { validateServiceEntry } from './service-entry.js';
import { validateSidecar } from './sidecar.js';
import { validateTelemetry } from './telemetry.js';
import { validateVirtualService } from './virtual-service.js';
import { validateWorkloadEntry } from './workload-entry.js';

/** One validator per kind (files beside this one). Kinds without one are accepted as parsed. */
export const kindValidators: Partial<Record<Kind, KindValidator>> = {
  Gateway: validateGateway,
  VirtualService: validateVirtualService,
  DestinationRule: validateDestinationRule,
  ServiceEntry: validateServiceEntry,
  WorkloadEntry: validateWorkloadEntry,
  Sidecar: validateSidecar,
  EnvoyFilter: validateEnvoyFilter,
  AuthorizationPolicy: validateAuthorizationPolicy,
  RequestAuthentication: validateRequestAuthentication,
  PeerAuthentication: validatePeerAuthentication,
  Telemetry: validateTelemetry,
  MeshConfig: validateMeshConfig,
  Secret: validateSecret,
  Service: validateService,
  Endpoints: validateEndpoints,
  EndpointSlice: validateEndpointSlice,
  Pod: validatePod,
};
