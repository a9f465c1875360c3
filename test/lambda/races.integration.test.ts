/**
 * Racing deliveries: Secrets Manager (or an operator) may deliver the same
 * step twice at once, and a call may take effect while its answer is lost.
 * Each step converges: both deliveries succeed and the rotation ends with
 * AWSCURRENT logging in. The races are forced in their worst order by
 * holding one delivery at the call where it would lose.
 */
import { describe, expect, it } from 'vitest';
import { PgConnector } from '../../lambda/adapters/database.js';
import { SdkSecretStore, type SecretStore } from '../../lambda/adapters/secrets-manager.js';
import { verifyPasswordAgainstVerifier } from '../../lambda/core/scram.js';
import type { DatabaseSecret } from '../../lambda/core/secret.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import {
  completeRotation,
  handlerFor,
  LogLines,
  readStage,
  runStep,
  STEPS,
  stagePending,
  targetOf,
} from '../fixtures/drive.js';
import { LeakWatch, watchAround } from '../fixtures/leaks.js';
import { createRotatableUser, MODES, modeEnv } from '../fixtures/modes.js';

const watch = new LeakWatch();
let stack: LocalStack;

watchAround(watch, async () => (stack = await startLocalStack()));

type StoreMethod = keyof SecretStore;

/** Wraps one method of a store; the others call through. */
function around(
  store: SecretStore,
  method: StoreMethod,
  wrap: (call: () => Promise<unknown>) => Promise<unknown>,
): SecretStore {
  return new Proxy(store, {
    get: (target, property) => {
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== 'function') return value;
      const call = (...args: unknown[]) =>
        (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
      return property === method ? (...args: unknown[]) => wrap(() => call(...args)) : call;
    },
  });
}

/** A promise and the function that resolves it. */
function latch(): { opened: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

async function logsIn(secret: DatabaseSecret | undefined): Promise<boolean> {
  if (secret === undefined) return false;
  const session = await new PgConnector()
    .login(targetOf(secret), {
      connectTimeoutMs: 5_000,
      statementTimeoutMs: 5_000,
      maxScramIterations: 0,
    })
    .catch(() => undefined);
  await session?.close();
  return session !== undefined;
}

/** Runs the steps from `from` on, then ends the rotation as Secrets Manager does. */
async function finishRotation(
  mode: (typeof MODES)[number],
  secretArn: string,
  token: string,
  from: number,
) {
  const handler = handlerFor({ secrets: new SdkSecretStore(stack.client), env: modeEnv(mode) });
  for (const step of STEPS.slice(from)) {
    expect((await runStep(handler, step, secretArn, token)).error).toBeUndefined();
  }
  await completeRotation(stack.client, secretArn, token);
  const current = await readStage(stack.client, secretArn, 'AWSCURRENT');
  watch.secret(current?.password);
  expect(await logsIn(current)).toBe(true);
  return current;
}

describe.each(MODES)('racing deliveries, %s', (mode) => {
  const env = modeEnv(mode);
  const plain = () => new SdkSecretStore(stack.client);

  async function staged() {
    const user = await createRotatableUser(stack);
    watch.secret((await readStage(stack.client, user.secretArn, 'AWSCURRENT'))?.password);
    const token = await stagePending(stack.client, stack.secretsManager, user.secretArn);
    return { user, token };
  }

  it('createSecret: the delivery that loses the write keeps the value that won', async () => {
    const { user, token } = await staged();
    const other = latch();
    const arrived = latch();
    // A has read "no value yet" and is about to write when B writes first.
    const logs = new LogLines();
    const slow = handlerFor({
      secrets: around(plain(), 'putPending', async (call) => {
        arrived.open();
        await other.opened;
        return call();
      }),
      env,
      logs,
    });
    const first = runStep(slow, 'createSecret', user.secretArn, token);
    await arrived.opened; // A is at the write: now B runs, whatever the machine's speed
    const second = await runStep(
      handlerFor({ secrets: plain(), env }),
      'createSecret',
      user.secretArn,
      token,
    );
    const winner = await readStage(stack.client, user.secretArn, 'AWSPENDING');
    watch.secret(winner?.password);
    other.open();
    expect(second.error).toBeUndefined();
    expect((await first).error).toBeUndefined();
    expect(logs.messages).toContain(
      'createSecret: the pending version got a value while this one was being stored; keeping that one',
    );
    expect((await readStage(stack.client, user.secretArn, 'AWSPENDING'))?.password).toBe(
      winner?.password,
    );
    const current = await finishRotation(mode, user.secretArn, token, 1);
    expect(current?.password).toBe(winner?.password);
  });

  it('createSecret: a PutSecretValue whose answer is lost after it took effect', async () => {
    const { user, token } = await staged();
    const lossy = handlerFor({
      secrets: around(plain(), 'putPending', async (call) => {
        await call();
        throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      }),
      env,
    });
    expect((await runStep(lossy, 'createSecret', user.secretArn, token)).error).toBeUndefined();
    await finishRotation(mode, user.secretArn, token, 1);
  });

  it('setSecret: two deliveries at once both succeed and the pending password is set', async () => {
    const { user, token } = await staged();
    expect(
      (await runStep(handlerFor({ secrets: plain(), env }), 'createSecret', user.secretArn, token))
        .error,
    ).toBeUndefined();
    const [a, b] = await Promise.all(
      [0, 1].map(() =>
        runStep(handlerFor({ secrets: plain(), env }), 'setSecret', user.secretArn, token),
      ),
    );
    watch.error(a?.error);
    watch.error(b?.error);
    expect(a?.error).toBeUndefined();
    expect(b?.error).toBeUndefined();
    const pending = await readStage(stack.client, user.secretArn, 'AWSPENDING');
    watch.secret(pending?.password);
    // The pending user's (in alternating mode, the other user of the pair).
    const stored = (await stack.postgres.storedPassword(pending?.username ?? '')) ?? '';
    watch.secret(stored);
    expect(verifyPasswordAgainstVerifier(pending?.password ?? '', stored)).toBe(true);
    await finishRotation(mode, user.secretArn, token, 2);
  });

  it('testSecret: two deliveries at once both prove the pending version', async () => {
    const { user, token } = await staged();
    const handler = handlerFor({ secrets: plain(), env });
    for (const step of STEPS.slice(0, 2)) {
      expect((await runStep(handler, step, user.secretArn, token)).error).toBeUndefined();
    }
    const runs = await Promise.all(
      [0, 1].map(() =>
        runStep(handlerFor({ secrets: plain(), env }), 'testSecret', user.secretArn, token),
      ),
    );
    expect(runs.map((run) => run.error)).toEqual([undefined, undefined]);
    await finishRotation(mode, user.secretArn, token, 3);
  });

  it('finishSecret: the delivery whose label already moved to its token succeeds', async () => {
    const { user, token } = await staged();
    const handler = handlerFor({ secrets: plain(), env });
    for (const step of STEPS.slice(0, 3)) {
      expect((await runStep(handler, step, user.secretArn, token)).error).toBeUndefined();
    }
    // A has read the stages (AWSCURRENT on the old version) when B moves the label.
    const other = latch();
    const arrived = latch();
    const logs = new LogLines();
    const slow = handlerFor({
      secrets: around(plain(), 'promoteToCurrent', async (call) => {
        arrived.open();
        await other.opened;
        return call();
      }),
      env,
      logs,
    });
    const first = runStep(slow, 'finishSecret', user.secretArn, token);
    await arrived.opened; // A is at the write: now B runs, whatever the machine's speed
    const second = await runStep(handler, 'finishSecret', user.secretArn, token);
    other.open();
    expect(second.error).toBeUndefined();
    expect((await first).error).toBeUndefined();
    expect(logs.messages).toContain(
      'finishSecret: AWSCURRENT had already moved to the new version',
    );
    await finishRotation(mode, user.secretArn, token, 4);
  });

  it('finishSecret: an UpdateSecretVersionStage whose answer is lost after it took effect', async () => {
    const { user, token } = await staged();
    const handler = handlerFor({ secrets: plain(), env });
    for (const step of STEPS.slice(0, 3)) {
      expect((await runStep(handler, step, user.secretArn, token)).error).toBeUndefined();
    }
    const lossy = handlerFor({
      secrets: around(plain(), 'promoteToCurrent', async (call) => {
        await call();
        throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      }),
      env,
    });
    expect((await runStep(lossy, 'finishSecret', user.secretArn, token)).error).toBeUndefined();
    await finishRotation(mode, user.secretArn, token, 4);
  });

  it('a real failure of the write is still reported', async () => {
    const { user, token } = await staged();
    const broken = handlerFor({
      secrets: around(plain(), 'putPending', async () => {
        throw Object.assign(new Error('Access denied'), { name: 'AccessDeniedException' });
      }),
      env,
    });
    const run = await runStep(broken, 'createSecret', user.secretArn, token);
    expect(run.error).toMatchObject({ name: 'AccessDeniedException' });
    expect(await readStage(stack.client, user.secretArn, 'AWSPENDING')).toBeUndefined();
  });
});

describe('across this suite', () => {
  it('printed no password or verifier in any log line or error message', () => {
    expect(watch.leaks()).toEqual([]);
  });
});
