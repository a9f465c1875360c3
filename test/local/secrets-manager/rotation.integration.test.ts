/**
 * Conformance of the local endpoint's RotateSecret to the documented rotation
 * contract: asynchronous start, AWSPENDING staged without a value, the four
 * steps with one token, the end states, the "previous rotation isn't
 * complete" rule, RotateImmediately=false and CancelRotateSecret. Driven
 * through the real SDK; the rotation functions call the endpoint back over HTTP.
 */
import { randomUUID } from 'node:crypto';
import {
  CancelRotateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  RotateSecretCommand,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSecretsManagerClient,
  ROTATION_STEPS,
  type RotationInvocationUpdate,
  SecretsManagerEndpoint,
} from '../../../local/secrets-manager/index.js';
import {
  type CaughtError,
  caught,
  createSecret,
  gate,
  referenceRotation,
  stagesOf,
  uniqueName,
} from './helpers.js';

const LAMBDA_TIMEOUT_MS = 5_000;
let endpoint: SecretsManagerEndpoint;
let client: SecretsManagerClient;

beforeAll(async () => {
  endpoint = await SecretsManagerEndpoint.start({ lambdaTimeoutMs: LAMBDA_TIMEOUT_MS });
  client = createSecretsManagerClient(endpoint, { maxAttempts: 1 });
});

afterAll(async () => {
  client?.destroy();
  await endpoint?.stop();
});

/** Registers a reference rotation function under a fresh ARN. */
function registerReference(options: Parameters<typeof referenceRotation>[1] = {}) {
  const rotation = referenceRotation(client, options);
  const lambdaArn = endpoint.lambdaArn(uniqueName('rotator'));
  endpoint.registerRotationFunction(lambdaArn, rotation.fn);
  return { ...rotation, lambdaArn };
}

/** Starts a rotation with a 30-day schedule. */
function rotate(
  secretId: string,
  lambdaArn?: string,
  extra: { RotateImmediately?: boolean; ClientRequestToken?: string } = {},
) {
  return client.send(
    new RotateSecretCommand({
      SecretId: secretId,
      ...(lambdaArn ? { RotationLambdaARN: lambdaArn } : {}),
      RotationRules: { AutomaticallyAfterDays: 30 },
      ...extra,
    }),
  );
}

/** The recorded calls for one secret, as [step, outcome] pairs. */
function stepsOf(secretArn: string): [string, string][] {
  return endpoint.invocations
    .filter((i) => i.secretArn === secretArn)
    .map((i) => [i.step, i.outcome]);
}

describe('RotateSecret configuration', () => {
  it('answers InvalidRequestException when no rotation function ARN was ever given (RotateSecret / InvalidRequestException docs)', async () => {
    const { arn } = await createSecret(client, uniqueName('no-lambda'));
    const error = await caught(rotate(arn));
    expect(error).toMatchObject({
      name: 'InvalidRequestException',
      message: 'No Lambda rotation function ARN is associated with this secret.',
    });
    expect(await client.send(new DescribeSecretCommand({ SecretId: arn }))).not.toHaveProperty(
      'RotationEnabled',
    );
  });

  it('answers AccessDeniedException and changes nothing for a function it cannot invoke (recorded AWS response)', async () => {
    const { arn } = await createSecret(client, uniqueName('unknown-lambda'));
    const error = await caught(rotate(arn, endpoint.lambdaArn('not-registered')));
    expect(error).toMatchObject({
      name: 'AccessDeniedException',
      message:
        'Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com.',
      status: 400,
    });
    const described = await client.send(new DescribeSecretCommand({ SecretId: arn }));
    for (const field of ['RotationEnabled', 'RotationRules', 'RotationLambdaARN']) {
      expect(described).not.toHaveProperty(field);
    }
    expect(Object.keys(described.VersionIdsToStages ?? {})).toHaveLength(1);
  });
});

describe('a rotation', () => {
  it('answers at once with the ClientRequestToken as VersionId, AWSPENDING already on that version and no value in it yet (RotateSecret docs: asynchronous)', async () => {
    const hold = gate();
    let pendingRead: CaughtError | undefined;
    let stagesAtCreate: Record<string, string[]> | undefined;
    const reference = registerReference({
      holdAt: { step: 'createSecret', until: hold.promise },
      probe: async (event) => {
        if (event.Step !== 'createSecret') return;
        stagesAtCreate = await stagesOf(client, event.SecretId);
        pendingRead = await caught(
          client.send(
            new GetSecretValueCommand({ SecretId: event.SecretId, VersionStage: 'AWSPENDING' }),
          ),
        );
      },
    });
    const { arn, versionId: current } = await createSecret(client, uniqueName('async'));
    const token = randomUUID();
    const answer = await rotate(arn, reference.lambdaArn, { ClientRequestToken: token });
    expect(answer).toMatchObject({ ARN: arn, VersionId: token });

    // The answer came while createSecret is still held open.
    expect(stepsOf(arn)).toEqual([]);
    expect(await stagesOf(client, arn)).toEqual({
      [current]: ['AWSCURRENT'],
      [token]: ['AWSPENDING'],
    });
    expect(
      await caught(client.send(new GetSecretValueCommand({ SecretId: arn, VersionId: token }))),
    ).toMatchObject({
      name: 'ResourceNotFoundException',
      message: `Secrets Manager can't find the specified secret value for VersionId: ${token}`,
    });
    hold.open();
    expect(await endpoint.waitForRotation(arn, { timeoutMs: 10_000 })).toMatchObject({
      ok: true,
      token,
    });
    // Before createSecret ran, the function saw the valueless AWSPENDING version (design notes).
    expect(stagesAtCreate).toEqual({ [current]: ['AWSCURRENT'], [token]: ['AWSPENDING'] });
    expect(pendingRead).toEqual({
      name: 'ResourceNotFoundException',
      message:
        "Secrets Manager can't find the specified secret value for staging label: AWSPENDING",
      status: 400,
    });
  });

  it('calls createSecret, setSecret, testSecret and finishSecret in order with the same token, the secret ARN and a Lambda-like context (How rotation works docs)', async () => {
    const reference = registerReference();
    const name = uniqueName('steps');
    const { arn } = await createSecret(client, name);
    // SecretId in the request is the name; the events carry the ARN.
    const { VersionId: token } = await rotate(name, reference.lambdaArn);
    const outcome = await endpoint.waitForRotation(name, { timeoutMs: 10_000 });
    expect(outcome).toEqual({ secretArn: arn, token, ok: true, kind: 'rotation' });

    expect(reference.calls.map((c) => c.event.Step)).toEqual([...ROTATION_STEPS]);
    const functionName = reference.lambdaArn.split(':').pop();
    for (const call of reference.calls) {
      expect(call.event.SecretId).toBe(arn);
      expect(call.event.ClientRequestToken).toBe(token);
      expect(call.event.RotationToken).toBe(reference.calls[0]?.event.RotationToken);
      expect(call.functionName).toBe(functionName);
      expect(call.invokedFunctionArn).toBe(reference.lambdaArn);
      expect(call.remainingMs).toBeGreaterThan(0);
      expect(call.remainingMs).toBeLessThanOrEqual(LAMBDA_TIMEOUT_MS);
    }
    expect(new Set(reference.calls.map((c) => c.awsRequestId)).size).toBe(4);
    expect(stepsOf(arn)).toEqual(ROTATION_STEPS.map((step) => [step, 'succeeded']));
    // The RotationToken the function passed to PutSecretValue was recorded on the version.
    const version = endpoint.inspect(arn)?.versions.find((v) => v.versionId === token);
    expect(version?.rotationToken).toBe(reference.calls[0]?.event.RotationToken);
  });

  it('ends with AWSCURRENT on the new version, AWSPREVIOUS on the old, AWSPENDING removed, and LastRotatedDate set (RotateSecret docs, design notes)', async () => {
    const reference = registerReference();
    const { arn, versionId: old } = await createSecret(client, uniqueName('after'));
    const started = Date.now();
    const { VersionId: token = '' } = await rotate(arn, reference.lambdaArn);
    expect((await endpoint.waitForRotation(arn, { timeoutMs: 10_000 })).ok).toBe(true);

    const described = await client.send(new DescribeSecretCommand({ SecretId: arn }));
    expect(described.VersionIdsToStages).toEqual({
      [old]: ['AWSPREVIOUS'],
      [token]: ['AWSCURRENT'],
    });
    expect(described).toMatchObject({
      RotationEnabled: true,
      RotationLambdaARN: reference.lambdaArn,
      RotationRules: { AutomaticallyAfterDays: 30 },
    });
    const rotatedAt = described.LastRotatedDate?.getTime() ?? 0;
    expect(rotatedAt).toBeGreaterThanOrEqual(started - 1000);
    expect(described.NextRotationDate?.getTime()).toBe(rotatedAt + 30 * 86_400_000);
    const current = await client.send(new GetSecretValueCommand({ SecretId: arn }));
    expect(current.VersionId).toBe(token);
    expect(JSON.parse(current.SecretString ?? '{}')).toHaveProperty('password');
  });

  it('can leave AWSPENDING on the AWSCURRENT version instead, as AWS was recorded doing (RotateSecret docs: either end state)', async () => {
    const other = await SecretsManagerEndpoint.start({ keepPendingLabelAfterRotation: true });
    const otherClient = createSecretsManagerClient(other, { maxAttempts: 1 });
    try {
      const rotation = referenceRotation(otherClient);
      const lambdaArn = other.lambdaArn('keeper');
      other.registerRotationFunction(lambdaArn, rotation.fn);
      const { arn, versionId: old } = await createSecret(otherClient, uniqueName('keep'));
      const { VersionId: token = '' } = await otherClient.send(
        new RotateSecretCommand({ SecretId: arn, RotationLambdaARN: lambdaArn }),
      );
      expect((await other.waitForRotation(arn, { timeoutMs: 10_000 })).ok).toBe(true);
      expect(await stagesOf(otherClient, arn)).toEqual({
        [old]: ['AWSPREVIOUS'],
        [token]: ['AWSCURRENT', 'AWSPENDING'],
      });
      // That state is not an incomplete rotation: the next one starts.
      const next = await otherClient.send(new RotateSecretCommand({ SecretId: arn }));
      expect((await other.waitForRotation(arn, { timeoutMs: 10_000 })).token).toBe(next.VersionId);
    } finally {
      otherClient.destroy();
      await other.stop();
    }
  });

  it('reports each step to onInvocation listeners as it starts and ends (endpoint hook)', async () => {
    const reference = registerReference();
    const { arn } = await createSecret(client, uniqueName('listener'));
    const updates: RotationInvocationUpdate[] = [];
    const unsubscribe = endpoint.onInvocation((update) => {
      if (update.secretArn === arn) updates.push(update);
    });
    const failing = endpoint.onInvocation(() => {
      throw new Error('a broken listener must not matter');
    });
    try {
      await rotate(arn, reference.lambdaArn);
      expect((await endpoint.waitForRotation(arn, { timeoutMs: 10_000 })).ok).toBe(true);
    } finally {
      unsubscribe();
      failing();
    }
    expect(updates.map((u) => [u.step, u.outcome])).toEqual(
      ROTATION_STEPS.flatMap((step) => [
        [step, undefined],
        [step, 'succeeded'],
      ]),
    );
    expect(updates.every((u) => u.outcome === undefined || typeof u.durationMs === 'number')).toBe(
      true,
    );
  });
});

describe('a failed rotation', () => {
  it('stops at the step that throws and keeps AWSPENDING on the new version (RotateSecret docs: unsuccessful rotation)', async () => {
    const reference = registerReference({ failAt: 'setSecret' });
    const { arn, versionId: current } = await createSecret(client, uniqueName('fails'));
    const { VersionId: token = '' } = await rotate(arn, reference.lambdaArn);
    const outcome = await endpoint.waitForRotation(arn, { timeoutMs: 10_000 });
    expect(outcome).toEqual({
      secretArn: arn,
      token,
      ok: false,
      failedStep: 'setSecret',
      errorMessage: 'setSecret failed on purpose',
      kind: 'rotation',
    });
    expect(reference.calls.map((c) => c.event.Step)).toEqual(['createSecret', 'setSecret']);
    expect(stepsOf(arn)).toEqual([
      ['createSecret', 'succeeded'],
      ['setSecret', 'failed'],
    ]);
    expect(await stagesOf(client, arn)).toEqual({
      [current]: ['AWSCURRENT'],
      [token]: ['AWSPENDING'],
    });
    const described = await client.send(new DescribeSecretCommand({ SecretId: arn }));
    expect(described).not.toHaveProperty('LastRotatedDate');
  });

  it('answers the next RotateSecret "A previous rotation isn\'t complete" and reattempts that rotation with the same token (RotateSecret docs, design notes)', async () => {
    const reference = registerReference({ failAt: 'testSecret' });
    const { arn, versionId: old } = await createSecret(client, uniqueName('reattempt'));
    const { VersionId: token = '' } = await rotate(arn, reference.lambdaArn);
    expect((await endpoint.waitForRotation(arn, { timeoutMs: 10_000 })).failedStep).toBe(
      'testSecret',
    );

    reference.options.failAt = undefined;
    const error = await caught(rotate(arn, undefined, { ClientRequestToken: randomUUID() }));
    expect(error).toMatchObject({
      name: 'InvalidRequestException',
      message: "A previous rotation isn't complete. That rotation will be reattempted.",
    });
    const outcome = await endpoint.waitForRotation(arn, { timeoutMs: 10_000 });
    expect(outcome).toMatchObject({ ok: true, token });
    const tokens = new Set(reference.calls.map((c) => c.event.ClientRequestToken));
    expect(tokens).toEqual(new Set([token]));
    expect(reference.calls.map((c) => c.event.Step)).toEqual([
      'createSecret',
      'setSecret',
      'testSecret',
      ...ROTATION_STEPS,
    ]);
    expect(await stagesOf(client, arn)).toEqual({
      [old]: ['AWSPREVIOUS'],
      [token]: ['AWSCURRENT'],
    });
  });

  it('does not count AWSPENDING on the AWSCURRENT version as an incomplete rotation (RotateSecret docs)', async () => {
    const reference = registerReference();
    const { arn, versionId: v1 } = await createSecret(client, uniqueName('pending-on-current'));
    await client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: arn,
        VersionStage: 'AWSPENDING',
        MoveToVersionId: v1,
      }),
    );
    const { VersionId: token } = await rotate(arn, reference.lambdaArn);
    expect((await endpoint.waitForRotation(arn, { timeoutMs: 10_000 })).ok).toBe(true);
    expect(await stagesOf(client, arn)).toEqual({
      [v1]: ['AWSPREVIOUS'],
      [token ?? '']: ['AWSCURRENT'],
    });
  });

  it('fails a step that outlives the Lambda timeout with Lambda\'s "Task timed out" (Lambda timeout behaviour)', async () => {
    const slow = await SecretsManagerEndpoint.start({ lambdaTimeoutMs: 150 });
    const slowClient = createSecretsManagerClient(slow, { maxAttempts: 1 });
    try {
      const never = gate();
      const lambdaArn = slow.lambdaArn('slow');
      slow.registerRotationFunction(lambdaArn, () => never.promise);
      const { arn } = await createSecret(slowClient, uniqueName('timeout'));
      await slowClient.send(
        new RotateSecretCommand({ SecretId: arn, RotationLambdaARN: lambdaArn }),
      );
      const outcome = await slow.waitForRotation(arn, { timeoutMs: 5_000 });
      expect(outcome).toMatchObject({
        ok: false,
        failedStep: 'createSecret',
        errorMessage: 'Task timed out after 0.15 seconds',
      });
      expect(slow.invocations[0]?.durationMs).toBeGreaterThanOrEqual(140);
    } finally {
      slowClient.destroy();
      await slow.stop();
    }
  });

  it('records whatever a rotation function throws, even a non-Error, and keeps serving (crash safety)', async () => {
    const lambdaArn = endpoint.lambdaArn(uniqueName('throws-string'));
    endpoint.registerRotationFunction(lambdaArn, () => {
      // A synchronous throw of a non-Error: the worst a function can do.
      throw 'plain string';
    });
    const { arn } = await createSecret(client, uniqueName('crash'));
    await rotate(arn, lambdaArn);
    expect(await endpoint.waitForRotation(arn, { timeoutMs: 10_000 })).toMatchObject({
      ok: false,
      failedStep: 'createSecret',
      errorMessage: 'plain string',
    });
    expect((await client.send(new DescribeSecretCommand({ SecretId: arn }))).ARN).toBe(arn);
  });
});

describe('RotateImmediately=false', () => {
  it('runs only testSecret, against a temporary AWSPENDING version holding the current value, then removes that version (RotateSecret RotateImmediately docs)', async () => {
    // Our reading of "Secrets Manager tests the rotation configuration by running the testSecret
    // step ... This test creates an AWSPENDING version of the secret and then removes it."
    let pendingAtTest: string | undefined;
    const reference = registerReference({
      probe: async (event) => {
        const pending = await client.send(
          new GetSecretValueCommand({ SecretId: event.SecretId, VersionStage: 'AWSPENDING' }),
        );
        pendingAtTest = pending.SecretString;
        expect(pending.VersionId).toBe(event.ClientRequestToken);
      },
    });
    const { arn, versionId: current } = await createSecret(
      client,
      uniqueName('not-now'),
      'current-value',
    );
    const { VersionId: token } = await rotate(arn, reference.lambdaArn, {
      RotateImmediately: false,
    });
    const outcome = await endpoint.waitForRotation(arn, { timeoutMs: 10_000 });
    expect(outcome).toEqual({ secretArn: arn, token, ok: true, kind: 'test' });
    expect(reference.calls.map((c) => c.event.Step)).toEqual(['testSecret']);
    expect(pendingAtTest).toBe('current-value');

    const all = await client.send(
      new ListSecretVersionIdsCommand({ SecretId: arn, IncludeDeprecated: true }),
    );
    expect(all.Versions?.map((v) => [v.VersionId, v.VersionStages])).toEqual([
      [current, ['AWSCURRENT']],
    ]);
    const described = await client.send(new DescribeSecretCommand({ SecretId: arn }));
    expect(described).toMatchObject({
      RotationEnabled: true,
      RotationRules: { AutomaticallyAfterDays: 30 },
    });
    expect(described).not.toHaveProperty('LastRotatedDate');
    // Next rotation: 30 days after rotation was configured.
    expect(described.NextRotationDate).toBeInstanceOf(Date);
  });

  it('removes the test version even when testSecret fails, so the next rotation is not blocked (RotateSecret RotateImmediately docs)', async () => {
    const reference = registerReference({ failAt: 'testSecret' });
    const { arn, versionId: current } = await createSecret(client, uniqueName('not-now-fails'));
    await rotate(arn, reference.lambdaArn, { RotateImmediately: false });
    expect(await endpoint.waitForRotation(arn, { timeoutMs: 10_000 })).toMatchObject({
      ok: false,
      failedStep: 'testSecret',
      kind: 'test',
    });
    expect(await stagesOf(client, arn)).toEqual({ [current]: ['AWSCURRENT'] });
    reference.options.failAt = undefined;
    await rotate(arn);
    expect(await endpoint.waitForRotation(arn, { timeoutMs: 10_000 })).toMatchObject({
      ok: true,
      kind: 'rotation',
    });
  });
});

describe('CancelRotateSecret', () => {
  it('turns rotation off, keeps the function and schedule, and leaves AWSPENDING for the caller to remove (CancelRotateSecret docs)', async () => {
    const hold = gate();
    const reference = registerReference({ holdAt: { step: 'setSecret', until: hold.promise } });
    const { arn, versionId: current } = await createSecret(client, uniqueName('cancel'));
    const { VersionId: token = '' } = await rotate(arn, reference.lambdaArn);
    // Wait until setSecret is running, then cancel the rotation in progress.
    await vitestWaitFor(() => reference.calls.some((c) => c.event.Step === 'setSecret'));
    const cancelled = await client.send(new CancelRotateSecretCommand({ SecretId: arn }));
    expect(cancelled).toMatchObject({ ARN: arn, VersionId: token });
    hold.open();
    const outcome = await endpoint.waitForRotation(arn, { timeoutMs: 10_000 });
    expect(outcome).toMatchObject({ ok: false, token });
    expect(outcome.errorMessage).toMatch(/cancel/i);
    // No step after the one in progress.
    expect(reference.calls.map((c) => c.event.Step)).toEqual(['createSecret', 'setSecret']);

    const described = await client.send(new DescribeSecretCommand({ SecretId: arn }));
    expect(described).toMatchObject({
      RotationEnabled: false,
      RotationLambdaARN: reference.lambdaArn,
      RotationRules: { AutomaticallyAfterDays: 30 },
    });
    expect(described).not.toHaveProperty('NextRotationDate');
    expect(described.VersionIdsToStages).toEqual({
      [current]: ['AWSCURRENT'],
      [token]: ['AWSPENDING'],
    });

    // After the caller removes AWSPENDING, RotateSecret turns rotation on again with the stored function.
    await client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: arn,
        VersionStage: 'AWSPENDING',
        RemoveFromVersionId: token,
      }),
    );
    await client.send(new RotateSecretCommand({ SecretId: arn }));
    expect(await endpoint.waitForRotation(arn, { timeoutMs: 10_000 })).toMatchObject({ ok: true });
    expect((await client.send(new DescribeSecretCommand({ SecretId: arn }))).RotationEnabled).toBe(
      true,
    );
  });
});

describe('waitForRotation', () => {
  it('returns the outcome of the last rotation that ended, and refuses a secret that never rotated (endpoint hook)', async () => {
    const reference = registerReference();
    const { arn } = await createSecret(client, uniqueName('wait'));
    await expect(endpoint.waitForRotation(arn, { timeoutMs: 100 })).rejects.toThrow(/No rotation/);
    const { VersionId: token } = await rotate(arn, reference.lambdaArn);
    const first = await endpoint.waitForRotation(arn, { timeoutMs: 10_000 });
    expect(await endpoint.waitForRotation(arn, { timeoutMs: 10 })).toEqual(first);
    expect(first.token).toBe(token);
  });
});

/** Polls until `condition` holds; the rotation runs on the same event loop, so yield between checks. */
async function vitestWaitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
