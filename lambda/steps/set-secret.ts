import type { DatabaseSession, LoginTarget } from '../adapters/database.js';
import { assertVerifierAcceptable, createScramVerifierAsync } from '../core/scram.js';
import { assertSameTarget, type DatabaseSecret, parseDatabaseSecret } from '../core/secret.js';
import {
  COCKROACH_SETTINGS,
  checkVerifierFormat,
  prepareCockroachChange,
  storedHash,
} from '../engines/cockroachdb.js';
import { detectEngine } from '../engines/detect.js';
import {
  AuthenticationFailedError,
  MalformedSecretError,
  VerifierNotStoredError,
} from '../errors.js';
import { loginLimits, type StepContext } from './context.js';
import { loadCurrent, loadPrevious, loginTarget, requirePending, STAGES } from './load.js';

/** PostgreSQL's own default when the server does not say (before 16). */
const DEFAULT_ITERATIONS = 4096;

/** Who changes the password. */
type Changer =
  | { readonly kind: 'single-user' }
  | { readonly kind: 'admin'; readonly secretArn: string };

function changerFor(ctx: StepContext, current: DatabaseSecret): Changer {
  switch (ctx.config.mode) {
    case 'single-user':
      return { kind: 'single-user' };
    case 'admin':
      if (!current.masterarn) {
        throw new MalformedSecretError(
          'masterarn',
          'AWSCURRENT',
          'ROTATION_MODE is admin: add the admin secret ARN as masterarn',
        );
      }
      return { kind: 'admin', secretArn: current.masterarn };
    case 'auto':
      return current.masterarn
        ? { kind: 'admin', secretArn: current.masterarn }
        : { kind: 'single-user' };
  }
}

/** Logs in, or returns `undefined` when the password is wrong. */
async function tryLogin(
  ctx: StepContext,
  target: LoginTarget,
): Promise<DatabaseSession | undefined> {
  try {
    return await ctx.database.login(target, loginLimits(ctx));
  } catch (error) {
    if (error instanceof AuthenticationFailedError) return undefined;
    throw error;
  }
}

/**
 * The iteration count for the new verifier: the configured one, else the
 * server's own `scram_iterations` (PostgreSQL 16+), else 4096.
 */
async function iterationsFor(ctx: StepContext, session: DatabaseSession): Promise<number> {
  if (ctx.config.scramIterations !== undefined) return ctx.config.scramIterations;
  const fromServer = Number(await session.setting('scram_iterations'));
  return Number.isInteger(fromServer) && fromServer > 0 ? fromServer : DEFAULT_ITERATIONS;
}

/** The session that will run ALTER USER, and who it is logged in as. */
interface ChangingSession {
  readonly session: DatabaseSession;
  readonly changer: Changer;
  readonly loggedInAs: string;
}

/**
 * Opens the session that will run ALTER USER, or returns `undefined` when
 * the pending password already logs in (a re-run after success).
 */
async function openChangingSession(
  ctx: StepContext,
  current: DatabaseSecret,
  pending: DatabaseSecret,
): Promise<ChangingSession | undefined> {
  const changer = changerFor(ctx, current);
  const pendingTarget = loginTarget(pending, ctx.config);
  if (changer.kind === 'admin') {
    const already = await tryLogin(ctx, pendingTarget);
    if (already) {
      await already.close();
      return undefined;
    }
    const adminText = await ctx.secrets.getSecretString(changer.secretArn, {
      stage: STAGES.current,
    });
    if (adminText === undefined) {
      throw new MalformedSecretError(
        'masterarn',
        'AWSCURRENT',
        'the admin secret it names has no value',
      );
    }
    const admin = parseDatabaseSecret(adminText, { label: 'admin secret (masterarn)' });
    ctx.logger.info('setSecret: logging in as the admin user');
    const session = await ctx.database.login(
      loginTarget(admin, ctx.config, current.ca),
      loginLimits(ctx),
    );
    return { session, changer, loggedInAs: admin.username };
  }
  // Single user: the user changes its own password, logging in with the
  // password it has now. After a partial earlier run that may be the
  // previous one, or already the pending one.
  const candidates: [string, DatabaseSecret | undefined][] = [
    ['AWSCURRENT', current],
    ['AWSPREVIOUS', await loadPrevious(ctx)],
  ];
  for (const [label, secret] of candidates) {
    if (!secret) continue;
    const session = await tryLogin(ctx, loginTarget(secret, ctx.config));
    if (session) {
      ctx.logger.info('setSecret: logged in as the user', { with: label });
      return { session, changer, loggedInAs: current.username };
    }
  }
  const already = await tryLogin(ctx, pendingTarget);
  if (already) {
    await already.close();
    return undefined;
  }
  throw new AuthenticationFailedError(
    current.username,
    `${current.host}:${current.port}`,
    undefined,
    'none of AWSCURRENT, AWSPREVIOUS or AWSPENDING logs in; set the password by hand to AWSCURRENT and retry',
  );
}

/**
 * setSecret: set the pending password on the database as a SCRAM-SHA-256
 * verifier computed here, so the server never sees the cleartext.
 *
 * Refuses before touching the database if the pending secret points at a
 * different host, port, database or user than the current one. Safe to
 * re-run: if the pending password already logs in, nothing is changed.
 */
export async function setSecret(ctx: StepContext): Promise<void> {
  const current = await loadCurrent(ctx);
  const pending = await requirePending(ctx);
  assertSameTarget(current, pending);
  const opened = await openChangingSession(ctx, current, pending);
  if (opened === undefined) {
    ctx.logger.info('setSecret: the pending password already logs in; nothing to do');
    return;
  }
  const { session } = opened;
  try {
    const engine = await detectEngine(session);
    const declared = pending.engine === 'cockroachdb' ? 'cockroachdb' : 'postgres';
    if (engine !== declared) {
      ctx.logger.warn(
        'setSecret: the server is not the engine the secret names; following the server',
        {
          declared: pending.engine,
          server: engine,
        },
      );
    }
    switch (engine) {
      case 'postgres':
        await changeOnPostgres(ctx, opened, pending);
        break;
      case 'cockroachdb':
        await changeOnCockroach(ctx, opened, current, pending);
        break;
    }
  } finally {
    await session.close();
  }
}

/** PostgreSQL: the server's own iteration count, our checked verifier, ALTER USER. */
async function changeOnPostgres(
  ctx: StepContext,
  { session }: ChangingSession,
  pending: DatabaseSecret,
): Promise<void> {
  const iterations = await iterationsFor(ctx, session);
  const verifier = await createScramVerifierAsync(pending.password, { iterations });
  // The server stores a hash of any string it does not recognise as a
  // verifier, silently: check our own output before sending it.
  assertVerifierAcceptable(verifier, 'postgres');
  await session.setPasswordVerifier(pending.username, verifier);
  ctx.logger.info('setSecret: the password verifier was set', {
    iterations,
    mechanism: session.mechanism,
  });
}

/**
 * CockroachDB: cluster settings checked first, the cluster's cost, the
 * verifier checked by CockroachDB itself, and afterwards the stored hash
 * compared with what was sent. If the server stored something else, the
 * current password is put back so the application keeps working.
 */
async function changeOnCockroach(
  ctx: StepContext,
  { session, changer, loggedInAs }: ChangingSession,
  current: DatabaseSecret,
  pending: DatabaseSecret,
): Promise<void> {
  const { iterations } = await prepareCockroachChange(session, {
    loggedInAs,
    selfService: changer.kind === 'single-user',
    configuredIterations: ctx.config.scramIterations,
    allowIterationMismatch: ctx.config.allowIterationMismatch,
  });
  const verifier = await createScramVerifierAsync(pending.password, { iterations });
  assertVerifierAcceptable(verifier, 'cockroachdb');
  await checkVerifierFormat(session, verifier);
  await session.setPasswordVerifier(pending.username, verifier);
  const stored = await storedHash(session, pending.username);
  if (stored === undefined) {
    ctx.logger.info(
      'setSecret: the stored hash is not readable by this role; testSecret will prove the login',
      {
        iterations,
      },
    );
  } else if (stored !== verifier) {
    // Put the current password back, and say so only if the server stored
    // the restore as sent: the same cause (pre-hashed passwords turned off)
    // would store the restore wrongly too.
    const restore = await createScramVerifierAsync(current.password, { iterations });
    await session.setPasswordVerifier(pending.username, restore);
    const restored = (await storedHash(session, pending.username)) === restore;
    throw new VerifierNotStoredError(
      pending.username,
      restored
        ? `the current password was put back; check ${COCKROACH_SETTINGS.storePreHashed} and run npm run doctor`
        : `the current password could NOT be put back: set it by hand to the AWSCURRENT value with a SCRAM verifier, enable ${COCKROACH_SETTINGS.storePreHashed}, and run npm run doctor`,
    );
  }
  ctx.logger.info('setSecret: the password verifier was set', {
    iterations,
    mechanism: session.mechanism,
    storedHashConfirmed: stored !== undefined,
  });
}
