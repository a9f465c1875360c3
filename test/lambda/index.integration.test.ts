import { randomBytes, randomUUID } from 'node:crypto';
import {
  CancelRotateSecretCommand,
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  type DatabaseConnector,
  type DatabaseSession,
  type LoginLimits,
  type LoginTarget,
  PgConnector,
} from '../../lambda/adapters/database.js';
import {
  SdkSecretStore,
  type SecretDescription,
  type SecretStore,
  type VersionSelector,
} from '../../lambda/adapters/secrets-manager.js';
import type { RotationEvent, RotationStep } from '../../lambda/core/event.js';
import { PASSWORD_CHARACTER_CLASSES } from '../../lambda/core/password.js';
import {
  ConfigurationError,
  InvalidEventError,
  RotationNotEnabledError,
  TokenNotFoundError,
  TokenNotPendingError,
} from '../../lambda/errors.js';
import { createHandler, type HandlerDependencies } from '../../lambda/index.js';
import { Logger, Metrics } from '../../lambda/telemetry.js';
import {
  createSecretsManagerClient,
  SecretsManagerEndpoint,
} from '../../local/secrets-manager/index.js';

const STEPS: readonly RotationStep[] = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'];

/** The SecretStore methods, as the recording wrapper names the calls. */
type StoreCall = keyof SecretStore;

/** The real SdkSecretStore, recording the name of every method called on it. */
class RecordingSecretStore implements SecretStore {
  readonly calls: StoreCall[] = [];
  readonly #inner: SecretStore;

  constructor(inner: SecretStore) {
    this.#inner = inner;
  }

  describe(secretId: string): Promise<SecretDescription> {
    this.calls.push('describe');
    return this.#inner.describe(secretId);
  }

  getSecretString(secretId: string, version: VersionSelector): Promise<string | undefined> {
    this.calls.push('getSecretString');
    return this.#inner.getSecretString(secretId, version);
  }

  putPending(input: Parameters<SecretStore['putPending']>[0]): Promise<void> {
    this.calls.push('putPending');
    return this.#inner.putPending(input);
  }

  promoteToCurrent(input: Parameters<SecretStore['promoteToCurrent']>[0]): Promise<void> {
    this.calls.push('promoteToCurrent');
    return this.#inner.promoteToCurrent(input);
  }

  withdrawPending(input: Parameters<SecretStore['withdrawPending']>[0]): Promise<void> {
    this.calls.push('withdrawPending');
    return this.#inner.withdrawPending(input);
  }
}

/** The real PgConnector, counting login attempts (none of these tests may make one). */
class RecordingConnector implements DatabaseConnector {
  logins = 0;
  readonly #inner = new PgConnector();

  login(target: LoginTarget, limits: LoginLimits): Promise<DatabaseSession> {
    this.logins++;
    return this.#inner.login(target, limits);
  }
}

/** A Lambda-like context for calling the handler directly. */
function lambdaContext(): Context {
  return {
    functionName: 'scram-rotator',
    awsRequestId: randomUUID(),
    getRemainingTimeInMillis: () => 30_000,
  } as Context;
}

let endpoint: SecretsManagerEndpoint;
let client: SecretsManagerClient;
/** A rotation function that does nothing, so RotateSecret leaves a valueless AWSPENDING behind. */
let noopArn: string;

beforeAll(async () => {
  endpoint = await SecretsManagerEndpoint.start();
  client = createSecretsManagerClient(endpoint, { maxAttempts: 1 });
  noopArn = endpoint.lambdaArn('noop');
  endpoint.registerRotationFunction(noopArn, async () => undefined);
});

afterAll(async () => {
  client?.destroy();
  await endpoint?.stop();
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** A handler over the real SdkSecretStore on the local endpoint, with what it records. */
function makeHandler(deps: Omit<HandlerDependencies, 'secrets' | 'database'> = {}) {
  const secrets = new RecordingSecretStore(new SdkSecretStore(client));
  const database = new RecordingConnector();
  const handler = createHandler({
    secrets,
    database,
    env: { TEST_LOGIN_ATTEMPTS: '1' },
    logger: new Logger({ serviceName: 'scram-rotator', logLevel: 'DEBUG' }),
    metrics: new Metrics({ serviceName: 'scram-rotator', namespace: 'ScramRotatorTest' }),
    ...deps,
  });
  return { handler, secrets, database };
}

/** What one invocation threw, and everything it printed (log lines and EMF metrics). */
interface Invocation {
  readonly error: unknown;
  readonly output: string;
  /** The output's JSON lines. */
  readonly lines: readonly Record<string, unknown>[];
}

/** Calls the handler with `event` as Lambda would, capturing stdout and stderr. */
async function invoke(
  handler: ReturnType<typeof createHandler>,
  event: unknown,
): Promise<Invocation> {
  const chunks: string[] = [];
  const record = ((chunk: unknown) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString());
    return true;
  }) as typeof process.stdout.write;
  // The function writes INFO lines and metrics to stdout, WARN and ERROR lines to stderr.
  const spies = [
    vi.spyOn(process.stdout, 'write').mockImplementation(record),
    vi.spyOn(process.stderr, 'write').mockImplementation(record),
  ];
  let error: unknown;
  try {
    await handler(event as RotationEvent, lambdaContext());
  } catch (thrown) {
    error = thrown;
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
  const output = chunks.join('');
  const lines = output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { error, output, lines };
}

/** The EMF documents among the printed lines. */
function metricsOf(invocation: Invocation) {
  return invocation.lines.filter((line) => '_aws' in line) as (Record<string, unknown> & {
    _aws: {
      CloudWatchMetrics: {
        Namespace: string;
        Dimensions: string[][];
        Metrics: { Name: string }[];
      }[];
    };
  })[];
}

/** The function's log lines among the printed lines. */
function logsOf(invocation: Invocation) {
  return invocation.lines.filter((line) => 'level' in line && 'message' in line);
}

/** A database secret's JSON, pointing at a closed port so that any login attempt would fail. */
function secretValue(extra: Record<string, unknown> = {}) {
  return {
    engine: 'postgres',
    host: '127.0.0.1',
    port: 1,
    username: 'app_user',
    password: randomBytes(18).toString('base64url'),
    dbname: 'app',
    ...extra,
  };
}

/** Creates a secret (rotation not configured) and returns its ARN, first version and value. */
async function createSecret(extra: Record<string, unknown> = {}) {
  const value = secretValue(extra);
  const out = await client.send(
    new CreateSecretCommand({
      Name: `scram-rotator/test/${randomUUID().slice(0, 8)}`,
      SecretString: JSON.stringify(value),
    }),
  );
  return { arn: out.ARN ?? '', firstVersionId: out.VersionId ?? '', value };
}

/**
 * A secret mid-rotation, as Secrets Manager leaves it before calling
 * createSecret: rotation enabled, and AWSPENDING staged on a version `token`
 * that has no value yet.
 */
async function pendingSecret(extra: Record<string, unknown> = {}) {
  const secret = await createSecret(extra);
  const token = randomUUID();
  await client.send(
    new RotateSecretCommand({
      SecretId: secret.arn,
      ClientRequestToken: token,
      RotationLambdaARN: noopArn,
      RotationRules: { AutomaticallyAfterDays: 30 },
    }),
  );
  // The no-op function never moves AWSCURRENT, so the rotation stays incomplete.
  expect(await endpoint.waitForRotation(secret.arn, { timeoutMs: 5_000 })).toMatchObject({
    ok: false,
  });
  expect((await stagesOf(secret.arn))[token]).toEqual(['AWSPENDING']);
  return { ...secret, token };
}

/**
 * A secret after a completed rotation: createSecret and finishSecret run by
 * the real handler (setSecret and testSecret need a database and are left
 * out), and AWSPENDING removed as Secrets Manager does at the end.
 */
async function rotatedSecret() {
  const secret = await pendingSecret();
  const { handler } = makeHandler();
  const { error } = await invoke(handler, {
    Step: 'createSecret',
    SecretId: secret.arn,
    ClientRequestToken: secret.token,
  });
  expect(error).toBeUndefined();
  // Promoted by hand: the function's finishSecret promotes only a version
  // that logs in, and this one's host does not exist.
  await client.send(
    new UpdateSecretVersionStageCommand({
      SecretId: secret.arn,
      VersionStage: 'AWSCURRENT',
      MoveToVersionId: secret.token,
      RemoveFromVersionId: secret.firstVersionId,
    }),
  );
  await client.send(
    new UpdateSecretVersionStageCommand({
      SecretId: secret.arn,
      VersionStage: 'AWSPENDING',
      RemoveFromVersionId: secret.token,
    }),
  );
  const stages = await stagesOf(secret.arn);
  expect(stages[secret.token]).toEqual(['AWSCURRENT']);
  expect(stages[secret.firstVersionId]).toEqual(['AWSPREVIOUS']);
  return secret;
}

async function stagesOf(secretId: string): Promise<Record<string, string[]>> {
  const out = await client.send(new DescribeSecretCommand({ SecretId: secretId }));
  return out.VersionIdsToStages ?? {};
}

/**
 * Everything the endpoint shows about a secret without values: DescribeSecret
 * (stages, LastChangedDate, rotation state) and its own record of versions
 * (which hold a value, which RotationToken each was stored with).
 */
async function stateOf(secretId: string) {
  const { $metadata: _, ...description } = await client.send(
    new DescribeSecretCommand({ SecretId: secretId }),
  );
  return { description, versions: endpoint.inspect(secretId)?.versions };
}

async function readValue(
  secretId: string,
  selector: { VersionId?: string; VersionStage?: string },
): Promise<Record<string, unknown>> {
  const out = await client.send(new GetSecretValueCommand({ SecretId: secretId, ...selector }));
  return JSON.parse(out.SecretString ?? '') as Record<string, unknown>;
}

describe('a malformed event', () => {
  type Secret = { arn: string; token: string };
  it.each([
    ['null', () => null, 'the event'],
    ['a string', () => 'createSecret', 'the event'],
    ['an array', ({ arn }: Secret) => [{ Step: 'createSecret', SecretId: arn }], 'the event'],
    [
      'an event without Step',
      ({ arn, token }: Secret) => ({ SecretId: arn, ClientRequestToken: token }),
      'Step',
    ],
    [
      'an unknown Step',
      ({ arn, token }: Secret) => ({
        Step: 'dropEverything',
        SecretId: arn,
        ClientRequestToken: token,
      }),
      'Step',
    ],
    [
      'a token of 31 characters',
      ({ arn, token }: Secret) => ({
        Step: 'createSecret',
        SecretId: arn,
        ClientRequestToken: token.slice(0, 31),
      }),
      'ClientRequestToken',
    ],
    [
      'a token of 65 characters',
      ({ arn, token }: Secret) => ({
        Step: 'createSecret',
        SecretId: arn,
        ClientRequestToken: `${token}${token}`.slice(0, 65),
      }),
      'ClientRequestToken',
    ],
    [
      'an event without SecretId',
      ({ token }: Secret) => ({ Step: 'createSecret', ClientRequestToken: token }),
      'SecretId',
    ],
    [
      'an empty SecretId',
      ({ token }: Secret) => ({ Step: 'createSecret', SecretId: '', ClientRequestToken: token }),
      'SecretId',
    ],
    [
      'an empty RotationToken',
      ({ arn, token }: Secret) => ({
        Step: 'createSecret',
        SecretId: arn,
        ClientRequestToken: token,
        RotationToken: '',
      }),
      'RotationToken',
    ],
  ])(
    'fails with InvalidEventError, making no Secrets Manager call (%s)',
    async (_, build, field) => {
      const secret = await pendingSecret();
      const before = await stateOf(secret.arn);
      const { handler, secrets, database } = makeHandler();
      const { error, output } = await invoke(handler, build(secret));

      expect(error).toBeInstanceOf(InvalidEventError);
      expect(error).toMatchObject({ field });
      expect((error as Error).message).toMatch(/^Invalid rotation event: /);
      expect(secrets.calls).toEqual([]);
      expect(database.logins).toBe(0);
      expect(await stateOf(secret.arn)).toEqual(before);
      // The log names the field; nothing from the event is trusted enough to print.
      expect(output).not.toContain('dropEverything');
      expect(output).not.toContain(secret.arn);
    },
  );
});

describe('a bad configuration', () => {
  it.each([
    ['ROTATION_MODE', { ROTATION_MODE: 'sometimes' }],
    ['SCRAM_ITERATIONS', { SCRAM_ITERATIONS: '1000' }],
    ['CONNECT_TIMEOUT_MS', { CONNECT_TIMEOUT_MS: '0' }],
    ['CA_BUNDLE_PATH', { CA_BUNDLE_PATH: '/nonexistent/scram-rotator/ca.pem' }],
    ['PASSWORD_LENGTH', { PASSWORD_LENGTH: '4' }],
  ])('fails with ConfigurationError and touches nothing (bad %s)', async (variable, env) => {
    const secret = await pendingSecret();
    const before = await stateOf(secret.arn);
    const { handler, secrets, database } = makeHandler({ env });
    const { error } = await invoke(handler, {
      Step: 'createSecret',
      SecretId: secret.arn,
      ClientRequestToken: secret.token,
    });

    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message.startsWith(`Invalid configuration: ${variable} must be`)).toBe(
      true,
    );
    expect(secrets.calls).toEqual([]);
    expect(database.logins).toBe(0);
    expect(await stateOf(secret.arn)).toEqual(before);
  });
});

describe('the stage guard', () => {
  it('fails with RotationNotEnabledError for a secret without rotation, naming the secret', async () => {
    const secret = await createSecret();
    const before = await stateOf(secret.arn);
    const { handler, secrets } = makeHandler();
    const { error } = await invoke(handler, {
      Step: 'createSecret',
      SecretId: secret.arn,
      ClientRequestToken: secret.firstVersionId,
    });

    expect(error).toBeInstanceOf(RotationNotEnabledError);
    expect((error as Error).message).toMatch(/^Rotation is not enabled: /);
    expect((error as Error).message).toContain(secret.arn);
    expect(secrets.calls).toEqual(['describe']);
    expect(await stateOf(secret.arn)).toEqual(before);
  });

  it('fails with RotationNotEnabledError once rotation was cancelled, leaving AWSPENDING alone', async () => {
    const secret = await pendingSecret();
    await client.send(new CancelRotateSecretCommand({ SecretId: secret.arn }));
    const before = await stateOf(secret.arn);
    const { handler, secrets } = makeHandler();
    const { error } = await invoke(handler, {
      Step: 'createSecret',
      SecretId: secret.arn,
      ClientRequestToken: secret.token,
    });

    expect(error).toBeInstanceOf(RotationNotEnabledError);
    expect(secrets.calls).toEqual(['describe']);
    expect(await stateOf(secret.arn)).toEqual(before);
  });

  it('fails with TokenNotFoundError for a token that is no version of the secret', async () => {
    const secret = await pendingSecret();
    const before = await stateOf(secret.arn);
    const unknown = randomUUID();
    const { handler, secrets } = makeHandler();
    const { error } = await invoke(handler, {
      Step: 'createSecret',
      SecretId: secret.arn,
      ClientRequestToken: unknown,
    });

    expect(error).toBeInstanceOf(TokenNotFoundError);
    expect((error as Error).message).toMatch(/^Rotation token not found: /);
    expect((error as Error).message).toContain(unknown);
    expect((error as Error).message).toContain(secret.arn);
    expect(secrets.calls).toEqual(['describe']);
    expect(await stateOf(secret.arn)).toEqual(before);
  });

  it('fails with TokenNotPendingError for a token whose version is only AWSPREVIOUS', async () => {
    const secret = await rotatedSecret();
    const before = await stateOf(secret.arn);
    const { handler, secrets, database } = makeHandler();
    for (const Step of STEPS) {
      const { error } = await invoke(handler, {
        Step,
        SecretId: secret.arn,
        ClientRequestToken: secret.firstVersionId,
      });
      expect(error).toBeInstanceOf(TokenNotPendingError);
      expect(error).toMatchObject({ stages: ['AWSPREVIOUS'] });
      expect((error as Error).message).toMatch(
        /^Rotation token is not pending: version \S+ of secret \S+ has only AWSPREVIOUS, not AWSPENDING/,
      );
    }
    expect(secrets.calls).toEqual(STEPS.map(() => 'describe'));
    expect(database.logins).toBe(0);
    expect(await stateOf(secret.arn)).toEqual(before);
  });

  it('fails with TokenNotPendingError for a version with a label of its own', async () => {
    const secret = await pendingSecret();
    const other = randomUUID();
    await client.send(
      new PutSecretValueCommand({
        SecretId: secret.arn,
        ClientRequestToken: other,
        SecretString: JSON.stringify(secretValue()),
        VersionStages: ['MANUAL'],
      }),
    );
    const { handler } = makeHandler();
    const { error } = await invoke(handler, {
      Step: 'createSecret',
      SecretId: secret.arn,
      ClientRequestToken: other,
    });
    expect(error).toBeInstanceOf(TokenNotPendingError);
    expect(error).toMatchObject({ stages: ['MANUAL'] });
  });

  it('returns from every step without changing anything when the token is already AWSCURRENT', async () => {
    const secret = await rotatedSecret();
    const before = await stateOf(secret.arn);
    const current = await readValue(secret.arn, { VersionStage: 'AWSCURRENT' });
    const { handler, secrets, database } = makeHandler();
    for (const Step of STEPS) {
      const invocation = await invoke(handler, {
        Step,
        SecretId: secret.arn,
        ClientRequestToken: secret.token,
      });
      expect(invocation.error).toBeUndefined();
      expect(logsOf(invocation).map((line) => line.message)).toContain(
        'the token already holds AWSCURRENT; nothing to do',
      );
    }
    // Only the guard's DescribeSecret: no read, no write, no login.
    expect(secrets.calls).toEqual(STEPS.map(() => 'describe'));
    expect(database.logins).toBe(0);
    expect(await stateOf(secret.arn)).toEqual(before);
    expect(await readValue(secret.arn, { VersionStage: 'AWSCURRENT' })).toEqual(current);
  });
});

describe('createSecret', () => {
  it('stores a new password as AWSPENDING under the token, carrying over every other key unchanged', async () => {
    const extra = {
      port: '6432',
      masterarn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:admin-AbCdEf',
      ca: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
      options: '--cluster=routing-id',
      team: 'payments',
      nested: { a: 1, list: [true, null, 'x'] },
      emptyString: '',
      unicode: 'ünïcødé ✓',
    };
    const secret = await pendingSecret(extra);
    const { handler, secrets, database } = makeHandler();
    const { error } = await invoke(handler, {
      Step: 'createSecret',
      SecretId: secret.arn,
      ClientRequestToken: secret.token,
    });

    expect(error).toBeUndefined();
    const pending = await readValue(secret.arn, {
      VersionId: secret.token,
      VersionStage: 'AWSPENDING',
    });
    const current = await readValue(secret.arn, { VersionStage: 'AWSCURRENT' });
    expect(current).toEqual(secret.value);
    expect(pending.password).not.toBe(current.password);
    expect({ ...pending, password: 'x' }).toEqual({ ...current, password: 'x' });
    expect(Object.keys(pending)).toEqual(Object.keys(current));
    expect(await stagesOf(secret.arn)).toEqual({
      [secret.firstVersionId]: ['AWSCURRENT'],
      [secret.token]: ['AWSPENDING'],
    });
    expect(secrets.calls).toEqual(['describe', 'getSecretString', 'getSecretString', 'putPending']);
    expect(database.logins).toBe(0);
  });

  it('keeps the pending value when it runs again for the same token', async () => {
    const secret = await pendingSecret();
    const { handler, secrets } = makeHandler();
    const event = { Step: 'createSecret', SecretId: secret.arn, ClientRequestToken: secret.token };
    const pendingOf = () =>
      readValue(secret.arn, { VersionId: secret.token, VersionStage: 'AWSPENDING' });

    expect((await invoke(handler, event)).error).toBeUndefined();
    const first = await pendingOf();
    const state = await stateOf(secret.arn);
    secrets.calls.length = 0;
    const again = await invoke(handler, event);

    expect(again.error).toBeUndefined();
    expect(await pendingOf()).toEqual(first);
    expect(await stateOf(secret.arn)).toEqual(state);
    expect(secrets.calls).not.toContain('putPending');
    expect(logsOf(again).map((line) => line.message)).toContain(
      'createSecret: the pending version already has a value; keeping it',
    );
  });

  it('keeps a value already stored under the token by someone else', async () => {
    const secret = await createSecret();
    const token = randomUUID();
    // Rotation enabled without RotateImmediately's fresh version: the pending
    // value is put by hand, as a retried rotation would find it.
    await client.send(
      new RotateSecretCommand({
        SecretId: secret.arn,
        RotationLambdaARN: noopArn,
        RotationRules: { AutomaticallyAfterDays: 30 },
        RotateImmediately: false,
      }),
    );
    await endpoint.waitForRotation(secret.arn, { timeoutMs: 5_000 });
    const stored = secretValue({ marker: 'stored before createSecret' });
    await client.send(
      new PutSecretValueCommand({
        SecretId: secret.arn,
        ClientRequestToken: token,
        SecretString: JSON.stringify(stored),
        VersionStages: ['AWSPENDING'],
      }),
    );
    const { handler, secrets } = makeHandler();
    const { error } = await invoke(handler, {
      Step: 'createSecret',
      SecretId: secret.arn,
      ClientRequestToken: token,
    });

    expect(error).toBeUndefined();
    expect(await readValue(secret.arn, { VersionId: token })).toEqual(stored);
    expect(secrets.calls).not.toContain('putPending');
  });

  it('passes the event RotationToken through to PutSecretValue', async () => {
    const secret = await pendingSecret();
    const rotationToken = `rt-${randomUUID()}`;
    const { handler } = makeHandler();
    const { error } = await invoke(handler, {
      Step: 'createSecret',
      SecretId: secret.arn,
      ClientRequestToken: secret.token,
      RotationToken: rotationToken,
    });

    expect(error).toBeUndefined();
    const version = endpoint
      .inspect(secret.arn)
      ?.versions.find((v) => v.versionId === secret.token);
    expect(version).toMatchObject({ hasValue: true, rotationToken });
  });

  it('sends no RotationToken when the event has none', async () => {
    const secret = await pendingSecret();
    const { handler } = makeHandler();
    const { error } = await invoke(handler, {
      Step: 'createSecret',
      SecretId: secret.arn,
      ClientRequestToken: secret.token,
    });

    expect(error).toBeUndefined();
    const version = endpoint
      .inspect(secret.arn)
      ?.versions.find((v) => v.versionId === secret.token);
    expect(version).toMatchObject({ hasValue: true, rotationToken: undefined });
  });

  it('stores the RotationToken that Secrets Manager sends during RotateSecret', async () => {
    const secret = await createSecret();
    const { handler } = makeHandler();
    const events: RotationEvent[] = [];
    const arn = endpoint.lambdaArn(`create-only-${randomUUID().slice(0, 8)}`);
    endpoint.registerRotationFunction(arn, async (event) => {
      events.push(event as RotationEvent);
      if (event.Step === 'createSecret') {
        const { error } = await invoke(handler, event);
        if (error) throw error;
      }
    });
    const out = await client.send(
      new RotateSecretCommand({
        SecretId: secret.arn,
        RotationLambdaARN: arn,
        RotationRules: { AutomaticallyAfterDays: 30 },
      }),
    );
    await endpoint.waitForRotation(secret.arn, { timeoutMs: 5_000 });

    const sent = events.find((event) => event.Step === 'createSecret')?.RotationToken;
    expect(sent).toEqual(expect.any(String));
    const version = endpoint
      .inspect(secret.arn)
      ?.versions.find((v) => v.versionId === out.VersionId);
    expect(version?.rotationToken).toBe(sent);
  });

  it('generates the password with the default policy when nothing is configured', async () => {
    const secret = await pendingSecret();
    const { handler } = makeHandler({ env: {} });
    await invoke(handler, {
      Step: 'createSecret',
      SecretId: secret.arn,
      ClientRequestToken: secret.token,
    });
    const { password } = await readValue(secret.arn, { VersionId: secret.token });

    expect(password).toEqual(expect.any(String));
    expect(password).toHaveLength(32);
    expect(password).toMatch(/^[!-~]+$/);
    expect(password).not.toMatch(/[:/@"'\\ ]/);
  });

  it('generates a password that obeys PASSWORD_LENGTH and the EXCLUDE_* variables', async () => {
    const secret = await pendingSecret();
    const { handler } = makeHandler({
      env: {
        PASSWORD_LENGTH: '24',
        EXCLUDE_PUNCTUATION: 'true',
        EXCLUDE_UPPERCASE: 'true',
        EXCLUDE_CHARACTERS: 'abcdef0123',
        REQUIRE_EACH_INCLUDED_TYPE: 'true',
      },
    });
    const { error } = await invoke(handler, {
      Step: 'createSecret',
      SecretId: secret.arn,
      ClientRequestToken: secret.token,
    });

    expect(error).toBeUndefined();
    const { password } = await readValue(secret.arn, { VersionId: secret.token });
    expect(password).toHaveLength(24);
    expect(password).toMatch(/^[g-z4-9]+$/);
    // REQUIRE_EACH_INCLUDED_TYPE: a digit and a lowercase letter, whatever the draw.
    expect(password).toMatch(/[4-9]/);
    expect(password).toMatch(/[g-z]/);
  });

  it('generates only digits when every other class is excluded', async () => {
    const secret = await pendingSecret();
    const { handler } = makeHandler({
      env: {
        PASSWORD_LENGTH: '64',
        EXCLUDE_PUNCTUATION: 'true',
        EXCLUDE_UPPERCASE: 'true',
        EXCLUDE_LOWERCASE: 'true',
      },
    });
    await invoke(handler, {
      Step: 'createSecret',
      SecretId: secret.arn,
      ClientRequestToken: secret.token,
    });
    const { password } = await readValue(secret.arn, { VersionId: secret.token });
    expect(password).toHaveLength(64);
    expect(
      [...(password as string)].every((c) => PASSWORD_CHARACTER_CLASSES.numbers.includes(c)),
    ).toBe(true);
  });
});

describe('metrics', () => {
  it('emit StepSucceeded and StepDuration with the Step dimension for a step that succeeds', async () => {
    const secret = await pendingSecret();
    const { handler } = makeHandler();
    const invocation = await invoke(handler, {
      Step: 'createSecret',
      SecretId: secret.arn,
      ClientRequestToken: secret.token,
    });

    expect(invocation.error).toBeUndefined();
    const emf = metricsOf(invocation);
    expect(emf).toHaveLength(1);
    const [doc] = emf;
    const [directive] = doc?._aws.CloudWatchMetrics ?? [];
    expect(directive?.Namespace).toBe('ScramRotatorTest');
    expect(directive?.Dimensions).toEqual([['service', 'Step']]);
    expect(directive?.Metrics.map((m) => m.Name).sort()).toEqual(['StepDuration', 'StepSucceeded']);
    expect(doc).toMatchObject({ Step: 'createSecret', StepSucceeded: 1 });
    expect(doc?.StepFailed).toBeUndefined();
  });

  it('emit StepFailed with the Step dimension for a step that fails', async () => {
    const secret = await pendingSecret();
    const { handler } = makeHandler();
    // setSecret before createSecret: the pending version has no value.
    const invocation = await invoke(handler, {
      Step: 'setSecret',
      SecretId: secret.arn,
      ClientRequestToken: secret.token,
    });

    expect(invocation.error).toBeDefined();
    const [doc] = metricsOf(invocation);
    expect(doc).toMatchObject({ Step: 'setSecret', StepFailed: 1 });
    expect(doc?.StepSucceeded).toBeUndefined();
    expect(doc?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([['service', 'Step']]);
  });

  it('emit StepFailed with Step invalid-event for a malformed event', async () => {
    const { handler } = makeHandler();
    const invocation = await invoke(handler, { Step: 'createSecret' });

    expect(invocation.error).toBeInstanceOf(InvalidEventError);
    const [doc] = metricsOf(invocation);
    expect(doc).toMatchObject({ Step: 'invalid-event', StepFailed: 1 });
  });

  it('go to the namespace POWERTOOLS_METRICS_NAMESPACE names, else ScramRotator', async () => {
    const namespaceOf = async (env: Record<string, string>) => {
      const secrets = new SdkSecretStore(client);
      const handler = createHandler({
        secrets,
        env,
        logger: new Logger({ serviceName: 'scram-rotator', logLevel: 'SILENT' }),
      });
      const invocation = await invoke(handler, { Step: 'testSecret' });
      return metricsOf(invocation)[0]?._aws.CloudWatchMetrics[0]?.Namespace;
    };
    expect(await namespaceOf({ POWERTOOLS_METRICS_NAMESPACE: 'MyRotations' })).toBe('MyRotations');
    expect(await namespaceOf({})).toBe('ScramRotator');
  });
});

describe('log lines', () => {
  it('carry the step, secret ARN and token, and never a password', async () => {
    const secret = await pendingSecret();
    const { handler } = makeHandler();
    const event = { Step: 'createSecret', SecretId: secret.arn, ClientRequestToken: secret.token };
    // testSecret before createSecret fails without logging in: no pending value yet.
    const failed = await invoke(handler, { ...event, Step: 'testSecret' });
    const first = await invoke(handler, event);
    const again = await invoke(handler, event);
    const pending = await readValue(secret.arn, { VersionId: secret.token });

    for (const [invocation, step] of [
      [first, 'createSecret'],
      [again, 'createSecret'],
      [failed, 'testSecret'],
    ] as const) {
      const logs = logsOf(invocation);
      expect(logs.length).toBeGreaterThanOrEqual(2);
      for (const line of logs) {
        expect(line).toMatchObject({ step, secretArn: secret.arn, token: secret.token });
      }
      expect(invocation.output).not.toContain(secret.value.password);
      expect(invocation.output).not.toContain(pending.password as string);
    }
    expect(logsOf(first).map((line) => line.message)).toEqual([
      'step started',
      'createSecret: stored a new pending version',
      'step succeeded',
    ]);
    expect(logsOf(failed).at(-1)).toMatchObject({
      level: 'ERROR',
      message: 'step failed',
      errorName: 'MalformedSecretError',
      errorCode: 'MALFORMED_SECRET',
    });
    expect(failed.error).toBeDefined();
  });

  it('of a malformed event carry none of the keys of the invocation before it', async () => {
    const secret = await pendingSecret();
    const { handler } = makeHandler();
    await invoke(handler, {
      Step: 'createSecret',
      SecretId: secret.arn,
      ClientRequestToken: secret.token,
    });
    const invalid = await invoke(handler, { Step: 'createSecret', SecretId: secret.arn });

    const logs = logsOf(invalid);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({
      level: 'ERROR',
      message: 'step failed',
      errorName: 'InvalidEventError',
    });
    expect(logs[0]).not.toHaveProperty('step');
    expect(logs[0]).not.toHaveProperty('secretArn');
    expect(logs[0]).not.toHaveProperty('token');
  });
});
