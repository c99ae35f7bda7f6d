// The analyzer grid (Istio's analyzers_test.go shape): each row names input files, the one
// analyzer to run, and the findings expected as [code, "Kind ns/name"]. Every analyzer has a
// row that triggers it and a row that must produce nothing (no false positives). Rows are
// sorted by analyzer name.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzeConfig } from '../../src/analyze/analyze.js';
import { ALL_ANALYZERS } from '../../src/analyze/all.js';
import type { Analyzer } from '../../src/analyze/analyzer.js';
import { unknownAnnotationAnalyzer } from '../../src/analyze/annotations/unknown-annotation.js';
import { compileAnalyzer } from '../../src/analyze/compile/compile-diagnostics.js';
import { caCertificatesAnalyzer } from '../../src/analyze/destinationrule/ca-certificates.js';
import { drCredentialAnalyzer } from '../../src/analyze/destinationrule/credential.js';
import { egressChainAnalyzer } from '../../src/analyze/egress/egress-chain.js';
import { envoyFilterOperationsAnalyzer } from '../../src/analyze/envoyfilter/operations.js';
import { unappliedPatchAnalyzer } from '../../src/analyze/envoyfilter/unapplied-patch.js';
import { certificateAnalyzer } from '../../src/analyze/gateway/certificates.js';
import { duplicateCertificateAnalyzer } from '../../src/analyze/gateway/duplicate-certificate.js';
import { hostWithoutVirtualServiceAnalyzer } from '../../src/analyze/gateway/host-without-virtualservice.js';
import { portOnServiceAnalyzer } from '../../src/analyze/gateway/port-on-service.js';
import { CATALOG, messageType } from '../../src/analyze/messages.js';
import { validationAnalyzer } from '../../src/analyze/schema/validation.js';
import { policySelectorAnalyzer } from '../../src/analyze/security/policy-selector.js';
import { addressesRequiredAnalyzer } from '../../src/analyze/serviceentry/addresses-required.js';
import { telemetryProvidersAnalyzer } from '../../src/analyze/telemetry/providers.js';
import { telemetrySelectorsAnalyzer } from '../../src/analyze/telemetry/selectors.js';
import { conflictingMeshHostsAnalyzer } from '../../src/analyze/virtualservice/conflicting-mesh-hosts.js';
import { destinationEndpointsAnalyzer } from '../../src/analyze/virtualservice/destination-endpoints.js';
import { gatewayHostAnalyzer } from '../../src/analyze/virtualservice/gateway-host.js';
import { jwtClaimRoutingAnalyzer } from '../../src/analyze/virtualservice/jwt-claim-routing.js';
import { meshDestinationAnalyzer } from '../../src/analyze/virtualservice/mesh-destination.js';
import { notBoundToGatewayAnalyzer } from '../../src/analyze/virtualservice/not-bound-to-gateway.js';
import { ruleKindAnalyzer } from '../../src/analyze/virtualservice/rule-kind.js';
import { shadowedRouteAnalyzer } from '../../src/analyze/virtualservice/shadowed-route.js';
import { unreachableRuleAnalyzer } from '../../src/analyze/virtualservice/unreachable-rule.js';
import { unreachableWeightAnalyzer } from '../../src/analyze/virtualservice/unreachable-weight.js';

const TESTDATA = join(import.meta.dirname, 'testdata');
const EXAMPLES = join(import.meta.dirname, '../../examples');

interface Row {
  name: string;
  inputFiles: string[];
  analyzer: Analyzer;
  /** [code, "Kind ns/name" ('' when the finding has no resource)] */
  expected: [string, string][];
  /** "Now" for certificate dates (the test certificate is valid 2026-11-27 .. 2036-11-24). */
  now?: string;
}

const grid: Row[] = [
  { name: 'annotation typo', inputFiles: ['annotation-unknown.yaml'], analyzer: unknownAnnotationAnalyzer, expected: [['IST0108', 'VirtualService default/typo']] },
  { name: 'known annotations', inputFiles: ['annotation-known.yaml'], analyzer: unknownAnnotationAnalyzer, expected: [] },

  { name: 'compile: unknown host, no port, missing credential', inputFiles: ['compile-problems.yaml'], analyzer: compileAnalyzer, expected: [['IST0101', 'VirtualService default/api'], ['IST0112', 'VirtualService default/api'], ['IST0161', 'Gateway istio-system/web']] },
  { name: 'compile: clean ingress', inputFiles: ['ingress-clean.yaml'], analyzer: compileAnalyzer, expected: [] },
  { name: 'compile: seed mistake (d), http rules on a passthrough server', inputFiles: ['egress-http-on-passthrough.yaml'], analyzer: compileAnalyzer, expected: [['SLU0209', 'VirtualService default/direct-external-api']] },
  { name: 'compile: an applied patch with an ignored field is reported; patches left out are SLU0310\'s, not repeated', inputFiles: ['envoyfilter-gateway-mixed.yaml'], analyzer: compileAnalyzer, expected: [['SLU0530', 'EnvoyFilter istio-system/mixed']] },
  { name: 'compile: the seed\'s policies in namespace default are the selector analyzer\'s SLU0501, not repeated', inputFiles: ['policy-wrong-namespace.yaml'], analyzer: compileAnalyzer, expected: [] },

  { name: 'DR SIMPLE without CA, insecureSkipVerify', inputFiles: ['dr-no-ca.yaml'], analyzer: caCertificatesAnalyzer, expected: [['IST0128', 'DestinationRule default/external'], ['IST0129', 'DestinationRule default/external']] },
  { name: 'DR SIMPLE with caCertificates', inputFiles: ['dr-with-ca.yaml'], analyzer: caCertificatesAnalyzer, expected: [] },

  { name: 'DR credentialName without Secret', inputFiles: ['dr-credential-missing.yaml'], analyzer: drCredentialAnalyzer, expected: [['SLU0306', 'DestinationRule istio-system/mtls-out']] },
  { name: 'DR credentialName with Secret', inputFiles: ['dr-credential-present.yaml'], analyzer: drCredentialAnalyzer, expected: [] },

  { name: 'egress chain halves', inputFiles: ['egress-chain-half.yaml'], analyzer: egressChainAnalyzer, expected: [['SLU0303', 'VirtualService default/mesh-half'], ['SLU0304', 'VirtualService default/gateway-half']] },
  { name: 'egress chain complete', inputFiles: ['egress-chain-complete.yaml'], analyzer: egressChainAnalyzer, expected: [] },

  { name: 'EnvoyFilter operations', inputFiles: ['envoyfilter-operations.yaml'], analyzer: envoyFilterOperationsAnalyzer, expected: [['IST0151', 'EnvoyFilter istio-system/ops'], ['IST0152', 'EnvoyFilter istio-system/ops'], ['IST0153', 'EnvoyFilter istio-system/ops'], ['IST0154', 'EnvoyFilter istio-system/ops']] },
  { name: 'EnvoyFilter absolute operations with priority', inputFiles: ['envoyfilter-applied.yaml'], analyzer: envoyFilterOperationsAnalyzer, expected: [] },

  { name: 'EnvoyFilter cluster patch not applied (compiled for the workload its selector names)', inputFiles: ['envoyfilter-unapplied.yaml'], analyzer: unappliedPatchAnalyzer, expected: [['SLU0310', 'EnvoyFilter istio-system/cluster-tweak']] },
  { name: 'EnvoyFilter Lua filter and an invalid local rate limit: compile leaves them out', inputFiles: ['envoyfilter-gateway-mixed.yaml'], analyzer: unappliedPatchAnalyzer, expected: [['SLU0310', 'EnvoyFilter istio-system/mixed'], ['SLU0310', 'EnvoyFilter istio-system/mixed']] },
  { name: 'EnvoyFilter local and global rate limits, rate_limits and HCM merge: compile applies them', inputFiles: ['envoyfilter-gateway-applied.yaml'], analyzer: unappliedPatchAnalyzer, expected: [] },
  { name: 'EnvoyFilter for sidecars: compile never applies it', inputFiles: ['envoyfilter-sidecar.yaml'], analyzer: unappliedPatchAnalyzer, expected: [['SLU0310', 'EnvoyFilter default/lua-in'], ['SLU0310', 'EnvoyFilter default/lua-in']] },
  { name: 'EnvoyFilter patches that match no chain have no effect (as in Istio), and are not "not applied"', inputFiles: ['envoyfilter-applied.yaml'], analyzer: unappliedPatchAnalyzer, expected: [] },

  { name: 'one certificate on two gateways', inputFiles: ['duplicate-certificate.yaml'], analyzer: duplicateCertificateAnalyzer, expected: [['IST0138', 'Gateway istio-system/a'], ['IST0138', 'Gateway istio-system/b']] },
  { name: 'certificates on different workloads', inputFiles: ['distinct-certificates.yaml'], analyzer: duplicateCertificateAnalyzer, expected: [] },

  { name: 'certificate expired', inputFiles: ['certificates.yaml'], analyzer: certificateAnalyzer, now: '2037-01-01T00:00:00Z', expected: [['SLU0307', 'Secret istio-system/secure-cert']] },
  { name: 'certificate expires within 30 days', inputFiles: ['certificates.yaml'], analyzer: certificateAnalyzer, now: '2036-11-10T00:00:00Z', expected: [['SLU0308', 'Secret istio-system/secure-cert']] },
  { name: 'certificate key does not match', inputFiles: ['certificate-key-mismatch.yaml'], analyzer: certificateAnalyzer, now: '2030-01-01T00:00:00Z', expected: [['IST0161', 'Gateway istio-system/secure']] },
  { name: 'certificate valid', inputFiles: ['certificates.yaml'], analyzer: certificateAnalyzer, now: '2030-01-01T00:00:00Z', expected: [] },

  { name: 'gateway host no VirtualService routes', inputFiles: ['gateway-host-unrouted.yaml'], analyzer: hostWithoutVirtualServiceAnalyzer, expected: [['SLU0305', 'Gateway istio-system/web']] },
  { name: 'gateway hosts all routed', inputFiles: ['ingress-clean.yaml'], analyzer: hostWithoutVirtualServiceAnalyzer, expected: [] },

  { name: 'gateway port missing from its Service', inputFiles: ['gateway-service-missing-port.yaml'], analyzer: portOnServiceAnalyzer, expected: [['IST0162', 'Gateway istio-system/web']] },
  { name: 'gateway ports on its Service (port or targetPort)', inputFiles: ['gateway-service-ports.yaml'], analyzer: portOnServiceAnalyzer, expected: [] },

  { name: 'seed: invalid ISTIO_MUTUAL_TLS and a look-behind regex', inputFiles: ['schema-invalid.yaml'], analyzer: validationAnalyzer, expected: [['IST0106', 'Gateway istio-system/istio-egress-gateway'], ['IST0122', 'VirtualService default/lookbehind']] },
  { name: 'schema: clean ingress', inputFiles: ['ingress-clean.yaml'], analyzer: validationAnalyzer, expected: [] },

  { name: 'seed: gateway policies in namespace default (SLU0501, where to move them); a selector no known workload has (IST0127)', inputFiles: ['policy-wrong-namespace.yaml'], analyzer: policySelectorAnalyzer, expected: [['SLU0501', 'AuthorizationPolicy default/require-jwt'], ['SLU0501', 'RequestAuthentication default/jwt-auth'], ['IST0127', 'AuthorizationPolicy default/app-policy']] },
  { name: 'a PeerAuthentication for the gateway in namespace default', inputFiles: ['peerauthentication-wrong-namespace.yaml'], analyzer: policySelectorAnalyzer, expected: [['IST0127', 'PeerAuthentication default/gw-mtls']] },
  { name: 'gateway policies in the gateway namespace', inputFiles: ['policy-right-namespace.yaml'], analyzer: policySelectorAnalyzer, expected: [] },

  { name: 'TCP ServiceEntry without addresses', inputFiles: ['serviceentry-tcp.yaml'], analyzer: addressesRequiredAnalyzer, expected: [['IST0134', 'ServiceEntry default/db']] },
  { name: 'TCP ServiceEntry with addresses, HTTPS without', inputFiles: ['serviceentry-tcp-addresses.yaml'], analyzer: addressesRequiredAnalyzer, expected: [] },

  { name: 'Telemetry access log without provider', inputFiles: ['telemetry-no-provider.yaml'], analyzer: telemetryProvidersAnalyzer, expected: [['IST0157', 'Telemetry istio-system/errors-only']] },
  { name: 'Telemetry access log with provider', inputFiles: ['telemetry-provider.yaml'], analyzer: telemetryProvidersAnalyzer, expected: [] },

  { name: 'Telemetries selecting one workload, two without selector', inputFiles: ['telemetry-conflicts.yaml'], analyzer: telemetrySelectorsAnalyzer, expected: [['IST0159', 'Telemetry istio-system/logging'], ['IST0159', 'Telemetry istio-system/metrics'], ['IST0160', 'Telemetry apps/default-a'], ['IST0160', 'Telemetry apps/default-b']] },
  { name: 'one Telemetry per workload', inputFiles: ['telemetry-single.yaml'], analyzer: telemetrySelectorsAnalyzer, expected: [] },

  { name: 'two mesh VirtualServices for reviews', inputFiles: ['mesh-conflicting-hosts.yaml'], analyzer: conflictingMeshHostsAnalyzer, expected: [['IST0109', 'VirtualService default/reviews-a'], ['IST0109', 'VirtualService default/reviews-b']] },
  { name: 'one mesh, one gateway VirtualService', inputFiles: ['mesh-distinct-hosts.yaml'], analyzer: conflictingMeshHostsAnalyzer, expected: [] },

  { name: 'mesh destinations: unknown subset, unknown host, no port', inputFiles: ['mesh-destinations-bad.yaml'], analyzer: meshDestinationAnalyzer, expected: [['IST0101', 'VirtualService default/reviews'], ['IST0101', 'VirtualService default/reviews'], ['IST0112', 'VirtualService default/reviews'], ['IST0112', 'VirtualService default/reviews']] },
  { name: 'mesh destinations: ports and subsets known', inputFiles: ['mesh-destinations-good.yaml'], analyzer: meshDestinationAnalyzer, expected: [] },

  { name: 'destination without endpoints, subset selecting none', inputFiles: ['destination-no-endpoints.yaml'], analyzer: destinationEndpointsAnalyzer, expected: [['IST0173', 'VirtualService default/ratings'], ['SLU0309', 'VirtualService default/ratings']] },
  { name: 'destinations with endpoints', inputFiles: ['destination-with-endpoints.yaml'], analyzer: destinationEndpointsAnalyzer, expected: [] },

  { name: 'seed: advanced-routing host not on main-gateway', inputFiles: [join(EXAMPLES, 'seed-ingress')], analyzer: gatewayHostAnalyzer, expected: [['IST0132', 'VirtualService default/advanced-routing']] },
  { name: 'gateway named without its namespace', inputFiles: ['gateway-ref-missing.yaml'], analyzer: gatewayHostAnalyzer, expected: [['IST0101', 'VirtualService default/wrong-gateway']] },
  { name: 'gateway hosts bound', inputFiles: ['ingress-clean.yaml'], analyzer: gatewayHostAnalyzer, expected: [] },

  { name: 'JWT claim routing without RequestAuthentication', inputFiles: ['jwt-claim-routing.yaml'], analyzer: jwtClaimRoutingAnalyzer, expected: [['IST0149', 'VirtualService default/by-group']] },
  { name: 'JWT claim routing with RequestAuthentication', inputFiles: ['jwt-claim-routing-authn.yaml'], analyzer: jwtClaimRoutingAnalyzer, expected: [] },

  { name: 'VirtualService without gateways for a gateway host', inputFiles: ['vs-without-gateways.yaml'], analyzer: notBoundToGatewayAnalyzer, expected: [['SLU0312', 'VirtualService default/shop']] },
  { name: 'VirtualService bound to its gateway', inputFiles: ['ingress-clean.yaml'], analyzer: notBoundToGatewayAnalyzer, expected: [] },

  { name: 'http rules beside tls rules on a passthrough server; tls rules on a terminating one', inputFiles: ['rule-kinds-mixed.yaml'], analyzer: ruleKindAnalyzer, expected: [['SLU0311', 'VirtualService default/api'], ['SLU0311', 'VirtualService default/www']] },
  { name: 'seed mistake (d) is compile\'s SLU0209, not repeated here', inputFiles: ['egress-http-on-passthrough.yaml'], analyzer: ruleKindAnalyzer, expected: [] },
  { name: 'tls rules on a passthrough server', inputFiles: ['egress-tls-passthrough.yaml'], analyzer: ruleKindAnalyzer, expected: [] },

  { name: 'routes shadowed across and inside VirtualServices', inputFiles: ['shadowed-routes.yaml'], analyzer: shadowedRouteAnalyzer, expected: [['SLU0301', 'VirtualService default/shop-api'], ['SLU0301', 'VirtualService default/shop-api']] },
  { name: 'a broad prefix before a narrower match in one VirtualService', inputFiles: ['shadowed-prefix.yaml'], analyzer: shadowedRouteAnalyzer, expected: [['SLU0301', 'VirtualService default/shop-api'], ['SLU0301', 'VirtualService default/shop-api']] },
  { name: 'specific routes first', inputFiles: ['ordered-routes.yaml'], analyzer: shadowedRouteAnalyzer, expected: [] },

  { name: 'duplicate match and a second catch-all', inputFiles: ['unreachable-rules.yaml'], analyzer: unreachableRuleAnalyzer, expected: [['IST0130', 'VirtualService default/dup'], ['IST0130', 'VirtualService default/dup'], ['IST0131', 'VirtualService default/dup']] },
  { name: 'distinct matches', inputFiles: ['ordered-routes.yaml'], analyzer: unreachableRuleAnalyzer, expected: [] },

  { name: 'split destination without weight', inputFiles: ['weights-unset.yaml'], analyzer: unreachableWeightAnalyzer, expected: [['SLU0302', 'VirtualService default/canary']] },
  { name: 'split with weights', inputFiles: ['ingress-clean.yaml'], analyzer: unreachableWeightAnalyzer, expected: [] },
];

function run(row: Row) {
  const files = row.inputFiles.map((f) => (f.startsWith('/') ? f : join(TESTDATA, f)));
  return analyzeConfig({ configPaths: files, allNamespaces: true, analyzers: [row.analyzer], ...(row.now !== undefined ? { now: new Date(row.now) } : {}) });
}

describe('analyzer grid', () => {
  it('rows are sorted by analyzer name', () => {
    const names = grid.map((r) => r.analyzer.name);
    expect(names).toEqual([...names].sort((a, b) => a.localeCompare(b)));
  });

  for (const row of grid) {
    it(`${row.analyzer.name}: ${row.name}`, () => {
      const r = run(row);
      const got = r.findings.map((f) => `${f.code} ${f.resource ?? ''}`).sort();
      const want = row.expected.map(([c, res]) => `${c} ${res}`).sort();
      expect(got, r.findings.map((f) => `${f.code} ${f.resource} ${f.path}: ${f.message}`).join('\n')).toEqual(want);
      for (const f of r.findings) {
        expect(row.analyzer.codes, `${row.analyzer.name} reported ${f.code}, which it does not declare`).toContain(f.code);
        expect(f.file, 'every finding has a position').toBeDefined();
        expect(f.line, 'every finding has a line').toBeGreaterThan(0);
      }
    });
  }

  it('every analyzer has a row that triggers it and a row that must not', () => {
    for (const a of ALL_ANALYZERS) {
      const rows = grid.filter((r) => r.analyzer === a);
      expect(rows.some((r) => r.expected.length > 0), `${a.name} has no triggering row`).toBe(true);
      expect(rows.some((r) => r.expected.length === 0), `${a.name} has no row that must produce nothing`).toBe(true);
    }
  });
});

describe('all analyzers together', () => {
  it('find nothing in a correct ingress', () => {
    const r = analyzeConfig({ configPaths: [join(TESTDATA, 'ingress-clean.yaml')], allNamespaces: true });
    expect(r.findings.map((f) => `${f.code} ${f.resource}: ${f.message}`)).toEqual([]);
  });

  it("report the seed document's mistakes and traps, each once, at its line", () => {
    const r = analyzeConfig({ configPaths: [join(import.meta.dirname, '../api/testdata/seed-snippets.yaml')], allNamespaces: true });
    const got = r.findings.map((f) => `${f.code} ${f.resource ?? ''} ${f.path ?? ''}`);
    expect(got).toEqual(expect.arrayContaining([
      // (a) ISTIO_MUTUAL_TLS is not a mode: the Gateway is refused, and what names it dangles.
      'IST0106 Gateway istio-system/istio-egress-gateway spec.servers[0].tls.mode',
      'IST0101 VirtualService default/direct-external-api spec.gateways[0]',
      // (b) MeshConfig is not a kind; (c) caCertificates beside credentialName is ignored.
      'SLU0012 MeshConfig istio-system/istio kind',
      'SLU0111 Gateway istio-system/istio-egress-gateway-mtls spec.servers[0].tls.caCertificates',
      // advanced-routing's example.com is not on main-gateway.
      'IST0132 VirtualService default/advanced-routing spec.hosts[0]',
      // the security section's policies select the gateways from namespace default.
      'SLU0501 AuthorizationPolicy default/restrict-egress spec.selector',
      'SLU0501 RequestAuthentication default/jwt-auth spec.selector',
      'SLU0501 AuthorizationPolicy default/require-jwt spec.selector',
      // the EnvoyFilters: v1beta1 is not served, relative inserts without priority.
      'SLU0011 EnvoyFilter istio-system/rate-limit apiVersion',
      'IST0151 EnvoyFilter istio-system/rate-limit spec.configPatches[0].patch.operation',
      // the SNI egress names a Gateway the seed never defines; its mesh half has no gateway half.
      'IST0101 VirtualService default/sni-egress spec.gateways[0]',
      'SLU0303 VirtualService default/sni-egress spec.tls[0].route[0].destination.host',
    ]));
    for (const f of r.findings) expect(f.line, `${f.code} ${f.resource}`).toBeGreaterThan(0);
    const keys = r.findings.map((f) => `${f.code} ${f.resource} ${f.path}`);
    expect(keys).toEqual([...new Set(keys)]);
  });
});

describe('SLU0310 and compile agree on every EnvoyFilter patch', () => {
  for (const [file, applied, notApplied] of [['envoyfilter-gateway-mixed.yaml', 1, 2], ['envoyfilter-gateway-applied.yaml', 4, 0]] as const) {
    it(file, () => {
      const r = analyzeConfig({ configPaths: [join(TESTDATA, file)], allNamespaces: true });
      const reported = new Set(r.findings.filter((f) => f.code === 'SLU0310').map((f) => `${f.resource} ${f.path}`));
      // What compile did, on the config's gateway (or, without one, the workload the selector names).
      const outcomes = r.workloads.flatMap((w) => w.snapshot.envoyFilterPatches ?? []);
      expect([outcomes.filter((o) => o.outcome === 'applied').length, outcomes.filter((o) => o.outcome === 'not_applied').length]).toEqual([applied, notApplied]);
      for (const o of outcomes) {
        const key = `${o.resource} spec.configPatches[${o.index}]`;
        if (o.outcome === 'applied') expect(reported.has(key), `${key} applied by compile but reported SLU0310`).toBe(false);
        if (o.outcome === 'not_applied') expect(reported.has(key), `${key} left out by compile but not reported`).toBe(true);
      }
      // Compile's own "not applied" codes are folded into SLU0310, never beside it.
      for (const f of r.findings.filter((x) => ['SLU0520', 'SLU0522', 'SLU0523', 'SLU0524'].includes(x.code))) {
        expect(reported.has(`${f.resource} ${f.path?.replace(/^(spec\.configPatches\[\d+\]).*$/, '$1')}`), `${f.code} ${f.resource} ${f.path} beside SLU0310`).toBe(false);
      }
      for (const f of r.findings.filter((x) => x.code === 'SLU0310')) expect(f.message).toMatch(/not applied by Sluice \(SLU05\d\d\): /);
    });
  }
});

describe('message catalog', () => {
  it('is ordered by code, without duplicates', () => {
    const codes = CATALOG.map((t) => t.code);
    expect(codes).toEqual([...new Set(codes)].sort());
  });

  it('knows every code an analyzer declares', () => {
    for (const a of ALL_ANALYZERS) for (const c of a.codes) expect(messageType(c), `${a.name}: ${c}`).toBeDefined();
  });

  it('lists the analyzers sorted by name after the schema and compile passes', () => {
    const rest = ALL_ANALYZERS.slice(2).map((a) => a.name);
    expect(ALL_ANALYZERS.slice(0, 2).map((a) => a.name)).toEqual(['schema.ValidationAnalyzer', 'compile.CompileAnalyzer']);
    expect(rest).toEqual([...rest].sort((a, b) => a.localeCompare(b)));
  });
});
