import type { OutlierDetectionConfig } from '../../compile/snapshot.js';
import type { ClusterRuntime, HostRuntime } from './cluster-manager.js';

/**
 * Envoy's consecutive-error outlier detectors for one host: consecutive 5xx (local-origin
 * failures count too unless split), consecutive gateway errors (502/503/504) and, when split,
 * consecutive local-origin failures (connect failures, resets). A success resets them.
 */
export class OutlierCounters {
  consecutive5xx = 0;
  consecutiveGatewayErrors = 0;
  consecutiveLocalFailures = 0;

  /** Counts one result; true when a detector trips (the host should be ejected). */
  record(od: OutlierDetectionConfig, status: number, localOriginFailure: boolean): boolean {
    if (localOriginFailure) {
      this.consecutiveLocalFailures++;
      if (!od.splitExternalLocalOriginErrors) this.consecutive5xx++;
    } else if (status >= 500) {
      this.consecutive5xx++;
      if (status === 502 || status === 503 || status === 504) this.consecutiveGatewayErrors++;
      else this.consecutiveGatewayErrors = 0;
    } else {
      this.reset();
      return false;
    }
    return (
      (od.consecutive5xx > 0 && this.consecutive5xx >= od.consecutive5xx) ||
      (od.consecutiveGatewayErrors > 0 && this.consecutiveGatewayErrors >= od.consecutiveGatewayErrors) ||
      (od.splitExternalLocalOriginErrors && od.consecutiveLocalOriginFailures > 0 && this.consecutiveLocalFailures >= od.consecutiveLocalOriginFailures)
    );
  }

  /** True while some detector has counted an error since the last success. */
  get streak(): boolean {
    return this.consecutive5xx + this.consecutiveGatewayErrors + this.consecutiveLocalFailures > 0;
  }

  reset(): void {
    this.consecutive5xx = 0;
    this.consecutiveGatewayErrors = 0;
    this.consecutiveLocalFailures = 0;
  }
}

/** `maxEjectionPercent`: may one more of `total` hosts be ejected when `ejected` already are? (At least one always may.) */
export function ejectionAllowed(od: OutlierDetectionConfig, ejected: number, total: number): boolean {
  return total > 0 && ((ejected + 1) * 100) / total <= Math.max(od.maxEjectionPercent, 100 / total);
}

/**
 * Where a worker of `--concurrency N` sends its upstream results: the primary counts them for
 * all workers (Envoy's detectors see every worker thread's results) and ejects everywhere.
 */
export interface OutlierSink {
  record(cluster: ClusterRuntime, host: HostRuntime, status: number, localOriginFailure: boolean): void;
}
