// What every suite gets from the runner: the built programs, the options, a place for files,
// and a log line for progress (stderr, so the table and JSON on stdout stay clean).
import type { Floors } from './build.js';

export interface BenchOptions {
  /** Repeated runs per figure (rounds alternate vdispld and the floor). */
  readonly rounds: number;
  /** The flip pipeline: guests x connectors at 60 frames/s for `pipelineSeconds`. */
  readonly pipelineGuests: number;
  readonly pipelineSeconds: number;
  /** The scale suite: guest counts (4 connectors each) to run the pipeline at. */
  readonly scaleGuests: readonly number[];
  /** Requests per round for the round-trip figures. */
  readonly rttSamples: { readonly dbufCreate: number; readonly fbAttach: number; readonly pgFlip: number };
  readonly throughputSeconds: number;
  /** Write a V8 CPU profile of each vdispld process into this directory. */
  readonly profileDir?: string;
}

export interface BenchContext {
  readonly opts: BenchOptions;
  readonly daemonJs: string;
  readonly floors: Floors;
  readonly workDir: string;
  log(line: string): void;
  /** Node flags for a vdispld process (profiling), with a name for its profile. */
  daemonNodeArgs(name: string): string[];
}
