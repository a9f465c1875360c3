/**
 * The database restarts, or crashes and recovers, in the middle of
 * setSecret and testSecret: at each of their database calls (found by
 * recording a rotation, as the crash-point suite does), the server is taken
 * down just before the call goes out and comes back later: after a fast
 * restart (about half a second), or after a crash and a recovery of about
 * 4 s. The step rides it out within its time, the rotation completes
 * without Secrets Manager's retries, and the invariants hold.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { PgConnector } from '../../lambda/adapters/database.js';
import { SdkSecretStore } from '../../lambda/adapters/secrets-manager.js';
import type { RotationStep } from '../../lambda/core/event.js';
import type { ShutdownMode } from '../../local/postgres.js';
import { completeRotation, handlerFor, runStep, STEPS, stagePending } from '../fixtures/drive.js';
import { LeakWatch, watchAround } from '../fixtures/leaks.js';
import { MODES, modeEnv } from '../fixtures/modes.js';
import { checkInvariants, HARNESSES, type Harness } from './harness.js';
import { PLAN } from './plan.js';
import { type CallPoint, pointKey, Recorder } from './recorder.js';
import { count, summarize } from './report.js';

/** How the server goes away, and for how long. */
const OUTAGES = {
  restart: { mode: 'fast', downMs: 500 },
  'crash with a 4 s recovery': { mode: 'immediate', downMs: 4_000 },
} as const satisfies Record<string, { mode: ShutdownMode; downMs: number }>;

/** The steps whose database calls are taken down. */
const STEPS_UNDER_TEST: readonly RotationStep[] = ['setSecret', 'testSecret'];

const watch = new LeakWatch();
let harness: Harness;

watchAround(watch, async () => (harness = await HARNESSES.postgres({})));

function remember(value: unknown): void {
  if (typeof value === 'string') watch.secret(value);
  else if (value instanceof Error) watch.error(value);
}

/**
 * One rotation through the recorder; `outage` (if any) takes the server
 * down before the first call at `at`. Returns the recorder and what went wrong.
 */
async function rotation(
  mode: (typeof MODES)[number],
  outage?: { at: string; mode: ShutdownMode; downMs: number },
) {
  const recorder = new Recorder();
  const user = await harness.createUser();
  recorder.secretArn = user.secretArn;
  recorder.username = user.username;
  const token = await stagePending(harness.client, harness.endpoint, user.secretArn);
  let back: Promise<void> | undefined;
  recorder.beforeCall = async (call) => {
    if (outage === undefined || back !== undefined || pointKey(call) !== outage.at) return;
    await harness.postgres.shutdown(outage.mode);
    back = new Promise((resolve) => setTimeout(resolve, outage.downMs)).then(() =>
      harness.postgres.start(),
    );
  };
  const handler = handlerFor({
    secrets: recorder.secrets(new SdkSecretStore(harness.client)),
    database: recorder.database(new PgConnector()),
    env: modeEnv(mode),
  });
  const problems: string[] = [];
  for (const step of STEPS) {
    recorder.begin('first', step);
    const run = await runStep(handler, step, user.secretArn, token);
    remember(run.error);
    if (run.error !== undefined) {
      problems.push(
        `${step} failed: ${(run.error as Error).name}: ${(run.error as Error).message}`,
      );
      break;
    }
  }
  await back;
  if (outage !== undefined && back === undefined) problems.push('the outage point was not reached');
  if (problems.length === 0) {
    await completeRotation(harness.client, user.secretArn, token);
    problems.push(...(await checkInvariants(harness, user, true, remember)));
  }
  return { recorder, problems };
}

describe.each(MODES)('restarts during a %s rotation', (mode) => {
  let points: CallPoint[] = [];

  beforeAll(async () => {
    const { recorder, problems } = await rotation(mode);
    expect(problems).toEqual([]);
    const seen = new Map<string, CallPoint>();
    for (const call of recorder.calls) {
      const database = call.kind === 'connect' || call.kind === 'statement';
      if (database && STEPS_UNDER_TEST.includes(call.step)) seen.set(pointKey(call), call);
    }
    points = [...seen.values()];
    // The quick mode takes the first database call of each step only.
    if (!PLAN.everyRestartPoint) {
      points = STEPS_UNDER_TEST.flatMap((step) =>
        points.filter((p) => p.step === step).slice(0, 1),
      );
    }
  });

  it.for(Object.entries(OUTAGES))(
    'a %s before each database call of setSecret and testSecret: the step rides it out',
    async ([name, outage], { task }) => {
      expect(points.length).toBeGreaterThanOrEqual(STEPS_UNDER_TEST.length);
      const failures: string[] = [];
      let survived = 0;
      for (const point of points) {
        const { problems } = await rotation(mode, { at: pointKey(point), ...outage });
        if (problems.length === 0) survived++;
        failures.push(...problems.map((p) => `${pointKey(point)}: ${p}`));
      }
      count(task.meta, 'restartsSurvived', survived);
      summarize(
        task.meta,
        `${name}, ${mode} setSecret/testSecret`,
        `${survived}/${points.length} survived`,
      );
      expect(failures).toEqual([]);
    },
  );
});

describe('across the restarts', () => {
  it('printed no password or verifier in any log line or error message', ({ task }) => {
    const leaks = watch.leaks();
    count(task.meta, 'leaks', leaks.length);
    expect(leaks).toEqual([]);
  });
});
