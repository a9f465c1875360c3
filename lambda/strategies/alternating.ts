/**
 * Alternating users (`ROTATION_MODE=alternating`): the secret alternates
 * between the application's user and a clone of it, and each rotation
 * changes the password of the one AWSCURRENT does not name. Clients holding
 * AWSCURRENT, and those still holding AWSPREVIOUS, keep logging in until the
 * rotation after next.
 *
 * The admin secret (`masterarn`) does the work, on AWSCURRENT's server
 * only (see `admin.ts`). On every rotation, not only when it creates the
 * clone, it brings the clone back in line with the original:
 * - membership in the original (the clone gets every privilege the original
 *   has or is granted later);
 * - LOGIN, and the attributes that decide how the application logs in
 *   (CONNECTION LIMIT on PostgreSQL, VALID UNTIL);
 * - acting as the original: PostgreSQL's `ALTER ROLE clone SET role =
 *   original` (objects it creates are owned by the original); CockroachDB
 *   refuses that, so the clone grants ALL on what it creates to the
 *   original instead (`engines/cockroachdb.ts`).
 *
 * It refuses, before any change, to clone a privileged original (the clone
 * would hold the same through its membership), to use a privileged clone,
 * and to adopt an existing role of the clone's name that is not a member
 * of the original unless this secret has already alternated between the two.
 *
 * @module
 */
import { type AlternatingPair, alternatingPair } from '../core/alternating.js';
import { assertTargetRole, type RoleFacts } from '../core/confinement.js';
import { type DatabaseSecret, differingFields, TARGET_FIELDS } from '../core/secret.js';
import type { Engine } from '../engines/engine.js';
import { CloneRefusedError, isRotationError } from '../errors.js';
import { loginLimits, type StepContext } from '../rotation/context.js';
import { loadPrevious, loginTarget } from '../rotation/load.js';
import { retryLogin } from '../rotation/prove.js';
import { openAdmin } from './admin.js';
import { chooseIterations, verifierOf } from './change.js';
import {
  type Change,
  type ChangeOutcome,
  type ChangeStrategy,
  type ChangingSession,
  confirmSessionUser,
} from './strategy.js';

/** The engine the secret says it is, before the server is asked (createSecret never logs in). */
const declaredEngine = (secret: DatabaseSecret) =>
  secret.engine === 'cockroachdb' ? 'cockroachdb' : 'postgres';

/** See the module documentation. */
export const alternating: ChangeStrategy = {
  name: 'alternating',

  nextUsername: (current, config) =>
    alternatingPair(current.username, config.cloneSuffix, declaredEngine(current)).next,

  async open(ctx, current) {
    return { kind: 'open', changing: await openAdmin(ctx, current) };
  },

  apply: applyAlternating,

  rollback: {
    kind: 'nothing',
    why: (current, pending) =>
      `alternating mode changed only ${pending.username}; ${current.username}, the user AWSCURRENT names, was not touched`,
  },
};

async function applyAlternating(ctx: StepContext, change: Change): Promise<ChangeOutcome> {
  const { engine, changing, current, pending } = change;
  const { session } = changing;
  const pair = alternatingPair(current.username, ctx.config.cloneSuffix, engine.name);
  const { clone, original } = pair;
  await confineOriginal(ctx, engine, changing, pair);
  const cloneFacts = await engine.roleFacts(session, clone, changing.changer);
  if (cloneFacts === undefined && pair.next !== clone) {
    throw new CloneRefusedError(clone, original, 'clone-missing');
  }
  if (cloneFacts !== undefined) confineClone(ctx, cloneFacts, changing, pair);

  const iterations = await chooseIterations(ctx, engine, changing);
  const verifier = await verifierOf(pending.password, iterations);
  const aligned: string[] = [];
  let storedHashConfirmed = false;
  if (cloneFacts === undefined) {
    await engine.createClone(session, pair, verifier.text);
  } else {
    if (!(await engine.actsAsMember(session, clone, original))) {
      const ours =
        (await alternatedBefore(ctx, current, pair)) ||
        (await createdByThisRotation(ctx, pending, pair));
      if (!ours) throw new CloneRefusedError(clone, original, 'not-a-clone');
      await engine.grantRole(session, original, clone);
      aligned.push('membership');
    }
    ({ confirmed: storedHashConfirmed } = await engine.setVerifier(
      session,
      pending.username,
      verifier.text,
      async () => (await verifierOf(await restorePassword(ctx, current, pair), iterations)).text,
    ));
  }
  aligned.push(...(await alignAttributes(engine, session, pair)));
  await engine.makeCloneActAsOriginal(session, () => openClone(ctx, current, pending, pair), pair);
  aligned.push(engine.cloneActsAs);
  return {
    role: pending.username,
    iterations,
    storedHashConfirmed,
    clone: { created: cloneFacts === undefined, aligned },
  };
}

/**
 * The original is confined like any rotated role (not the admin nor a
 * member of it, exists as named), and never privileged, whatever
 * ALLOW_PRIVILEGED_TARGET says: its clone would get the same.
 */
async function confineOriginal(
  ctx: StepContext,
  engine: Engine,
  changing: ChangingSession,
  { original, clone }: AlternatingPair,
): Promise<void> {
  const facts = await engine.roleFacts(changing.session, original, changing.changer);
  if (facts === undefined) throw new CloneRefusedError(clone, original, 'original-missing');
  assertTargetRole({
    role: original,
    storedName: engine.foldRoleName(original),
    facts,
    changer: changing.changer,
    allowPrivileged: ctx.config.allowPrivilegedTarget,
  });
  const privileged = [...facts.attributes, ...facts.privilegedRoles];
  if (privileged.length > 0) {
    throw new CloneRefusedError(clone, original, 'privileged-original', privileged);
  }
}

/** An existing clone is confined too, and holds no privileged attribute of its own. */
function confineClone(
  ctx: StepContext,
  facts: RoleFacts,
  changing: ChangingSession,
  { original, clone }: AlternatingPair,
): void {
  assertTargetRole({
    role: clone,
    storedName: clone,
    facts,
    changer: changing.changer,
    allowPrivileged: ctx.config.allowPrivilegedTarget,
  });
  if (facts.attributes.length > 0) {
    throw new CloneRefusedError(clone, original, 'privileged-clone', facts.attributes);
  }
}

/** The target fields but the user: AWSPREVIOUS names the other user of the pair. */
const SERVER_FIELDS = TARGET_FIELDS.filter((field) => field !== 'username');

/**
 * Whether this secret has alternated between the two already: AWSPREVIOUS
 * (on AWSCURRENT's server) names the other user of the pair. Only then is a
 * clone that lost its membership taken for ours and granted it again.
 */
async function alternatedBefore(
  ctx: StepContext,
  current: DatabaseSecret,
  { original, clone }: AlternatingPair,
): Promise<boolean> {
  const other = current.username === original ? clone : original;
  const previous = await loadPrevious(ctx);
  return (
    previous !== undefined &&
    previous.username === other &&
    differingFields(current, previous, SERVER_FIELDS).length === 0
  );
}

/**
 * Whether a clone without membership is the one this rotation created and
 * was cut short after (between CREATE USER and GRANT, which CockroachDB
 * cannot run in one transaction; a crash, a lost connection or the
 * deadline there): it logs in with AWSPENDING's password, which only this
 * secret's holders know, so no other role can pass for it. Without this
 * every retry refused the clone and the rotation could not complete.
 */
async function createdByThisRotation(
  ctx: StepContext,
  pending: DatabaseSecret,
  { clone }: AlternatingPair,
): Promise<boolean> {
  if (pending.username !== clone) return false;
  let session: ChangingSession['session'];
  try {
    session = await ctx.database.login(loginTarget(pending, ctx.config), loginLimits(ctx));
  } catch (error) {
    if (isRotationError(error, 'AUTH_FAILED')) return false;
    throw error;
  }
  try {
    await confirmSessionUser(session, clone, 'AWSPENDING');
  } finally {
    await session.close();
  }
  return true;
}

/**
 * What to put back if the server stored another hash than the verifier
 * sent: the changed user's password before, AWSPREVIOUS's (its clients may
 * still hold it), else a random one nobody holds.
 */
async function restorePassword(
  ctx: StepContext,
  current: DatabaseSecret,
  pair: AlternatingPair,
): Promise<string> {
  const previous = await loadPrevious(ctx);
  return previous !== undefined &&
    previous.username === pair.next &&
    differingFields(current, previous, SERVER_FIELDS).length === 0
    ? previous.password
    : crypto.randomUUID();
}

/** Brings LOGIN and the engine's aligned attributes of the clone in line with the original's. */
async function alignAttributes(
  engine: Engine,
  session: ChangingSession['session'],
  { original, clone }: AlternatingPair,
): Promise<string[]> {
  const want = await engine.roleAttributes(session, original);
  const have = await engine.roleAttributes(session, clone);
  if (want === undefined || have === undefined) return [];
  const differing: string[] = engine.alignedAttributes.filter(
    (attribute) => want[attribute] !== have[attribute],
  );
  if (!have.canLogin) differing.push('login');
  if (differing.length === 0) return [];
  await engine.alignRole(session, clone, {
    connectionLimit: want.connectionLimit,
    validUntil: want.validUntil,
  });
  return differing;
}

/**
 * A session as the clone, with the password it has now: AWSPENDING's when
 * this rotation changed it, else AWSCURRENT's (the clone is AWSCURRENT).
 * Retried briefly: a new password can take a moment to reach every node.
 */
async function openClone(
  ctx: StepContext,
  current: DatabaseSecret,
  pending: DatabaseSecret,
  { clone, next }: AlternatingPair,
): Promise<ChangingSession['session']> {
  const [secret, label] = next === clone ? [pending, 'AWSPENDING'] : [current, 'AWSCURRENT'];
  return retryLogin(ctx, 'the clone login', async () => {
    const session = await ctx.database.login(loginTarget(secret, ctx.config), loginLimits(ctx));
    await confirmSessionUser(session, clone, label);
    return session;
  });
}
