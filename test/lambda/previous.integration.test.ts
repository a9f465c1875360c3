/**
 * What a credential read as AWSCURRENT is good for, in every mode
 * (ROTATION_MODE), through successful rotations and a failed test, on the
 * local stack: alternating mode promises that it keeps logging in until the
 * rotation after next (as AWSPREVIOUS in between); single-user and admin
 * mode change that same user's password, so it logs in until the next
 * rotation, and AWSPREVIOUS never does. In every mode, after a failed
 * test, every labelled version that the mode promises logs in, and the
 * withdrawn pending version does not.
 */
import { randomBytes } from 'node:crypto';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import {
  type DatabaseConnector,
  type DatabaseSession,
  type LoginLimits,
  type LoginTarget,
  PgConnector,
} from '../../lambda/adapters/database.js';
import { SdkSecretStore } from '../../lambda/adapters/secrets-manager.js';
import type { RotationEvent } from '../../lambda/core/event.js';
import { createScramVerifier } from '../../lambda/core/scram.js';
import { type DatabaseSecret, parseDatabaseSecret } from '../../lambda/core/secret.js';
import { AuthenticationFailedError } from '../../lambda/errors.js';
import { createHandler } from '../../lambda/index.js';
import type { StrategyName } from '../../lambda/strategies/strategy.js';
import { Logger } from '../../lambda/telemetry.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { handlerFor, runStep, stagePending, targetOf } from '../fixtures/drive.js';
import { LeakWatch, watchAround } from '../fixtures/leaks.js';
import { createRotatableUser, MODES, modeEnv } from '../fixtures/modes.js';

const limits = { connectTimeoutMs: 5_000, statementTimeoutMs: 5_000, maxScramIterations: 0 };

const watch = new LeakWatch();
let stack: LocalStack;

watchAround(watch, async () => (stack = await startLocalStack()));

async function read(secretId: string, stage = 'AWSCURRENT'): Promise<DatabaseSecret> {
  const out = await stack.client.send(
    new GetSecretValueCommand({ SecretId: secretId, VersionStage: stage }),
  );
  const secret = parseDatabaseSecret(out.SecretString ?? '', { label: stage });
  watch.secret(secret.password);
  return secret;
}

async function logsIn(secret: DatabaseSecret): Promise<boolean> {
  try {
    const session = await new PgConnector().login(targetOf(secret), limits);
    await session.close();
    return true;
  } catch (error) {
    if (error instanceof AuthenticationFailedError) return false;
    throw error;
  }
}

/** The real handler in `mode`; while `sabotage.on`, the pending user's password is scrambled after setSecret. */
function rotationFunction(mode: StrategyName, sabotage: { on: boolean }): string {
  const arn = stack.secretsManager.lambdaArn(`previous-${randomBytes(3).toString('hex')}`);
  const handler = createHandler({
    secrets: new SdkSecretStore(stack.client),
    env: modeEnv(mode),
    logger: new Logger({ serviceName: 'scram-rotator', logLevel: 'SILENT' }),
  });
  stack.secretsManager.registerRotationFunction(
    arn,
    async (event: RotationEvent, context: Context) => {
      await handler(event, context);
      if (event.Step !== 'setSecret' || !sabotage.on) return;
      const pending = await read(event.SecretId, 'AWSPENDING');
      const verifier = createScramVerifier(randomBytes(12).toString('hex'));
      await stack.postgres.withAdmin((c) =>
        c.query(
          `ALTER ROLE ${c.escapeIdentifier(pending.username)} PASSWORD ${c.escapeLiteral(verifier)}`,
        ),
      );
    },
  );
  return arn;
}

async function rotate(secretArn: string, lambdaArn: string) {
  const outcome = await stack.rotate(secretArn, lambdaArn, { timeoutMs: 30_000 });
  watch.text(outcome.errorMessage ?? '');
  return outcome;
}

/** How many rotations a credential read as AWSCURRENT survives, by mode. */
const SURVIVES = { alternating: 1, admin: 0, 'single-user': 0 } as const satisfies Record<
  StrategyName,
  number
>;

describe.each(MODES)('AWSPREVIOUS in %s mode', (mode) => {
  const promise =
    SURVIVES[mode] === 1
      ? 'keeps logging in until the rotation after next'
      : 'logs in until the next rotation only';
  it(`a credential read as AWSCURRENT ${promise}, and a failed test leaves that so`, async () => {
    const user = await createRotatableUser(stack);
    const sabotage = { on: false };
    const lambda = rotationFunction(mode, sabotage);
    const held = [await read(user.secretArn)];
    for (let n = 1; n <= 3; n++) {
      expect(await rotate(user.secretArn, lambda)).toMatchObject({ ok: true });
      held.push(await read(user.secretArn));
      // held[n] is AWSCURRENT; held[n - 1] is AWSPREVIOUS.
      expect(await logsIn(held[n] as DatabaseSecret)).toBe(true);
      expect(await logsIn(await read(user.secretArn, 'AWSPREVIOUS'))).toBe(SURVIVES[mode] === 1);
      if (n >= 2) expect(await logsIn(held[n - 2] as DatabaseSecret)).toBe(false);
    }
    // Single-user mode cannot be rolled back once the pending user's password
    // is scrambled (only the pending login could set it back).
    if (mode === 'single-user') return;
    sabotage.on = true;
    const failed = await rotate(user.secretArn, lambda);
    expect(failed).toMatchObject({ ok: false, failedStep: 'testSecret' });
    expect(failed.errorMessage).toMatch(/^Rotation rolled back: /);
    expect(await logsIn(await read(user.secretArn))).toBe(true);
    expect(await logsIn(await read(user.secretArn, 'AWSPREVIOUS'))).toBe(SURVIVES[mode] === 1);
  });
});

/** The real connector, counting logins the server refused. */
class CountingConnector implements DatabaseConnector {
  failed = 0;
  readonly #inner = new PgConnector();

  async login(target: LoginTarget, loginLimits: LoginLimits): Promise<DatabaseSession> {
    try {
      return await this.#inner.login(target, loginLimits);
    } catch (error) {
      if (error instanceof AuthenticationFailedError) this.failed++;
      throw error;
    }
  }
}

describe.each(MODES)('setSecret run again in %s mode', (mode) => {
  it('after one that succeeded, makes at most one failed login, and the rotation still finishes', async () => {
    const user = await createRotatableUser(stack);
    const database = new CountingConnector();
    const handler = handlerFor({
      secrets: new SdkSecretStore(stack.client),
      database,
      env: modeEnv(mode),
    });
    // One rotation first, so that there is an AWSPREVIOUS to try.
    expect(await rotate(user.secretArn, rotationFunction(mode, { on: false }))).toMatchObject({
      ok: true,
    });
    const token = await stagePending(stack.client, stack.secretsManager, user.secretArn);
    for (const step of ['createSecret', 'setSecret'] as const) {
      expect((await runStep(handler, step, user.secretArn, token)).error).toBeUndefined();
    }
    expect(database.failed).toBe(0);
    // A duplicated delivery of setSecret.
    expect((await runStep(handler, 'setSecret', user.secretArn, token)).error).toBeUndefined();
    expect(database.failed).toBeLessThanOrEqual(1);
    for (const step of ['testSecret', 'finishSecret'] as const) {
      expect((await runStep(handler, step, user.secretArn, token)).error).toBeUndefined();
    }
    expect(await logsIn(await read(user.secretArn))).toBe(true);
  });
});

describe('across the AWSPREVIOUS suite', () => {
  it('printed no password or verifier in any log line or error message', () => {
    expect(watch.counts.secrets).toBeGreaterThan(10);
    expect(watch.leaks()).toEqual([]);
  });
});
