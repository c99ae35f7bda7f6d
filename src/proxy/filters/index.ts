import { registerHttpFilter } from '../http/connection-manager.js';
import { corsFilter } from './cors/filter.js';
import { faultFilter } from './fault/filter.js';

// Istio's HTTP filter order at a gateway: jwt_authn (100) → ext_authz (200) → rbac (300) →
// rate limits (400) → cors (500) → fault (600) → router. Each filter registers at its place.
registerHttpFilter(corsFilter, 500);
registerHttpFilter(faultFilter, 600);
