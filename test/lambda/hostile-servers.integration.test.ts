/**
 * setSecret against scripted servers: real TLS and a real SCRAM exchange,
 * then answers a real PostgreSQL would not give. Whatever the server claims,
 * the function sends no ALTER USER it has not vetted, and keeps no verifier
 * or statement text in any error or cause.
 */
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { CreateSecretCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  DeadlineReachedError,
  IterationLimitError,
  SecretMismatchError,
  TargetRoleError,
} from '../../lambda/errors.js';
import {
  createSecretsManagerClient,
  SecretsManagerEndpoint,
} from '../../local/secrets-manager/index.js';
import { LeakWatch } from '../fixtures/leaks.js';
import {
  type ReceivedStatement,
  roleFactsAnswer,
  type ScriptedAnswer,
  type ScriptedServer,
  startScriptedServer,
} from '../fixtures/scripted-server.js';
import {
  lambdaContext,
  pendingWith,
  quietHandler,
  runStep,
  stagePending,
} from '../fixtures/steps.js';

const watch = new LeakWatch();
let endpoint: SecretsManagerEndpoint;
let client: SecretsManagerClient;
let server: ScriptedServer | undefined;

beforeAll(async () => {
  watch.start();
  endpoint = await SecretsManagerEndpoint.start();
  client = createSecretsManagerClient(endpoint);
});

afterEach(async () => {
  await server?.stop();
  server = undefined;
});

afterAll(async () => {
  client?.destroy();
  await endpoint?.stop();
  watch.stop();
});

const isAlter = (s: ReceivedStatement) => /^\s*ALTER\s/i.test(s.sql);

/**
 * Starts a scripted server answering with `answer` (else like PostgreSQL),
 * stores a secret for it, stages a pending version and runs setSecret.
 */
async function setSecretAgainst(
  answer: (
    statement: ReceivedStatement,
    user: string,
  ) => ScriptedAnswer | undefined | Promise<ScriptedAnswer | undefined>,
  options: { iterations?: number; env?: Record<string, string>; remainingMs?: number } = {},
) {
  const username = `app_${randomBytes(3).toString('hex')}`;
  const password = randomBytes(18).toString('base64url');
  watch.secret(password);
  server = await startScriptedServer({
    password,
    answer,
    ...(options.iterations ? { iterations: options.iterations } : {}),
  });
  const created = await client.send(
    new CreateSecretCommand({
      Name: `hostile/${username}`,
      SecretString: JSON.stringify({
        engine: 'postgres',
        host: server.host,
        port: server.port,
        username,
        password,
        ca: server.caPem,
      }),
    }),
  );
  const arn = created.ARN ?? '';
  const pending = await pendingWith(client, arn);
  watch.secret(pending.password);
  const token = await stagePending(client, endpoint, arn, pending.value);
  const error = await runStep(
    quietHandler(client, options.env),
    arn,
    'setSecret',
    token,
    lambdaContext(options.remainingMs),
  );
  watch.error(error);
  return { error, statements: server.statements, username };
}

describe('setSecret against a hostile server', () => {
  it('keeps no verifier or statement text in the error chain when the server echoes the ALTER', async () => {
    const { error, statements } = await setSecretAgainst((statement) =>
      isAlter(statement)
        ? {
            error: {
              code: '42601',
              message: `syntax error at or near "${statement.sql}"`,
              detail: `statement: ${statement.sql}`,
            },
          }
        : undefined,
    );
    const alter = statements.find(isAlter);
    const verifier = /'(SCRAM-SHA-256\$[^']+)'/.exec(alter?.sql ?? '')?.[1];
    expect(verifier).toMatch(/^SCRAM-SHA-256\$4096:/);
    watch.secret(verifier);
    expect(error).toBeInstanceOf(Error);
    const chain = inspect(error, { depth: 20, showHidden: true });
    expect(chain).not.toContain(verifier);
    expect(chain).not.toContain('SCRAM-SHA-256$');
    expect(chain).not.toContain('WITH PASSWORD');
    expect(chain).toContain('42601');
  });

  it('refuses before any ALTER when the server says the login is another role, without quoting it', async () => {
    const claim = `SCRAM-SHA-256$4096:${randomBytes(12).toString('base64')}`;
    const { error, statements } = await setSecretAgainst((statement, user) =>
      /^SELECT session_user/.test(statement.sql)
        ? { columns: { session_user: 'text', current_user: 'text' }, rows: [[claim, user]] }
        : undefined,
    );
    expect(error).toBeInstanceOf(SecretMismatchError);
    expect((error as Error).message).toContain('(a name it truncates or folds)');
    expect(inspect(error, { depth: 20, showHidden: true })).not.toContain(claim);
    expect(statements.some(isAlter)).toBe(false);
  });

  it('keeps a SQLSTATE field holding something else than a code out of the error chain', async () => {
    const { error } = await setSecretAgainst((statement) =>
      isAlter(statement)
        ? { error: { code: statement.sql.slice(-40), message: 'refused' } }
        : undefined,
    );
    const alter = (server?.statements ?? []).find(isAlter)?.sql ?? '';
    expect(alter).not.toBe('');
    expect(inspect(error, { depth: 20, showHidden: true })).not.toContain(alter.slice(-40));
  });

  it.each([
    ['says the role is a superuser', { rolsuper: 't' }, 'privileged'],
    ['answers for another name', { rolname: 'someone_else' }, 'missing'],
    [
      'lists a privileged membership',
      { privileged_roles: '{rds_superuser}' },
      'member-of-privileged',
    ],
  ])('refuses before any ALTER when the server %s', async (_, row, problem) => {
    const { error, statements } = await setSecretAgainst((statement) =>
      /FROM pg_catalog\.pg_roles r WHERE/.test(statement.sql)
        ? roleFactsAnswer({ rolname: statement.params[0] ?? '', ...row })
        : undefined,
    );
    expect(error).toBeInstanceOf(TargetRoleError);
    expect(error).toMatchObject({ problem });
    expect(statements.some(isAlter)).toBe(false);
  });

  it('counts an attribute answered in another type than boolean as held (fails closed)', async () => {
    const { error, statements } = await setSecretAgainst((statement) =>
      /FROM pg_catalog\.pg_roles r WHERE/.test(statement.sql)
        ? {
            columns: {
              rolname: 'text',
              rolsuper: 'text',
              rolcreaterole: 'bool',
              rolbypassrls: 'bool',
              rolreplication: 'bool',
              privileged_roles: 'text[]',
              member_of_changer: 'bool',
            },
            rows: [[statement.params[0] ?? '', 'f', 'f', 'f', 'f', '{}', 'f']],
          }
        : undefined,
    );
    expect(error).toMatchObject({ name: 'TargetRoleError', problem: 'privileged' });
    expect((error as TargetRoleError).privileges).toEqual(['SUPERUSER']);
    expect(statements.some(isAlter)).toBe(false);
  });

  it('refuses before any ALTER when no row describes the role', async () => {
    const { error, statements } = await setSecretAgainst((statement) =>
      /FROM pg_catalog\.pg_roles r WHERE/.test(statement.sql)
        ? { columns: { rolname: 'text' }, rows: [] }
        : undefined,
    );
    expect(error).toMatchObject({ name: 'TargetRoleError', problem: 'missing' });
    expect(statements.some(isAlter)).toBe(false);
  });

  it.each([
    ['2147483647', {}, 'IterationLimitError'],
    ['2147483647', { SCRAM_MAX_ITERATIONS: '2147483647' }, 'DeadlineError'],
    ['100001', {}, 'IterationLimitError'],
  ])('refuses a scram_iterations of %s before any ALTER (%j)', async (count, env, name) => {
    const { error, statements } = await setSecretAgainst(
      (statement) =>
        /current_setting/.test(statement.sql) && statement.params[0] === 'scram_iterations'
          ? { columns: { value: 'text' }, rows: [[count]] }
          : undefined,
      { env },
    );
    expect(error).toMatchObject({ name });
    expect(statements.some(isAlter)).toBe(false);
  });

  it('refuses a SCRAM login whose iteration count is above the bound, sending no statement', async () => {
    const { error, statements } = await setSecretAgainst(() => undefined, {
      iterations: 2_147_483_647,
    });
    expect(error).toBeInstanceOf(IterationLimitError);
    expect((error as Error).message).toContain('asks for 2147483647 iterations');
    expect(statements).toEqual([]);
  });

  it('at the deadline, says an ALTER the server neither answered nor cancelled may still complete', async () => {
    // The script never answers the ALTER and ignores the cancel request: once
    // the connection is dropped, nothing tells whether the server runs it on.
    const { error } = await setSecretAgainst(
      (statement) => (isAlter(statement) ? new Promise<never>(() => undefined) : undefined),
      { remainingMs: 2_500 },
    );
    expect(error).toBeInstanceOf(DeadlineReachedError);
    const reached = error as DeadlineReachedError;
    expect(reached.settled).toBe(false);
    expect(reached.inFlight.some((name) => name.startsWith('ALTER USER'))).toBe(true);
    expect(reached.message).toMatch(/it did not stop in time and may still complete/);
  });

  it('sends the ALTER once every answer is sound (the script itself is not the refusal)', async () => {
    const { error, statements, username } = await setSecretAgainst(() => undefined);
    expect(error).toBeUndefined();
    expect(statements.filter(isAlter).map((s) => s.sql.split(' WITH ')[0])).toEqual([
      `ALTER USER "${username}"`,
    ]);
  });
});

describe('across this suite', () => {
  it('printed no password or verifier in any log line or error message', () => {
    expect(watch.counts.secrets).toBeGreaterThan(5);
    expect(watch.leaks()).toEqual([]);
  });
});
