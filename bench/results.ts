/**
 * The shape of a bench run's results: what `bench/results.json` holds and
 * what `--json` prints as its last line.
 *
 * @module
 */
import type { Check } from './budget.js';
import type { ConcurrencyResult } from './concurrency.js';
import type { ModeResult } from './modes.js';
import type { LambdaCpuResult, VerifierResult } from './pbkdf2.js';
import type { Stats } from './stats.js';

/** Cold-start samples of one bundle, summarised. */
export interface ColdStartStats {
  /** Import and first event: the figure the budget holds. */
  readonly coldStart: Stats;
  readonly import: Stats;
  readonly firstEvent: Stats;
  /** Node's own start-up before the import, the same for both. */
  readonly boot: Stats;
  /** CPU time of import and first event: steadier than wall time on a busy machine. */
  readonly cpu: Stats;
}

/** A bench run. */
export interface BenchResults {
  readonly quick: boolean;
  readonly date: string;
  readonly node: string;
  readonly cpus: number;
  /** The 1-minute load average when the run started: how busy the machine was. */
  readonly loadAverage: number;
  readonly durationMs: number;
  readonly bundle: {
    readonly bytes: number;
    readonly floorBytes: number;
    readonly ratio: number;
    /** Median cold start of the function and of the floor, ms. */
    readonly coldStartMs: number;
    readonly floorColdStartMs: number;
    readonly coldStartRatio: number;
    /** The source maps esbuild writes (shipped only with `sourceMaps: true`). */
    readonly mapBytes: number;
    readonly floorMapBytes: number;
    /** What the function carries beyond the floor, by package or folder. */
    readonly beyondFloor: readonly { readonly name: string; readonly bytes: number }[];
    readonly coldStart: {
      /** Interleaved pairs measured. */
      readonly pairs: number;
      readonly fn: ColdStartStats;
      readonly floor: ColdStartStats;
    };
    /**
     * The function's cold start without and with its source map and
     * `--enable-source-maps` (the construct's `sourceMaps` prop); full runs only.
     */
    readonly sourceMaps:
      | { readonly pairs: number; readonly without: ColdStartStats; readonly with: ColdStartStats }
      | { readonly skipped: string };
  };
  readonly modes: readonly ModeResult[];
  readonly concurrency:
    | { readonly maxConnections: number; readonly results: readonly ConcurrencyResult[] }
    | { readonly skipped: string };
  readonly verifiers: readonly VerifierResult[];
  readonly lambdaCpu: LambdaCpuResult;
  /** Starting PostgreSQL and the Secrets Manager endpoint, ms. */
  readonly localStackStartMs: number;
  /** This process's peak resident memory, MiB. */
  readonly peakRssMiB: number;
  readonly checks: readonly Check[];
  /** Whether every check held. */
  readonly ok: boolean;
}
