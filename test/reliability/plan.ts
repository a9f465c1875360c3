/**
 * How much the reliability suite does. `npm run test:reliability` runs all
 * of it; RELIABILITY_QUICK=1 (CI, `npm run test:reliability:quick`) runs
 * every part, smaller, so that none of it rots.
 *
 * @module
 */
import type { FaultKind } from './recorder.js';

/** True in the quick mode. */
export const QUICK = process.env.RELIABILITY_QUICK === '1';

/** The sizes of each part. */
export const PLAN = QUICK
  ? {
      /** Faults injected at each call point. */
      faults: ['error', 'lost-reply', 'transient', 'hang'] as readonly FaultKind[],
      /** Faults stacked at most (see explore.ts). */
      maxDepth: 1,
      /** Rotations started at once, and the server's max_connections. */
      concurrent: { rotations: 40, maxConnections: 20 },
      /** Reserved-concurrency limits measured (full mode only). */
      concurrencyLimits: [] as readonly number[],
      /** Rotations of one secret in one process, and how many warm it up first. */
      endurance: { rotations: 60, warmUp: 10 },
      /** Restart points per step and mode: every call point, or only the first of each kind. */
      everyRestartPoint: false,
    }
  : {
      faults: ['error', 'lost-reply', 'transient', 'hang'] as readonly FaultKind[],
      maxDepth: 4,
      concurrent: { rotations: 200, maxConnections: 100 },
      concurrencyLimits: [5, 10, 25, 50] as readonly number[],
      endurance: { rotations: 500, warmUp: 20 },
      everyRestartPoint: true,
    };
