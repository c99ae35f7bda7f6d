import type { WorkloadOptions } from '../../../src/compile/compile.js';
import { compileInline } from '../../support/compile.js';

/** Inline YAML → store → snapshot with a mesh config and (optionally) mesh certificate, as `sluice run` builds it. */
export const compileMesh = compileInline;

export const SIDECAR = (o: Partial<WorkloadOptions> = {}): WorkloadOptions => ({
  mode: 'sidecar',
  labels: { app: 'sleep' },
  namespace: 'default',
  serviceAccount: 'sleep',
  sidecarPorts: { outboundPort: 15001, inboundPort: 15006, appPort: null },
  ...o,
});
