/**
 * What `npm run follower` measures: the logins an application's clients
 * lose while rotations run, for a strategy, a client-side secret cache and
 * a rotation interval, on the local stack.
 *
 * Several clients each keep a cached copy of AWSCURRENT that they read again
 * once it is `cacheMs` old (0: before every login), their caches starting at
 * different moments, and each opens a verify-full SCRAM connection about
 * every 20 ms with what it holds. Meanwhile `rotations` rotations run through
 * RotateSecret, each starting `intervalMs` after the one before (default
 * twice the cache) and never before the one before has finished.
 *
 * A failed login is one the server refused for the credential (a wrong or
 * replaced password): what a rotation does to a client. Other failures (a
 * timeout on a loaded machine) are counted apart, in `otherErrors`.
 *
 * After each login the client runs an unqualified query on a table in a
 * schema that only the user's per-role `search_path` names: a session that
 * does not look like the user's (a clone without the original's settings)
 * fails it, and that counts as a failed query.
 *
 * @module
 */

import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { PgConnector } from '../../lambda/adapters/database.js';
import { type DatabaseSecret, parseDatabaseSecret } from '../../lambda/core/secret.js';
import { AuthenticationFailedError } from '../../lambda/errors.js';
import { Logger } from '../../lambda/telemetry.js';
import type { LocalStack } from '../../local/stack.js';

/** The strategies the follower compares (ROTATION_MODE values). */
export const FOLLOWER_STRATEGIES = ['single-user', 'admin', 'alternating'] as const;

/** One of {@link FOLLOWER_STRATEGIES}. */
export type FollowerStrategy = (typeof FOLLOWER_STRATEGIES)[number];

/** The table each client queries without a schema, after every login. */
export const FOLLOWER_TABLE = 'follower_beats';

/** What to run. */
export interface FollowerOptions {
  readonly strategy: FollowerStrategy;
  readonly rotations: number;
  /** How long a client keeps the secret it read; 0 reads it before every login. */
  readonly cacheMs: number;
  /**
   * Time from one rotation's start to the next's, never shorter than a
   * rotation takes.
   * @default 2 × cacheMs
   */
  readonly intervalMs?: number;
  /** @default 4 */
  readonly clients?: number;
  /** Pause between one client's logins. @default 20 */
  readonly loginEveryMs?: number;
  /** Called once the user and its table exist, before any client starts (tests change the user here). */
  readonly onUserReady?: (username: string) => Promise<void>;
  /** Called after each rotation, for progress lines. */
  readonly onRotation?: (done: RotationResult) => void;
}

/** One rotation, as the follower saw it end. */
export interface RotationResult {
  readonly index: number;
  readonly ok: boolean;
  readonly durationMs: number;
  readonly errorMessage?: string;
}

/** The `--json` line: exactly these keys. */
export interface FollowerReport {
  readonly strategy: FollowerStrategy;
  readonly rotations: number;
  readonly cacheMs: number;
  readonly intervalMs: number;
  /** Logins tried, by every client. */
  readonly attempts: number;
  /** Logins the server refused for the credential the client held. */
  readonly failedLogins: number;
  /** The longest time one client went from its first refused login to its next success. */
  readonly longestFailureMs: number;
  /** Queries that failed after a login succeeded (an unqualified table in the user's search_path). */
  readonly failedQueries: number;
}

/** What the human-readable output adds to the report. */
export interface FollowerDetails {
  readonly report: FollowerReport;
  readonly clients: number;
  readonly rotationResults: readonly RotationResult[];
  /** Login failures of other kinds (timeouts, resets), by error name. */
  readonly otherErrors: Readonly<Record<string, number>>;
  readonly durationMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const limits = { connectTimeoutMs: 5_000, statementTimeoutMs: 5_000, maxScramIterations: 0 };

/** One client's logins, in order. */
interface Attempt {
  readonly at: number;
  readonly ok: boolean;
  readonly refused: boolean;
  /** The login worked and the unqualified query failed. */
  readonly queryFailed?: boolean;
  readonly error?: string;
}

/** The longest run of refused logins, from the first of them to the next success (or the end). */
function longestRefusedRun(attempts: readonly Attempt[], end: number): number {
  let longest = 0;
  let since: number | undefined;
  for (const attempt of attempts) {
    if (attempt.refused) since ??= attempt.at;
    else if (attempt.ok && since !== undefined) {
      longest = Math.max(longest, attempt.at - since);
      since = undefined;
    }
  }
  return since === undefined ? longest : Math.max(longest, end - since);
}

/**
 * Creates the user (and the admin the strategy needs) on the stack,
 * registers the rotation function in that mode, runs the clients and the
 * rotations, and reports.
 */
export async function follow(
  stack: LocalStack,
  options: FollowerOptions,
): Promise<FollowerDetails> {
  const { strategy, rotations, cacheMs } = options;
  const intervalMs = options.intervalMs ?? 2 * cacheMs;
  const clientCount = options.clients ?? 4;
  const loginEveryMs = options.loginEveryMs ?? 20;
  const tag = Math.random().toString(16).slice(2, 8);

  const extraKeys: Record<string, unknown> = {};
  let managedBy: string | undefined;
  if (strategy !== 'single-user') {
    const admin = await stack.createApplicationUser({
      username: `follower_admin_${tag}`,
      createRole: true,
    });
    extraKeys.masterarn = admin.secretArn;
    managedBy = admin.username;
  }
  const user = await stack.createApplicationUser({
    username: `follower_${tag}`,
    extraKeys,
    ...(managedBy ? { managedBy } : {}),
  });
  // A table only the user's search_path reaches, owned by the user.
  const schema = `follower_schema_${tag}`;
  await stack.postgres.withAdmin(async (c) => {
    const role = c.escapeIdentifier(user.username);
    await c.query(`CREATE SCHEMA ${schema} AUTHORIZATION ${role}`);
    await c.query(`CREATE TABLE ${schema}.${FOLLOWER_TABLE} (beat int)`);
    await c.query(`ALTER TABLE ${schema}.${FOLLOWER_TABLE} OWNER TO ${role}`);
    await c.query(`ALTER ROLE ${role} SET search_path = ${schema}`);
  });
  await options.onUserReady?.(user.username);
  const lambdaArn = stack.registerRotationFunction({
    functionName: `follower-${tag}`,
    env: {
      ...process.env,
      ROTATION_MODE: strategy,
      TEST_LOGIN_ATTEMPTS: '4',
      TEST_LOGIN_DELAY_MS: '50',
    },
    logger: new Logger({ serviceName: 'scram-rotator', logLevel: 'SILENT' }),
  });

  const readCurrent = async (): Promise<DatabaseSecret> => {
    const out = await stack.client.send(new GetSecretValueCommand({ SecretId: user.secretArn }));
    return parseDatabaseSecret(out.SecretString ?? '', { label: 'AWSCURRENT' });
  };
  const connector = new PgConnector();
  const started = performance.now();
  const now = () => performance.now() - started;
  let stop = false;

  const client = async (index: number): Promise<Attempt[]> => {
    const attempts: Attempt[] = [];
    let cached = await readCurrent();
    // Each cache starts at a different age, so the clients refresh at different moments.
    let readAt = now() - (cacheMs * index) / clientCount;
    while (!stop) {
      const loopStart = now();
      if (cacheMs === 0 || loopStart - readAt >= cacheMs) {
        cached = await readCurrent();
        readAt = now();
      }
      const at = now();
      try {
        const session = await connector.login(
          {
            host: cached.host,
            port: cached.port,
            database: cached.dbname,
            username: cached.username,
            password: cached.password,
            ca: cached.ca,
          },
          limits,
        );
        let queryFailed = false;
        try {
          await session.query(`SELECT count(*) FROM ${FOLLOWER_TABLE}`);
        } catch {
          queryFailed = true;
        } finally {
          await session.close();
        }
        attempts.push({ at, ok: true, refused: false, queryFailed });
      } catch (error) {
        const refused = error instanceof AuthenticationFailedError;
        attempts.push({ at, ok: false, refused, error: (error as Error).name });
      }
      await sleep(Math.max(0, loopStart + loginEveryMs - now()));
    }
    return attempts;
  };

  const running = Array.from({ length: clientCount }, (_, i) => client(i));
  const rotationResults: RotationResult[] = [];
  try {
    let previousStart = now();
    for (let index = 1; index <= rotations; index++) {
      await sleep(Math.max(0, previousStart + intervalMs - now()));
      previousStart = now();
      const outcome = await stack.rotate(user.secretArn, lambdaArn, { timeoutMs: 60_000 });
      const result: RotationResult = {
        index,
        ok: outcome.ok,
        durationMs: Math.round(now() - previousStart),
        ...(outcome.errorMessage ? { errorMessage: outcome.errorMessage } : {}),
      };
      rotationResults.push(result);
      options.onRotation?.(result);
    }
    // Clients that still hold a replaced password fail until their cache
    // refreshes: keep following them that long.
    await sleep(cacheMs + 4 * loginEveryMs);
  } finally {
    stop = true;
  }
  const perClient = await Promise.all(running);
  const end = now();
  const all = perClient.flat();
  const otherErrors: Record<string, number> = {};
  for (const attempt of all) {
    if (!attempt.ok && !attempt.refused && attempt.error) {
      otherErrors[attempt.error] = (otherErrors[attempt.error] ?? 0) + 1;
    }
  }
  return {
    report: {
      strategy,
      rotations,
      cacheMs,
      intervalMs,
      attempts: all.length,
      failedLogins: all.filter((attempt) => attempt.refused).length,
      longestFailureMs: Math.round(
        Math.max(0, ...perClient.map((attempts) => longestRefusedRun(attempts, end))),
      ),
      failedQueries: all.filter((attempt) => attempt.queryFailed === true).length,
    },
    clients: clientCount,
    rotationResults,
    otherErrors,
    durationMs: Math.round(end),
  };
}
