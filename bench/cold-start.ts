/**
 * Cold start, side by side: a fresh Node.js process imports a bundle and
 * handles one event, for the function and for the floor in turn.
 *
 * The event is testSecret of a rotation staged on the local stack (the
 * function's own createSecret and setSecret ran; testSecret was refused so
 * the version stays AWSPENDING), so both handlers do real I/O: two Secrets
 * Manager calls, a verify-full TLS login by SCRAM and one statement.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import type { LocalStack } from '../local/stack.js';
import type { Bundles } from './bundles.js';
import type { ColdStartSample } from './cold-start-child.js';
import type { FunctionHandler } from './function.js';
import { interleaved } from './stats.js';

/** The event both bundles' handlers receive, and the secret it names. */
export interface StagedEvent {
  readonly Step: 'testSecret';
  readonly SecretId: string;
  readonly ClientRequestToken: string;
}

/** Why the stager refuses testSecret: the version must stay AWSPENDING. */
const STAGED = 'staged for the cold-start runs';

/**
 * Leaves a secret mid-rotation: AWSPENDING has a value and the database
 * already has its password (the function's createSecret and setSecret ran),
 * so a testSecret event succeeds, again and again.
 */
export async function stageColdStartEvent(
  stack: LocalStack,
  handler: FunctionHandler,
): Promise<StagedEvent> {
  const user = await stack.createApplicationUser({ username: 'bench_cold_start' });
  const arn = stack.secretsManager.lambdaArn('scram-rotator-bench-stager');
  stack.secretsManager.registerRotationFunction(arn, async (event, context) => {
    if (event.Step === 'testSecret') throw new Error(STAGED);
    return handler(event, context);
  });
  const outcome = await stack.rotate(user.secretArn, arn, { timeoutMs: 30_000 });
  if (outcome.failedStep !== 'testSecret' || !outcome.errorMessage?.includes(STAGED)) {
    throw new Error(
      `staging the cold-start rotation failed at ${outcome.failedStep}: ${outcome.errorMessage}`,
    );
  }
  return { Step: 'testSecret', SecretId: outcome.secretArn, ClientRequestToken: outcome.token };
}

/** Runs the child on one bundle in a fresh process and reads its sample. */
export function coldStartOnce(
  child: string,
  bundle: string,
  event: StagedEvent,
  env: Readonly<Record<string, string>>,
): Promise<ColdStartSample> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [child, bundle, JSON.stringify(event)], {
      // Only what a Lambda environment has: no NODE_OPTIONS (tsx's loader), no inherited settings.
      env: { PATH: process.env.PATH ?? '', ...env },
      // The handler's own logs go where Lambda's would not be read here.
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    });
    const report: Buffer[] = [];
    const errors: Buffer[] = [];
    proc.stdio[3]?.on('data', (chunk: Buffer) => report.push(chunk));
    proc.stderr?.on('data', (chunk: Buffer) => errors.push(chunk));
    proc.on('error', reject);
    proc.on('close', (code) => {
      const text = Buffer.concat(report).toString('utf8');
      if (code !== 0 || text === '') {
        reject(
          new Error(
            `cold start of ${bundle} exited ${code}: ${Buffer.concat(errors).toString('utf8').slice(-500)}`,
          ),
        );
        return;
      }
      const sample = JSON.parse(text) as ColdStartSample;
      if (sample.error !== undefined) {
        reject(new Error(`cold start of ${bundle}: the handler threw ${sample.error}`));
        return;
      }
      resolve(sample);
    });
  });
}

/** Samples of both bundles, taken in interleaved rounds. */
export interface ColdStartSamples {
  readonly fn: ColdStartSample[];
  readonly floor: ColdStartSample[];
}

/**
 * `rounds` interleaved pairs (ABBA), after one pair that is thrown away
 * (the first processes warm the file cache for both).
 */
export async function measureColdStarts(
  bundles: Bundles,
  event: StagedEvent,
  env: Readonly<Record<string, string>>,
  rounds: number,
): Promise<ColdStartSamples> {
  const fn = () => coldStartOnce(bundles.child, bundles.fn.file, event, env);
  const floor = () => coldStartOnce(bundles.child, bundles.floor.file, event, env);
  await fn();
  await floor();
  const { a, b } = await interleaved(rounds, fn, floor);
  return { fn: a, floor: b };
}

/**
 * What the construct's `sourceMaps` prop costs at cold start: the function
 * as deployed against the same bundle with its map beside it and
 * `NODE_OPTIONS=--enable-source-maps`, in interleaved pairs.
 */
export async function measureSourceMapCost(
  bundles: Bundles,
  event: StagedEvent,
  env: Readonly<Record<string, string>>,
  rounds: number,
): Promise<{ without: ColdStartSample[]; with: ColdStartSample[] }> {
  const plain = () => coldStartOnce(bundles.child, bundles.fn.file, event, env);
  const mapped = () =>
    coldStartOnce(bundles.child, bundles.fn.mappedFile, event, {
      ...env,
      NODE_OPTIONS: '--enable-source-maps',
    });
  const { a, b } = await interleaved(rounds, plain, mapped);
  return { without: a, with: b };
}
