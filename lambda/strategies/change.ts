/**
 * The password change every strategy is built from: confine the role, pick
 * and bound the iteration count, compute the verifier, and let the engine
 * send and confirm it. setSecret (through a strategy) and testSecret's
 * roll-back both go through here, so a roll-back meets the same checks as
 * the change it undoes.
 *
 * @module
 */
import {
  assertFitsDeadline,
  assertIterationsWithinBound,
  assertTargetRole,
  type RoleFacts,
} from '../core/confinement.js';
import { createScramVerifierAsync, estimatePbkdf2Ms } from '../core/scram.js';
import type { Engine } from '../engines/engine.js';
import { type StepContext, timeLeftMs } from '../rotation/context.js';
import type { Change, ChangeOutcome, ChangingSession } from './strategy.js';

/** A verifier to send, and its iteration count (for logs). */
export interface Verifier {
  readonly text: string;
  readonly iterations: number;
}

/** The admin's role when an admin changes the password, `undefined` when a role changes its own. */
export function changerOf(changing: ChangingSession): string | undefined {
  return changing.selfService ? undefined : changing.changer;
}

/**
 * Checks that `role` is one the function may change through this session
 * (exists under exactly that name, is not the admin nor a member of it, is
 * not privileged unless allowed), and returns what the server says of it.
 *
 * @throws {@link TargetRoleError}
 */
export async function confineRole(
  ctx: StepContext,
  engine: Engine,
  changing: ChangingSession,
  role: string,
): Promise<RoleFacts> {
  const changer = changerOf(changing);
  const storedName = engine.foldRoleName(role);
  const facts =
    storedName === role ? await engine.roleFacts(changing.session, role, changer) : undefined;
  assertTargetRole({
    role,
    storedName,
    facts,
    changer,
    allowPrivileged: ctx.config.allowPrivilegedTarget,
  });
  // assertTargetRole refuses a missing role.
  return facts as RoleFacts;
}

/**
 * The iteration count the engine wants for this session, bounded by
 * SCRAM_MAX_ITERATIONS (so the test login accepts it) and by the time left
 * (PBKDF2 cannot be stopped once started).
 */
export async function chooseIterations(
  ctx: StepContext,
  engine: Engine,
  changing: ChangingSession,
): Promise<number> {
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
  return iterations;
}

/** A SCRAM-SHA-256 verifier of `password` at `iterations`, computed here. */
export async function verifierOf(password: string, iterations: number): Promise<Verifier> {
  return { text: await createScramVerifierAsync(password, { iterations }), iterations };
}

/** What {@link setPassword} changes. */
export interface PasswordChange {
  /** The role whose password changes. */
  readonly role: string;
  /** Its new password (never sent: only its verifier is). */
  readonly password: string;
  /**
   * The password to put back if the server stores something else than the
   * verifier sent (CockroachDB, read back where the session may).
   */
  readonly restorePassword: string;
}

/**
 * Confines the role, then sets its password as a verifier computed here.
 * Every check runs before anything is sent.
 */
export async function setPassword(
  ctx: StepContext,
  engine: Engine,
  changing: ChangingSession,
  change: PasswordChange,
): Promise<ChangeOutcome> {
  await confineRole(ctx, engine, changing, change.role);
  const iterations = await chooseIterations(ctx, engine, changing);
  const verifier = await verifierOf(change.password, iterations);
  const { confirmed } = await engine.setVerifier(
    changing.session,
    change.role,
    verifier.text,
    async () => (await verifierOf(change.restorePassword, iterations)).text,
  );
  return { role: change.role, iterations, storedHashConfirmed: confirmed };
}

/**
 * The single-user and admin change: the pending user (the user AWSCURRENT
 * names) gets the pending password, and AWSCURRENT's is put back if the
 * server stores something else than the verifier sent.
 */
export function changePendingUser(
  ctx: StepContext,
  { engine, changing, current, pending }: Change,
): Promise<ChangeOutcome> {
  return setPassword(ctx, engine, changing, {
    role: pending.username,
    password: pending.password,
    restorePassword: current.password,
  });
}
