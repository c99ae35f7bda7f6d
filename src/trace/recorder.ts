import type { StepResult, StepStage, TraceSource } from './types.js';

/** Where the trace's explainers write: a step, and the outcome of a connection that is closed. */
export interface TraceRecorder {
  step(stage: StepStage, result: StepResult, text: string, source?: TraceSource, detail?: readonly string[]): void;
  closed(details: string, flags: number, fix: string | null): void;
}
