/**
 * Conformance of the local Secrets Manager endpoint to the documented
 * behaviour of secrets, versions and staging labels, driven through the real
 * `@aws-sdk/client-secrets-manager`. Each test names the AWS document (API
 * reference page, or an AWS-validated recording) it checks.
 */
import { randomUUID } from 'node:crypto';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  type GetRandomPasswordCommandInput,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSecretsManagerClient,
  PASSWORD_PUNCTUATION,
  SecretsManagerEndpoint,
} from '../../../local/secrets-manager/index.js';
import { caught, createSecret, stagesOf, uniqueName } from './helpers.js';

let endpoint: SecretsManagerEndpoint;
let client: SecretsManagerClient;

beforeAll(async () => {
  endpoint = await SecretsManagerEndpoint.start({ region: 'eu-west-3', accountId: '210987654321' });
  client = createSecretsManagerClient(endpoint, { maxAttempts: 1 });
});

afterAll(async () => {
  client?.destroy();
  await endpoint?.stop();
});

/** Puts a new AWSCURRENT value and returns its version id. */
async function putCurrent(secretId: string, value: string): Promise<string> {
  const out = await client.send(
    new PutSecretValueCommand({ SecretId: secretId, SecretString: value }),
  );
  return out.VersionId ?? '';
}

describe('secrets and their ARNs', () => {
  it('names a new secret arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 random characters> (CreateSecret docs)', async () => {
    const name = uniqueName('arn/shape');
    const first = await client.send(new CreateSecretCommand({ Name: name, SecretString: 'v1' }));
    expect(first.Name).toBe(name);
    expect(first.ARN).toMatch(
      new RegExp(`^arn:aws:secretsmanager:eu-west-3:210987654321:secret:${name}-[A-Za-z0-9]{6}$`),
    );
    // Recreated after a forced delete, the same name gets another ARN ("This ensures ... don't get access").
    await client.send(
      new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }),
    );
    const second = await client.send(new CreateSecretCommand({ Name: name, SecretString: 'v1' }));
    expect(second.ARN).not.toBe(first.ARN);
  });

  it('makes the ClientRequestToken the VersionId of the first version, labelled AWSCURRENT (CreateSecret docs)', async () => {
    const token = randomUUID();
    const out = await client.send(
      new CreateSecretCommand({
        Name: uniqueName('token'),
        SecretString: 'v1',
        ClientRequestToken: token,
      }),
    );
    expect(out.VersionId).toBe(token);
    expect(await stagesOf(client, out.ARN ?? '')).toEqual({ [token]: ['AWSCURRENT'] });
  });

  it('accepts a secret name, its full ARN, or its partial ARN as SecretId (GetSecretValue SecretId docs)', async () => {
    const name = uniqueName('lookup');
    const { arn } = await createSecret(client, name, 'looked-up');
    for (const secretId of [name, arn, arn.slice(0, -7)]) {
      const out = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
      expect(out).toMatchObject({ ARN: arn, Name: name, SecretString: 'looked-up' });
    }
  });

  it('answers ResourceNotFoundException for a secret that does not exist (recorded AWS response)', async () => {
    const error = await caught(
      client.send(new DescribeSecretCommand({ SecretId: uniqueName('none') })),
    );
    expect(error).toEqual({
      name: 'ResourceNotFoundException',
      message: "Secrets Manager can't find the specified secret.",
      status: 400,
    });
  });

  it('answers ResourceExistsException when CreateSecret reuses a name (recorded AWS response)', async () => {
    const name = uniqueName('taken');
    await createSecret(client, name);
    const error = await caught(
      client.send(new CreateSecretCommand({ Name: name, SecretString: 'x' })),
    );
    expect(error).toMatchObject({
      name: 'ResourceExistsException',
      message: `The operation failed because the secret ${name} already exists.`,
    });
  });

  it('answers ValidationException for a name outside letters, digits and /_+=.@- (recorded AWS response)', async () => {
    const error = await caught(
      client.send(new CreateSecretCommand({ Name: 'Inv Name', SecretString: 'x' })),
    );
    expect(error).toMatchObject({
      name: 'ValidationException',
      message:
        'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!',
    });
  });
});

describe('PutSecretValue and staging labels', () => {
  it('moves AWSCURRENT to the new version and AWSPREVIOUS to the old one when VersionStages is left out (PutSecretValue docs)', async () => {
    const { arn, versionId: v1 } = await createSecret(client, uniqueName('put-default'));
    const v2 = await putCurrent(arn, 'v2');
    expect(await stagesOf(client, arn)).toEqual({ [v1]: ['AWSPREVIOUS'], [v2]: ['AWSCURRENT'] });
    const v3 = await putCurrent(arn, 'v3');
    // AWSPREVIOUS is on one version only: v1 is now deprecated and left out.
    expect(await stagesOf(client, arn)).toEqual({ [v2]: ['AWSPREVIOUS'], [v3]: ['AWSCURRENT'] });
  });

  it('attaches only the given labels, taking each off any version that had it (PutSecretValue VersionStages docs)', async () => {
    const { arn, versionId: v1 } = await createSecret(client, uniqueName('put-stages'));
    const p1 = randomUUID();
    await client.send(
      new PutSecretValueCommand({
        SecretId: arn,
        ClientRequestToken: p1,
        SecretString: 'pending-1',
        VersionStages: ['AWSPENDING', 'CUSTOM'],
      }),
    );
    expect(await stagesOf(client, arn)).toEqual({
      [v1]: ['AWSCURRENT'],
      [p1]: ['AWSPENDING', 'CUSTOM'],
    });
    const p2 = randomUUID();
    const out = await client.send(
      new PutSecretValueCommand({
        SecretId: arn,
        ClientRequestToken: p2,
        SecretString: 'pending-2',
        VersionStages: ['AWSPENDING'],
      }),
    );
    expect(out.VersionStages).toEqual(['AWSPENDING']);
    expect(await stagesOf(client, arn)).toEqual({
      [v1]: ['AWSCURRENT'],
      [p1]: ['CUSTOM'],
      [p2]: ['AWSPENDING'],
    });
    const current = await client.send(new GetSecretValueCommand({ SecretId: arn }));
    expect(current.VersionId).toBe(v1);
  });

  it('succeeds and does nothing when the ClientRequestToken names a version with the same value (PutSecretValue idempotency docs)', async () => {
    const { arn, versionId: v1 } = await createSecret(client, uniqueName('put-idem'));
    const token = randomUUID();
    const put = () =>
      client.send(
        new PutSecretValueCommand({
          SecretId: arn,
          ClientRequestToken: token,
          SecretString: 'same',
        }),
      );
    await put();
    // A label moved by hand must stay where it is: the retry does nothing.
    await client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: arn,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: v1,
        RemoveFromVersionId: token,
      }),
    );
    const before = await stagesOf(client, arn);
    const retry = await put();
    expect(retry.VersionId).toBe(token);
    expect(retry.VersionStages).toEqual(['AWSPREVIOUS']);
    expect(await stagesOf(client, arn)).toEqual(before);
    const listed = await client.send(
      new ListSecretVersionIdsCommand({ SecretId: arn, IncludeDeprecated: true }),
    );
    expect(listed.Versions?.map((v) => v.VersionId)).toEqual([v1, token]);
  });

  it('answers ResourceExistsException when the ClientRequestToken names a version with another value (PutSecretValue idempotency docs)', async () => {
    const { arn } = await createSecret(client, uniqueName('put-conflict'));
    const token = randomUUID();
    await client.send(
      new PutSecretValueCommand({
        SecretId: arn,
        ClientRequestToken: token,
        SecretString: 'first',
      }),
    );
    const error = await caught(
      client.send(
        new PutSecretValueCommand({
          SecretId: arn,
          ClientRequestToken: token,
          SecretString: 'second',
        }),
      ),
    );
    expect(error).toMatchObject({
      name: 'ResourceExistsException',
      message: `You can't use ClientRequestToken ${token} because that value is already in use for a version of secret ${arn}.`,
    });
    const value = await client.send(new GetSecretValueCommand({ SecretId: arn, VersionId: token }));
    expect(value.SecretString).toBe('first');
  });

  it('records the RotationToken PutSecretValue receives on the version it creates (PutSecretValue RotationToken docs)', async () => {
    const { arn } = await createSecret(client, uniqueName('rotation-token'));
    const token = randomUUID();
    const rotationToken = randomUUID();
    await client.send(
      new PutSecretValueCommand({
        SecretId: arn,
        ClientRequestToken: token,
        SecretString: 'pending',
        VersionStages: ['AWSPENDING'],
        RotationToken: rotationToken,
      }),
    );
    const version = endpoint.inspect(arn)?.versions.find((v) => v.versionId === token);
    expect(version).toMatchObject({ rotationToken, hasValue: true, stages: ['AWSPENDING'] });
  });

  it('labels the first version of a secret created without a value AWSCURRENT, whatever VersionStages says (PutSecretValue docs)', async () => {
    const name = uniqueName('empty');
    const created = await client.send(new CreateSecretCommand({ Name: name }));
    expect(created.VersionId).toBeUndefined();
    expect(
      (await client.send(new DescribeSecretCommand({ SecretId: name }))).VersionIdsToStages,
    ).toBeUndefined();
    const out = await client.send(
      new PutSecretValueCommand({
        SecretId: name,
        SecretString: 'first',
        VersionStages: ['AWSPENDING'],
      }),
    );
    expect(out.VersionStages).toEqual(['AWSCURRENT', 'AWSPENDING']);
  });
});

describe('UpdateSecretVersionStage', () => {
  it('moves AWSPREVIOUS to the old version when AWSCURRENT moves (UpdateSecretVersionStage docs)', async () => {
    const { arn, versionId: v1 } = await createSecret(client, uniqueName('uvs-previous'));
    const pending = randomUUID();
    await client.send(
      new PutSecretValueCommand({
        SecretId: arn,
        ClientRequestToken: pending,
        SecretString: 'next',
        VersionStages: ['AWSPENDING'],
      }),
    );
    await client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: arn,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: pending,
        RemoveFromVersionId: v1,
      }),
    );
    // As recorded from AWS: the moved-to version keeps AWSPENDING next to AWSCURRENT.
    expect(await stagesOf(client, arn)).toEqual({
      [v1]: ['AWSPREVIOUS'],
      [pending]: ['AWSCURRENT', 'AWSPENDING'],
    });
    // Rolling back moves AWSPREVIOUS the other way.
    await client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: arn,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: v1,
        RemoveFromVersionId: pending,
      }),
    );
    expect(await stagesOf(client, arn)).toEqual({
      [v1]: ['AWSCURRENT'],
      [pending]: ['AWSPENDING', 'AWSPREVIOUS'],
    });
  });

  it('refuses to move a label attached to another version without RemoveFromVersionId (UpdateSecretVersionStage RemoveFromVersionId docs)', async () => {
    const { arn, versionId: v1 } = await createSecret(client, uniqueName('uvs-missing'));
    const v2 = randomUUID();
    await client.send(
      new PutSecretValueCommand({
        SecretId: arn,
        ClientRequestToken: v2,
        SecretString: 'b',
        VersionStages: ['X'],
      }),
    );
    const error = await caught(
      client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: arn,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: v2,
        }),
      ),
    );
    expect(error).toMatchObject({
      name: 'InvalidParameterException',
      message: `The parameter RemoveFromVersionId can't be empty. Staging label AWSCURRENT is currently attached to version ${v1}, so you must explicitly reference that version in RemoveFromVersionId.`,
    });
    expect(await stagesOf(client, arn)).toEqual({ [v1]: ['AWSCURRENT'], [v2]: ['X'] });
  });

  it('refuses a RemoveFromVersionId that is not the version holding the label (UpdateSecretVersionStage RemoveFromVersionId docs)', async () => {
    const { arn, versionId: v1 } = await createSecret(client, uniqueName('uvs-wrong'));
    const v2 = randomUUID();
    const v3 = randomUUID();
    for (const id of [v2, v3]) {
      await client.send(
        new PutSecretValueCommand({
          SecretId: arn,
          ClientRequestToken: id,
          SecretString: id,
          VersionStages: [`L-${id}`],
        }),
      );
    }
    const move = await caught(
      client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: arn,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: v2,
          RemoveFromVersionId: v3,
        }),
      ),
    );
    expect(move.name).toBe('InvalidParameterException');
    expect(move.message).toContain('RemoveFromVersionId');
    const remove = await caught(
      client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: arn,
          VersionStage: 'AWSCURRENT',
          RemoveFromVersionId: v2,
        }),
      ),
    );
    expect(remove.name).toBe('InvalidParameterException');
    expect((await stagesOf(client, arn))[v1]).toEqual(['AWSCURRENT']);
  });

  it('takes a label off with RemoveFromVersionId alone, leaving a version without labels deprecated (UpdateSecretVersionStage and ListSecretVersionIds docs)', async () => {
    const { arn, versionId: v1 } = await createSecret(client, uniqueName('uvs-remove'));
    const v2 = randomUUID();
    await client.send(
      new PutSecretValueCommand({
        SecretId: arn,
        ClientRequestToken: v2,
        SecretString: 'b',
        VersionStages: ['ONLY'],
      }),
    );
    await client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: arn,
        VersionStage: 'ONLY',
        RemoveFromVersionId: v2,
      }),
    );
    expect(await stagesOf(client, arn)).toEqual({ [v1]: ['AWSCURRENT'] });
    const visible = await client.send(new ListSecretVersionIdsCommand({ SecretId: arn }));
    expect(visible.Versions?.map((v) => v.VersionId)).toEqual([v1]);
    const all = await client.send(
      new ListSecretVersionIdsCommand({ SecretId: arn, IncludeDeprecated: true }),
    );
    expect(all.Versions?.map((v) => [v.VersionId, v.VersionStages])).toEqual([
      [v1, ['AWSCURRENT']],
      [v2, undefined],
    ]);
    // A deprecated version keeps its value: it can still be read by VersionId.
    expect(
      (await client.send(new GetSecretValueCommand({ SecretId: arn, VersionId: v2 }))).SecretString,
    ).toBe('b');
  });
});

describe('GetSecretValue', () => {
  it('returns AWSCURRENT by default, or the version a VersionStage or VersionId names (GetSecretValue docs)', async () => {
    const { arn, versionId: v1 } = await createSecret(client, uniqueName('get'), 'one');
    const v2 = await putCurrent(arn, 'two');
    const current = await client.send(new GetSecretValueCommand({ SecretId: arn }));
    expect(current).toMatchObject({
      VersionId: v2,
      SecretString: 'two',
      VersionStages: ['AWSCURRENT'],
    });
    expect(current.CreatedDate).toBeInstanceOf(Date);
    const previous = await client.send(
      new GetSecretValueCommand({ SecretId: arn, VersionStage: 'AWSPREVIOUS' }),
    );
    expect(previous).toMatchObject({ VersionId: v1, SecretString: 'one' });
    const byId = await client.send(
      new GetSecretValueCommand({ SecretId: arn, VersionId: v1, VersionStage: 'AWSPREVIOUS' }),
    );
    expect(byId.SecretString).toBe('one');
  });

  it('answers InvalidRequestException when VersionId and VersionStage name different versions (recorded AWS response)', async () => {
    const { arn, versionId: v1 } = await createSecret(client, uniqueName('get-mismatch'));
    await putCurrent(arn, 'two');
    const error = await caught(
      client.send(
        new GetSecretValueCommand({ SecretId: arn, VersionId: v1, VersionStage: 'AWSCURRENT' }),
      ),
    );
    expect(error).toMatchObject({
      name: 'InvalidRequestException',
      message: 'You provided a VersionStage that is not associated to the provided VersionId.',
    });
  });

  it('answers ResourceNotFoundException for a label or VersionId no version has (recorded AWS responses)', async () => {
    const { arn } = await createSecret(client, uniqueName('get-missing'));
    expect(
      await caught(
        client.send(new GetSecretValueCommand({ SecretId: arn, VersionStage: 'AWSPREVIOUS' })),
      ),
    ).toMatchObject({
      name: 'ResourceNotFoundException',
      message:
        "Secrets Manager can't find the specified secret value for staging label: AWSPREVIOUS",
    });
    const unknown = randomUUID();
    expect(
      await caught(client.send(new GetSecretValueCommand({ SecretId: arn, VersionId: unknown }))),
    ).toMatchObject({
      name: 'ResourceNotFoundException',
      message: `Secrets Manager can't find the specified secret value for VersionId: ${unknown}`,
    });
  });

  it('returns SecretBinary as the bytes that were stored (GetSecretValue SecretBinary docs)', async () => {
    const bytes = new Uint8Array([0, 1, 2, 250, 255]);
    const name = uniqueName('binary');
    await client.send(new CreateSecretCommand({ Name: name, SecretBinary: bytes }));
    const out = await client.send(new GetSecretValueCommand({ SecretId: name }));
    expect(out.SecretString).toBeUndefined();
    expect(Array.from(out.SecretBinary ?? [])).toEqual(Array.from(bytes));
  });
});

describe('DescribeSecret and ListSecretVersionIds', () => {
  it('returns only fields that have a value, dates as timestamps, and VersionIdsToStages for labelled versions only (DescribeSecret docs)', async () => {
    const name = uniqueName('describe');
    const before = Date.now();
    const created = await client.send(
      new CreateSecretCommand({
        Name: name,
        SecretString: 'x',
        Description: 'for the describe test',
        Tags: [{ Key: 'team', Value: 'db' }],
      }),
    );
    const out = await client.send(new DescribeSecretCommand({ SecretId: name }));
    expect(out).toMatchObject({
      ARN: created.ARN,
      Name: name,
      Description: 'for the describe test',
      Tags: [{ Key: 'team', Value: 'db' }],
      VersionIdsToStages: { [created.VersionId ?? '']: ['AWSCURRENT'] },
    });
    // Never configured for rotation: no rotation fields, not even RotationEnabled=false.
    for (const field of [
      'RotationEnabled',
      'RotationLambdaARN',
      'RotationRules',
      'LastRotatedDate',
      'NextRotationDate',
      'DeletedDate',
      'LastAccessedDate',
    ]) {
      expect(out).not.toHaveProperty(field);
    }
    expect(out.CreatedDate?.getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(out.CreatedDate?.getTime()).toBeLessThanOrEqual(Date.now() + 1000);
    expect(out.LastChangedDate).toBeInstanceOf(Date);

    // JSON 1.1 timestamps are epoch seconds (numbers) on the wire.
    const raw = await fetch(endpoint.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'secretsmanager.DescribeSecret',
      },
      body: JSON.stringify({ SecretId: name }),
    });
    const body = (await raw.json()) as { CreatedDate: unknown };
    expect(typeof body.CreatedDate).toBe('number');
    expect(
      Math.abs((body.CreatedDate as number) * 1000 - (out.CreatedDate?.getTime() ?? 0)),
    ).toBeLessThan(1);
  });

  it('sets LastAccessedDate to the day a value was read (DescribeSecret LastAccessedDate docs)', async () => {
    const { arn } = await createSecret(client, uniqueName('accessed'));
    await client.send(new GetSecretValueCommand({ SecretId: arn }));
    const out = await client.send(new DescribeSecretCommand({ SecretId: arn }));
    const today = new Date();
    today.setUTCHours(0, 0, 0, 0);
    expect(out.LastAccessedDate?.getTime()).toBe(today.getTime());
  });

  it('pages ListSecretVersionIds with MaxResults and NextToken (ListSecretVersionIds docs)', async () => {
    const { arn, versionId: v1 } = await createSecret(client, uniqueName('pages'));
    const v2 = await putCurrent(arn, 'two');
    const first = await client.send(
      new ListSecretVersionIdsCommand({ SecretId: arn, MaxResults: 1 }),
    );
    expect(first.Versions?.map((v) => v.VersionId)).toEqual([v1]);
    expect(first.NextToken).toBeDefined();
    const second = await client.send(
      new ListSecretVersionIdsCommand({ SecretId: arn, MaxResults: 1, NextToken: first.NextToken }),
    );
    expect(second.Versions?.map((v) => v.VersionId)).toEqual([v2]);
    expect(second.NextToken).toBeUndefined();
    expect(second.Versions?.[0]?.KmsKeyIds).toEqual(['DefaultEncryptionKey']);
  });
});

describe('DeleteSecret', () => {
  it('schedules deletion after a recovery window: DeletionDate, DeletedDate, and no value until then (DeleteSecret docs)', async () => {
    const name = uniqueName('recovery');
    await createSecret(client, name);
    const before = Date.now();
    const out = await client.send(
      new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 7 }),
    );
    const week = 7 * 86_400_000;
    expect(out.DeletionDate?.getTime()).toBeGreaterThanOrEqual(before + week - 1000);
    expect(out.DeletionDate?.getTime()).toBeLessThanOrEqual(Date.now() + week + 1000);

    const described = await client.send(new DescribeSecretCommand({ SecretId: name }));
    expect(described.DeletedDate?.getTime()).toBe(out.DeletionDate?.getTime());

    const marked = {
      name: 'InvalidRequestException',
      message: "You can't perform this operation on the secret because it was marked for deletion.",
    };
    expect(await caught(client.send(new GetSecretValueCommand({ SecretId: name })))).toMatchObject(
      marked,
    );
    expect(
      await caught(client.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'y' }))),
    ).toMatchObject(marked);
    expect(
      await caught(client.send(new CreateSecretCommand({ Name: name, SecretString: 'y' }))),
    ).toMatchObject({
      name: 'InvalidRequestException',
      message:
        "You can't create this secret because a secret with this name is already scheduled for deletion.",
    });
  });

  it('uses a 30-day window by default (DeleteSecret RecoveryWindowInDays docs)', async () => {
    const name = uniqueName('default-window');
    await createSecret(client, name);
    const before = Date.now();
    const out = await client.send(new DeleteSecretCommand({ SecretId: name }));
    const days = ((out.DeletionDate?.getTime() ?? 0) - before) / 86_400_000;
    expect(days).toBeGreaterThan(29.99);
    expect(days).toBeLessThan(30.01);
  });

  it('deletes at once with ForceDeleteWithoutRecovery, also for a secret already scheduled or never created (DeleteSecret docs)', async () => {
    const name = uniqueName('force');
    await createSecret(client, name);
    await client.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 10 }));
    await client.send(
      new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }),
    );
    expect(await caught(client.send(new DescribeSecretCommand({ SecretId: name })))).toMatchObject({
      name: 'ResourceNotFoundException',
    });
    // The name is free again.
    await createSecret(client, name);
    // "If you forcibly delete an already deleted or nonexistent secret, the operation does not return ResourceNotFoundException."
    const ghost = uniqueName('ghost');
    const out = await client.send(
      new DeleteSecretCommand({ SecretId: ghost, ForceDeleteWithoutRecovery: true }),
    );
    expect(out.Name).toBe(ghost);
    expect(await caught(client.send(new DeleteSecretCommand({ SecretId: ghost })))).toMatchObject({
      name: 'ResourceNotFoundException',
    });
  });

  it('refuses ForceDeleteWithoutRecovery together with RecoveryWindowInDays, and windows outside 7 to 30 days (DeleteSecret docs)', async () => {
    const name = uniqueName('bad-window');
    await createSecret(client, name);
    const both = await caught(
      client.send(
        new DeleteSecretCommand({
          SecretId: name,
          ForceDeleteWithoutRecovery: true,
          RecoveryWindowInDays: 7,
        }),
      ),
    );
    expect(both.name).toBe('InvalidParameterException');
    for (const days of [6, 31]) {
      const error = await caught(
        client.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: days })),
      );
      expect(error.name).toBe('InvalidParameterException');
    }
    // Refused requests changed nothing.
    expect(
      (await client.send(new DescribeSecretCommand({ SecretId: name }))).DeletedDate,
    ).toBeUndefined();
  });
});

describe('GetRandomPassword', () => {
  const LOWER = /[a-z]/;
  const UPPER = /[A-Z]/;
  const DIGIT = /[0-9]/;
  const isPunctuation = (c: string) => PASSWORD_PUNCTUATION.includes(c);
  const generate = async (input: GetRandomPasswordCommandInput) =>
    (await client.send(new GetRandomPasswordCommand(input))).RandomPassword ?? '';

  it('returns 32 characters with a lowercase, an uppercase, a digit and a punctuation character by default (GetRandomPassword docs)', async () => {
    const passwords = await Promise.all(Array.from({ length: 20 }, () => generate({})));
    for (const password of passwords) {
      expect(password).toHaveLength(32);
      expect(password).toMatch(LOWER);
      expect(password).toMatch(UPPER);
      expect(password).toMatch(DIGIT);
      expect([...password].some(isPunctuation)).toBe(true);
      expect(password).not.toContain(' ');
    }
    expect(new Set(passwords).size).toBe(passwords.length);
  });

  it('honours PasswordLength, ExcludeNumbers, ExcludePunctuation, ExcludeUppercase and ExcludeLowercase (GetRandomPassword docs)', async () => {
    const lettersOnly = await generate({
      PasswordLength: 200,
      ExcludeNumbers: true,
      ExcludePunctuation: true,
    });
    expect(lettersOnly).toMatch(/^[A-Za-z]{200}$/);
    const digitsOnly = await generate({
      PasswordLength: 50,
      ExcludeLowercase: true,
      ExcludeUppercase: true,
      ExcludePunctuation: true,
    });
    expect(digitsOnly).toMatch(/^[0-9]{50}$/);
    const punctuationOnly = await generate({
      PasswordLength: 50,
      ExcludeLowercase: true,
      ExcludeUppercase: true,
      ExcludeNumbers: true,
    });
    expect([...punctuationOnly].every(isPunctuation)).toBe(true);
  });

  it('leaves out every ExcludeCharacters character and includes spaces only with IncludeSpace (GetRandomPassword docs)', async () => {
    const excluded = 'aeiouAEIOU01!"\'\\/@';
    const password = await generate({ PasswordLength: 4096, ExcludeCharacters: excluded });
    for (const c of excluded) expect(password).not.toContain(c);
    const spaced = await generate({
      PasswordLength: 400,
      IncludeSpace: true,
      ExcludeLowercase: true,
      ExcludeUppercase: true,
      ExcludePunctuation: true,
    });
    expect(spaced).toMatch(/^[0-9 ]{400}$/);
    expect(spaced).toContain(' ');
  });

  it('requires each included type only while RequireEachIncludedType is true (GetRandomPassword docs)', async () => {
    expect(
      await caught(client.send(new GetRandomPasswordCommand({ PasswordLength: 3 }))),
    ).toMatchObject({
      name: 'InvalidParameterException',
      message: 'Password length is too short based on the required types.',
    });
    const short = await generate({ PasswordLength: 3, RequireEachIncludedType: false });
    expect(short).toHaveLength(3);
    const four = await generate({ PasswordLength: 4 });
    expect(four).toMatch(LOWER);
    expect(four).toMatch(UPPER);
    expect(four).toMatch(DIGIT);
    expect([...four].some(isPunctuation)).toBe(true);
  });

  it('answers ValidationException for a PasswordLength above 4096 (GetRandomPassword constraints)', async () => {
    expect(
      await caught(client.send(new GetRandomPasswordCommand({ PasswordLength: 4097 }))),
    ).toMatchObject({
      name: 'ValidationException',
      message:
        "1 validation error detected: Value '4097' at 'passwordLength' failed to satisfy constraint: Member must have value less than or equal to 4096",
    });
  });
});

describe('ClientRequestToken on raw requests', () => {
  it('answers InvalidRequestException to a PutSecretValue without ClientRequestToken, which only raw HTTP callers can send (recorded AWS response)', async () => {
    const { arn } = await createSecret(client, uniqueName('raw-token'));
    const response = await fetch(endpoint.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'secretsmanager.PutSecretValue',
      },
      body: JSON.stringify({ SecretId: arn, SecretString: 'raw' }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      __type: 'InvalidRequestException',
      message: 'You must provide a ClientRequestToken value. We recommend a UUID-type value.',
    });
  });
});
