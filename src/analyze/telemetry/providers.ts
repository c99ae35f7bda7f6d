import type { Analyzer } from '../analyzer.js';
import { newMessage } from '../messages.js';

/**
 * IST0157 (Istio's telemetry.ProviderAnalyzer): a Telemetry whose entries name no provider,
 * while the mesh config sets no default provider for them, does nothing.
 */
export const telemetryProvidersAnalyzer: Analyzer = {
  name: 'telemetry.ProviderAnalyzer',
  description: 'Telemetry entries name a provider, or the mesh has a default one',
  inputs: ['Telemetry', 'MeshConfig'],
  codes: ['IST0157'],
  analyze(ctx) {
    const defaults = ctx.mesh.defaultProviders ?? {};
    for (const t of ctx.list('Telemetry')) {
      const sections = [
        { key: 'tracing', list: t.spec.tracing, dflt: defaults.tracing },
        { key: 'metrics', list: t.spec.metrics, dflt: defaults.metrics },
        { key: 'accessLogging', list: t.spec.accessLogging, dflt: defaults.accessLogging },
      ] as const;
      for (const s of sections) {
        (s.list ?? []).forEach((entry, i) => {
          if ((entry.providers ?? []).length > 0 || (s.dflt ?? []).length > 0) return;
          if ((entry as { disabled?: boolean }).disabled === true) return;
          ctx.report(newMessage('IST0157', t, ['spec', s.key, i], `The Telemetry ${t.name} in namespace "${t.namespace}" with empty providers will be ignored (${s.key}[${i}] names no provider and meshConfig.defaultProviders.${s.key} is unset).`, `add providers: [{name: ${s.key === 'accessLogging' ? 'envoy' : s.key === 'metrics' ? 'prometheus' : 'zipkin'}}]`));
        });
      }
    }
  },
};
