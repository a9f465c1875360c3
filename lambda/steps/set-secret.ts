import {
  assertFitsDeadline,
  assertIterationsWithinBound,
  assertTargetRole,
} from '../core/confinement.js';
import { isPortablePassword } from '../core/password.js';
import { createScramVerifierAsync, estimatePbkdf2Ms } from '../core/scram.js';
import { assertSameTarget, type DatabaseSecret } from '../core/secret.js';
import { engineOf } from '../engines/detect.js';
import type { Engine } from '../engines/engine.js';
import { PasswordPolicyError } from '../errors.js';
import { type ChangingSession, strategyFor } from '../strategies/index.js';
import { type StepContext, timeLeftMs } from './context.js';
import { loadCurrent, requirePending } from './load.js';

/**
 * setSecret: set the pending password on the database as a SCRAM-SHA-256
 * verifier computed here, so the server never sees the cleartext.
 *
 * Before anything changes it knows that:
 * - the pending version names AWSCURRENT's target, CA and admin secret;
 * - every secret it logs in with names the server AWSCURRENT names, and the
 *   session is the role it logged in as (strategies/);
 * - the role to change exists under exactly that name, is not the admin nor
 *   a member of it, and is not privileged unless allowed;
 * - the iteration count is within SCRAM_MAX_ITERATIONS (so the test login
 *   will accept it) and its PBKDF2 fits in the time left.
 *
 * Safe to re-run: single user, it does nothing when the pending password
 * already logs in; through an admin, it sets the same password again.
 */
export async function setSecret(ctx: StepContext): Promise<void> {
  const current = await loadCurrent(ctx);
  const pending = await requirePending(ctx);
  assertSameTarget(current, pending);
  assertPortable(pending);
  const strategy = strategyFor(ctx.config, current);
  const opened = await strategy.open(ctx, current, pending);
  if (opened.kind === 'already-set') {
    ctx.logger.info('setSecret: the pending password already logs in; nothing to do');
    return;
  }
  const { changing } = opened;
  try {
    const engine = await engineOf(changing.session);
    warnOnEngineMismatch(ctx, pending, engine);
    await confineTarget(ctx, engine, changing, pending.username);
    const verifier = await verifierFor(ctx, engine, changing, pending);
    const { confirmed } = await engine.setVerifier(
      changing.session,
      pending.username,
      verifier.text,
      () => createScramVerifierAsync(current.password, { iterations: verifier.iterations }),
    );
    ctx.logger.info('setSecret: the password verifier was set', {
      strategy: strategy.name,
      engine: engine.name,
      iterations: verifier.iterations,
      mechanism: changing.session.mechanism,
      storedHashConfirmed: confirmed,
    });
  } finally {
    await changing.session.close();
  }
}

/**
 * Refuses a pending password that not every client would hash alike: it
 * could be stored, and then never log in.
 */
function assertPortable(pending: DatabaseSecret): void {
  if (!isPortablePassword(pending.password)) {
    throw new PasswordPolicyError(
      'the AWSPENDING password has characters outside printable ASCII, which clients may hash differently',
      'store a pending password of printable ASCII only, or remove the pending version and let createSecret generate one; nothing was changed',
    );
  }
}

function warnOnEngineMismatch(ctx: StepContext, pending: DatabaseSecret, engine: Engine): void {
  const declared = pending.engine === 'cockroachdb' ? 'cockroachdb' : 'postgres';
  if (engine.name !== declared) {
    ctx.logger.warn(
      'setSecret: the server is not the engine the secret names; following the server',
      { declared: pending.engine, server: engine.name },
    );
  }
}

/** The role to change is the rotated role itself, and one the function may change. */
async function confineTarget(
  ctx: StepContext,
  engine: Engine,
  changing: ChangingSession,
  role: string,
): Promise<void> {
  const changer = changing.selfService ? undefined : changing.changer;
  const storedName = engine.foldRoleName(role);
  assertTargetRole({
    role,
    storedName,
    facts:
      storedName === role ? await engine.roleFacts(changing.session, role, changer) : undefined,
    changer,
    allowPrivileged: ctx.config.allowPrivilegedTarget,
  });
}

/** The verifier, at an iteration count the test login accepts and that fits the time left. */
async function verifierFor(
  ctx: StepContext,
  engine: Engine,
  changing: ChangingSession,
  pending: DatabaseSecret,
): Promise<{ text: string; iterations: number }> {
  const { iterations, source } = await engine.prepareChange(changing.session, {
    changer: changing.changer,
    selfService: changing.selfService,
    configuredIterations: ctx.config.scramIterations,
    allowIterationMismatch: ctx.config.allowIterationMismatch,
  });
  assertIterationsWithinBound(iterations, ctx.config.maxScramIterations, source);
  assertFitsDeadline(
    `PBKDF2 over ${iterations} iterations`,
    estimatePbkdf2Ms(iterations),
    timeLeftMs(ctx),
  );
  return {
    text: await createScramVerifierAsync(pending.password, { iterations }),
    iterations,
  };
}
