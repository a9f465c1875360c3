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
 * Time is the wall clock by default: what a real run measures, and what a
 * loaded machine stretches (a rotation slower than the interval minus the
 * cache changes the outcome). With `clock: 'stepped'` time is counted, not
 * measured (see {@link SteppedClock}), so the outcome depends on the
 * schedule alone: what tests assert.
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
  /**
   * `wall`: real time. `stepped`: time moves `loginEveryMs` at a time, once
   * every client has made its login for the moment, and stands still while
   * a rotation runs (see {@link SteppedClock}).
   * @default 'wall'
   */
  readonly clock?: 'wall' | 'stepped';
}

/** One rotation, as the follower saw it end. */
export interface RotationResult {
  readonly index: number;
  readonly ok: boolean;
  /** Wall-clock time the rotation took, whatever the run's clock. */
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
  /** Wall-clock time of the whole run, whatever its clock. */
  readonly durationMs: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The follower's time, as the clients and the rotations see it. */
interface FollowerClock {
  /** Milliseconds since the run started. */
  now(): number;
  /** The rotations wait `ms`. */
  sleep(ms: number): Promise<void>;
  /** A client waits for its next login, due `everyMs` after `since` (its last one's start). */
  nextLogin(since: number, everyMs: number): Promise<void>;
  /** A client has stopped (the run is over, or it failed). */
  leave(): void;
  /** The run is over: no client waits any longer. */
  stop(): void;
}

/** Real time: what `npm run follower` measures. */
function wallClock(): FollowerClock {
  const started = performance.now();
  const now = () => performance.now() - started;
  return {
    now,
    sleep,
    nextLogin: (since, everyMs) => sleep(Math.max(0, since + everyMs - now())),
    leave: () => {},
    stop: () => {},
  };
}

/** A promise and the function that settles it (Promise.withResolvers is Node 22+). */
function gate(): { readonly opened: Promise<void>; readonly open: () => void } {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/**
 * Counted time. It moves `stepMs` at a time, and only once every client has
 * made its login for the current moment and waits for the next; it stands
 * still while a rotation runs (the rotations wait for the clients before they
 * start one, and the clients wait for time to move). Every client thus makes
 * one login per step, the cache expiries and the rotations fall on the same
 * steps on any machine, and how long a login or a rotation really takes
 * changes nothing but how long the run lasts.
 */
export class SteppedClock implements FollowerClock {
  #now = 0;
  #members: number;
  #waiting = 0;
  #stopped = false;
  #tick = gate();
  #settled = gate();
  readonly #stepMs: number;

  /** `members`: the clients taking part; `stepMs`: how far time moves at a time. */
  constructor(members: number, stepMs: number) {
    this.#members = members;
    this.#stepMs = Math.max(1, stepMs);
    this.#checkSettled();
  }

  now(): number {
    return this.#now;
  }

  /** Waits for every client's login at the current moment, then moves time `ms` on, a step at a time. */
  async sleep(ms: number): Promise<void> {
    await this.#settled.opened;
    for (let left = ms; left > 0 && !this.#stopped; left -= this.#stepMs) {
      this.#now += Math.min(this.#stepMs, left);
      this.#waiting = 0;
      this.#settled = gate();
      const tick = this.#tick;
      this.#tick = gate();
      this.#checkSettled();
      tick.open();
      await this.#settled.opened;
    }
  }

  nextLogin(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    const next = this.#tick.opened;
    this.#waiting++;
    this.#checkSettled();
    return next;
  }

  leave(): void {
    this.#members--;
    this.#checkSettled();
  }

  stop(): void {
    this.#stopped = true;
    this.#tick.open();
    this.#settled.open();
  }

  #checkSettled(): void {
    if (this.#waiting >= this.#members) this.#settled.open();
  }
}
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
  const clock =
    options.clock === 'stepped' ? new SteppedClock(clientCount, loginEveryMs) : wallClock();
  const now = () => clock.now();
  let stop = false;

  const client = async (index: number): Promise<Attempt[]> => {
    try {
      return await clientLogins(index);
    } finally {
      clock.leave();
    }
  };
  const clientLogins = async (index: number): Promise<Attempt[]> => {
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
      await clock.nextLogin(loopStart, loginEveryMs);
    }
    return attempts;
  };

  const running = Array.from({ length: clientCount }, (_, i) => client(i));
  const rotationResults: RotationResult[] = [];
  try {
    let previousStart = now();
    for (let index = 1; index <= rotations; index++) {
      await clock.sleep(Math.max(0, previousStart + intervalMs - now()));
      previousStart = now();
      const began = performance.now();
      const outcome = await stack.rotate(user.secretArn, lambdaArn, { timeoutMs: 60_000 });
      const result: RotationResult = {
        index,
        ok: outcome.ok,
        durationMs: Math.round(performance.now() - began),
        ...(outcome.errorMessage ? { errorMessage: outcome.errorMessage } : {}),
      };
      rotationResults.push(result);
      options.onRotation?.(result);
    }
    // Clients that still hold a replaced password fail until their cache
    // refreshes: keep following them that long.
    await clock.sleep(cacheMs + 4 * loginEveryMs);
  } finally {
    stop = true;
    clock.stop();
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
    durationMs: Math.round(performance.now() - started),
  };
}
