/**
 * One environment per server engine for the reliability suite: the local
 * Secrets Manager endpoint, a database of that engine, users that every
 * strategy can rotate, and what the invariants read back (the stored
 * verifier, a login with a staged version). The table is keyed by the
 * engines the function knows (`lambda/engines`), so a new engine does not
 * compile until it has a harness.
 *
 * @module
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import pg from 'pg';
import { verifyPasswordAgainstVerifier } from '../../lambda/core/scram.js';
import type { DatabaseSecret } from '../../lambda/core/secret.js';
import { COCKROACH_SETTINGS } from '../../lambda/engines/cockroachdb.js';
import type { ServerEngine } from '../../lambda/engines/engine.js';
import { type CockroachDouble, startCockroachDouble } from '../../local/cockroach/double.js';
import {
  type LocalPostgres,
  type LocalPostgresOptions,
  startPostgres,
} from '../../local/postgres.js';
import {
  createSecretsManagerClient,
  SecretsManagerEndpoint,
} from '../../local/secrets-manager/index.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { createCockroachUser } from '../fixtures/cockroach.js';
import { readStage } from '../fixtures/drive.js';
import { createRotatableUser } from '../fixtures/modes.js';

/** A user the suite rotates. */
export interface ReliabilityUser {
  readonly secretArn: string;
  readonly username: string;
}

/** One engine's environment. */
export interface Harness {
  readonly engine: ServerEngine;
  readonly client: SecretsManagerClient;
  readonly endpoint: SecretsManagerEndpoint;
  /** The PostgreSQL server underneath (the CockroachDB double runs over one too). */
  readonly postgres: LocalPostgres;
  /** A user every strategy can rotate (an admin secret as masterarn, grants as needed). */
  createUser(): Promise<ReliabilityUser>;
  /** The role's stored SCRAM verifier, as the server keeps it. */
  storedVerifier(username: string): Promise<string | null>;
  stop(): Promise<void>;
}

/** Options for a harness. */
export interface HarnessOptions {
  readonly postgres?: LocalPostgresOptions;
}

async function postgresHarness(options: HarnessOptions): Promise<Harness> {
  const stack: LocalStack = await startLocalStack({ postgres: options.postgres ?? {} });
  return {
    engine: 'postgres',
    client: stack.client,
    endpoint: stack.secretsManager,
    postgres: stack.postgres,
    createUser: () => createRotatableUser(stack),
    storedVerifier: (username) => stack.postgres.storedPassword(username),
    stop: () => stack.stop(),
  };
}

async function cockroachHarness(options: HarnessOptions): Promise<Harness> {
  const postgres = await startPostgres(options.postgres ?? {});
  const crdb: CockroachDouble = await startCockroachDouble({ postgres });
  const endpoint = await SecretsManagerEndpoint.start();
  const client = createSecretsManagerClient(endpoint);
  // Single-user rotation on CockroachDB needs this setting (off by default).
  crdb.settings.set(COCKROACH_SETTINGS.changeOwnPassword, true);
  const admin = await createCockroachUser(crdb, client, {
    createRole: true,
    grants: ['CREATELOGIN', 'VIEWCLUSTERSETTING'],
  });
  return {
    engine: 'cockroachdb',
    client,
    endpoint,
    postgres,
    async createUser() {
      const user = await createCockroachUser(crdb, client, {
        masterarn: admin.secretArn,
        grants: ['VIEWCLUSTERSETTING'],
      });
      // What alternating mode needs of the admin: ADMIN OPTION on the user,
      // to make its clone a member of it (as the alternating suite sets up).
      await postgres.withAdmin((c) =>
        c.query(
          `GRANT ${c.escapeIdentifier(user.username)} TO ${c.escapeIdentifier(admin.username)} WITH ADMIN OPTION`,
        ),
      );
      return { secretArn: user.secretArn, username: user.username };
    },
    storedVerifier: (username) => crdb.storedPassword(username),
    async stop() {
      client.destroy();
      await endpoint.stop();
      await crdb.stop();
      await postgres.stop();
    },
  };
}

/** A harness per engine the function knows. */
export const HARNESSES = {
  postgres: postgresHarness,
  cockroachdb: cockroachHarness,
} as const satisfies Record<ServerEngine, (options: HarnessOptions) => Promise<Harness>>;

/** The staging labels a rotation leaves values under. */
export const STAGED = ['AWSCURRENT', 'AWSPENDING', 'AWSPREVIOUS'] as const;

/**
 * Whether a secret's password logs in (verify-full TLS, as the function
 * logs in). Its connections are named `reliability-check`, not
 * `scram-rotator`, so that the server's log tells them from the function's.
 */
export async function logsIn(secret: DatabaseSecret | undefined): Promise<boolean> {
  if (secret === undefined) return false;
  const client = new pg.Client({
    host: secret.host,
    port: secret.port,
    database: secret.dbname,
    user: secret.username,
    password: secret.password,
    ssl: { ca: secret.ca, servername: 'localhost', rejectUnauthorized: true },
    options: secret.options,
    application_name: 'reliability-check',
    connectionTimeoutMillis: 5_000,
  } as pg.ClientConfig);
  client.on('error', () => undefined);
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** What the invariants found, by name; empty when they all hold. */
export type Violations = string[];

/**
 * The invariants after any point of any rotation: some staged version logs
 * in, and each role a staged version names holds the verifier of one of
 * the staged versions naming it (in alternating mode the two users of the
 * pair; a clone not created yet holds nothing). With `complete`, also:
 * AWSCURRENT logs in and its role holds AWSCURRENT's verifier.
 *
 * @param remember - called with each password and verifier read, to watch for leaks
 */
export async function checkInvariants(
  harness: Harness,
  user: ReliabilityUser,
  complete: boolean,
  remember: (value: string | null | undefined) => void,
): Promise<Violations> {
  const staged = new Map<string, DatabaseSecret>();
  for (const stage of STAGED) {
    const secret = await readStage(harness.client, user.secretArn, stage);
    if (secret) staged.set(stage, secret);
    remember(secret?.password);
  }
  const violations: Violations = [];
  // AWSCURRENT first; once one version logs in, the others need not be tried.
  let loggingIn: string | undefined;
  for (const [stage, secret] of staged) {
    if (await logsIn(secret)) {
      loggingIn = stage;
      break;
    }
  }
  if (loggingIn === undefined) violations.push('no staged version logs in');
  const current = staged.get('AWSCURRENT');
  const roles = new Set([...staged.values()].map((secret) => secret.username));
  for (const role of roles) {
    const stored = await harness.storedVerifier(role);
    remember(stored);
    if (stored === null) {
      if (role === current?.username) violations.push(`AWSCURRENT's role ${role} has no password`);
      continue;
    }
    const owners = [...staged]
      .filter(([, secret]) => secret.username === role)
      .filter(([, secret]) => verifyPasswordAgainstVerifier(secret.password, stored))
      .map(([stage]) => stage);
    if (owners.length === 0) {
      violations.push(`the verifier ${role} holds belongs to no staged version`);
    }
    if (complete && role === current?.username && !owners.includes('AWSCURRENT')) {
      violations.push(`${role} does not hold AWSCURRENT's verifier`);
    }
  }
  if (complete && loggingIn !== 'AWSCURRENT') violations.push('AWSCURRENT does not log in');
  return violations;
}
