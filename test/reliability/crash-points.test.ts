/**
 * Every external call of every step, in every mode (the strategies table)
 * on every engine (the engines table): fail it, lose its reply, make it
 * fail transiently, make it hang until the deadline; after each, some
 * staged version logs in, the stored verifier belongs to a staged version,
 * and Secrets Manager's retries complete with AWSCURRENT logging in. See
 * explore.ts for how the points are found.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerEngine } from '../../lambda/engines/engine.js';
import { SERVER_ENGINES } from '../../lambda/engines/engine.js';
import { SAFETY_MARGIN_MS } from '../../lambda/rotation/context.js';
import { LeakWatch } from '../fixtures/leaks.js';
import { MODES } from '../fixtures/modes.js';
import { explore } from './explore.js';
import { HARNESSES, type Harness } from './harness.js';
import { PLAN, QUICK } from './plan.js';
import { count, summarize } from './report.js';

const watch = new LeakWatch();
beforeAll(() => watch.start());
afterAll(() => watch.stop());

/** Time before the deadline's signal in an invocation with a hang armed. */
const HANG_BUDGET_MS = 1_000;

/** Remembers what the suite must never print. */
function remember(value: unknown): void {
  if (typeof value === 'string') watch.secret(value);
  else if (value instanceof Error) watch.error(value);
}

describe.each(SERVER_ENGINES as readonly ServerEngine[])('crash points on %s', (engine) => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await HARNESSES[engine]({});
  });

  afterAll(async () => {
    await harness?.stop();
  });

  it.for(MODES)(
    'every external call of every step in %s mode: failed, reply lost, transient, hung; invariants hold and retries complete',
    async (mode, { task }) => {
      const logStart = engine === 'postgres' ? (await harness.postgres.readServerLog()).length : 0;
      const result = await explore({
        harness,
        mode,
        hangRemainingMs: SAFETY_MARGIN_MS + HANG_BUDGET_MS,
        faults: PLAN.faults,
        maxDepth: PLAN.maxDepth,
        concurrency: 3,
        remember,
        seen: (text) => watch.text(text),
      });
      const coveredPoints = [...result.found.keys()].filter(
        (key) => !result.uncovered.some((entry) => entry.startsWith(`${mode}: ${key} (`)),
      ).length;
      count(task.meta, 'crashPointsFound', result.found.size);
      count(task.meta, 'crashPointsCovered', coveredPoints);
      summarize(
        task.meta,
        `crash points, ${engine} ${mode}`,
        `${coveredPoints}/${result.found.size} covered in ${result.scenarios} scenarios` +
          (result.beyond.length > 0 ? ` (${result.beyond.length} more seen deeper)` : ''),
      );

      // Every kind of call was seen: the recorder sits where the calls are.
      const kinds = new Set([...result.found.values()].map((point) => point.kind));
      expect([...kinds].sort()).toEqual(['close', 'connect', 'secrets', 'statement']);
      expect(result.failures).toEqual([]);
      expect(result.uncovered).toEqual([]);
      // The full run goes deep enough that every point it sees is injected.
      if (!QUICK) expect(result.beyond).toEqual([]);

      if (engine === 'postgres') {
        // No connection reached the server except through the recorded connector.
        const log = (await harness.postgres.readServerLog()).slice(logStart);
        const authorized = log.match(/connection authorized: .*application_name=scram-rotator/g);
        expect(authorized?.length ?? 0).toBe(result.logins.recorded);
      }
    },
  );
});

describe('across the crash points', () => {
  it('printed no password or verifier in any log line or error message', ({ task }) => {
    const leaks = watch.leaks();
    count(task.meta, 'leaks', leaks.length);
    expect(leaks).toEqual([]);
  });
});
