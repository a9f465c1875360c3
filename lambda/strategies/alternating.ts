/**
 * Alternating users (`ROTATION_MODE=alternating`): the secret alternates
 * between the application's user and a clone of it, and each rotation
 * changes the password of the one AWSCURRENT does not name. Clients holding
 * AWSCURRENT, and those still holding AWSPREVIOUS, keep logging in until the
 * rotation after next.
 *
 * The admin secret (`masterarn`) does the work, on AWSCURRENT's server
 * only (see `admin.ts`). Every check of a rotation runs before any GRANT,
 * ALTER or password change of any role:
 * - the original is confined like any rotated role, and never privileged;
 * - the clone is held to the same rules (never privileged, whatever
 *   ALLOW_PRIVILEGED_TARGET says: its clients would hold the privileges);
 * - the clone is proven to be the one this function created for this
 *   original (see {@link proveClone}), never inferred from its name or a
 *   membership;
 * - neither role was disabled by an operator (NOLOGIN, CONNECTION LIMIT 0,
 *   a VALID UNTIL that has passed): a rotation never enables a role again.
 *
 * Then it brings the proven clone in line with the original: membership in
 * the original, VALID UNTIL (and CONNECTION LIMIT on PostgreSQL) where the
 * original's is narrower (never widened: see {@link narrowing}), the
 * original's per-role settings (`engines/role-settings.ts`), and
 * acting as the original: PostgreSQL's `ALTER ROLE clone SET role =
 * original` (objects it creates are owned by the original); CockroachDB
 * refuses that, so the clone grants ALL on what it creates to the original
 * instead (`engines/cockroachdb.ts`).
 *
 * @module
 */
import type { DatabaseSession } from '../adapters/database.js';
import { type AlternatingPair, alternatingPair } from '../core/alternating.js';
import { assertTargetRole, type RoleFacts } from '../core/confinement.js';
import { type DatabaseSecret, differingFields, TARGET_FIELDS } from '../core/secret.js';
import type { AlignedAttributes, Engine } from '../engines/engine.js';
import { applyRoleSettings, planRoleSettings } from '../engines/role-settings.js';
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
    kind: 'restore-previous',
    open: (ctx, current) => openAdmin(ctx, current),
  },
};

/** What the checks found, for the changes that follow them. */
interface Checked {
  readonly pair: AlternatingPair;
  /** The clone's facts, `undefined` when it does not exist yet. */
  readonly cloneFacts: RoleFacts | undefined;
}

async function applyAlternating(ctx: StepContext, change: Change): Promise<ChangeOutcome> {
  const { engine, changing, current, pending } = change;
  const { session } = changing;
  // Every check first: nothing below runs unless all of them passed.
  const { pair, cloneFacts } = await checkPair(ctx, change, 'change');
  const narrowed = await narrowing(engine, session, pair, cloneFacts === undefined);
  const settings = await settingsPlan(session, pair, cloneFacts === undefined);
  const iterations = await chooseIterations(ctx, engine, changing);
  const verifier = await verifierOf(pending.password, iterations);

  const { clone, original } = pair;
  const aligned: string[] = [];
  let storedHashConfirmed = false;
  if (cloneFacts === undefined) {
    await engine.createClone(session, pair, verifier.text);
  } else {
    // The password first: where the admin may not change the clone (no
    // ADMIN OPTION on it), that fails before the clone is granted anything.
    ({ confirmed: storedHashConfirmed } = await engine.setVerifier(
      session,
      pending.username,
      verifier.text,
      async () => (await verifierOf(await restorePassword(ctx, current, pair), iterations)).text,
    ));
    if (!(await engine.actsAsMember(session, clone, original))) {
      // Proven ours above: a lost membership is given back.
      await engine.grantRole(session, original, clone);
      aligned.push('membership');
    }
  }
  if (narrowed.names.length > 0) {
    await engine.alignRole(session, clone, narrowed.set);
    aligned.push(...narrowed.names);
  }
  await applyRoleSettings(session, settings);
  if (settings.names.length > 0) aligned.push('settings');
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
 * The read-only checks of a rotation (see the module documentation), run
 * by setSecret before any change and by testSecret's roll-back before it
 * sets a password back. The roll-back does not prove possession again: the
 * role's password is the pending one, or unknown after a failed test.
 */
export async function checkPair(
  ctx: StepContext,
  { engine, changing, current, pending }: Change,
  purpose: 'change' | 'roll-back',
): Promise<Checked> {
  const { session } = changing;
  const pair = alternatingPair(current.username, ctx.config.cloneSuffix, engine.name);
  const input: PairCheckInput = {
    engine,
    session,
    changer: changing.changer,
    pair,
    allowPrivilegedTarget: ctx.config.allowPrivilegedTarget,
    // The roll-back does not prove possession again (see above).
    possesses: purpose === 'roll-back' ? undefined : () => possesses(ctx, current, pending, pair),
  };
  await confineOriginal(input);
  const cloneFacts = await engine.roleFacts(session, pair.clone, changing.changer);
  if (cloneFacts === undefined) {
    if (pair.next !== pair.clone || purpose === 'roll-back') {
      throw new CloneRefusedError(pair.clone, pair.original, 'clone-missing');
    }
    return { pair, cloneFacts };
  }
  for (const check of existingCloneChecks(input, cloneFacts)) await check();
  return { pair, cloneFacts };
}

/**
 * What the read-only checks of a pair run against: the admin's session and
 * the rules. Shared with `scram-rotator doctor`, which runs the same checks.
 */
export interface PairCheckInput {
  readonly engine: Engine;
  /** The admin's session. */
  readonly session: DatabaseSession;
  /** The admin's role. */
  readonly changer: string;
  readonly pair: AlternatingPair;
  readonly allowPrivilegedTarget: boolean;
  /**
   * Where the engine keeps no mark (see {@link proveClone}): whether the
   * user a rotation changes logs in with a password this secret holds for
   * it. `undefined`: not asked (testSecret's roll-back).
   */
  readonly possesses: (() => Promise<boolean>) | undefined;
}

/**
 * The checks of an existing clone, in the order a rotation runs them; each
 * throws {@link CloneRefusedError} (or the confinement's error) and changes
 * nothing. The rotation stops at the first; doctor reports each.
 */
export function existingCloneChecks(
  input: PairCheckInput,
  cloneFacts: RoleFacts,
): readonly (() => Promise<void>)[] {
  const { pair } = input;
  return [
    async () => confineClone(input, cloneFacts),
    () => refuseHolders(input),
    () => proveClone(input),
    () => refuseDisabled(input, pair.clone),
    () => refuseDisabled(input, pair.original),
  ];
}

/**
 * The original is confined like any rotated role (not the admin nor a
 * member of it, exists as named), and never privileged, whatever
 * ALLOW_PRIVILEGED_TARGET says: its clone would get the same.
 */
export async function confineOriginal({
  engine,
  session,
  changer,
  pair: { original, clone },
  allowPrivilegedTarget,
}: PairCheckInput): Promise<void> {
  const facts = await engine.roleFacts(session, original, changer);
  if (facts === undefined) throw new CloneRefusedError(clone, original, 'original-missing');
  assertTargetRole({
    role: original,
    storedName: engine.foldRoleName(original),
    facts,
    changer,
    allowPrivileged: allowPrivilegedTarget,
  });
  const privileged = [...facts.attributes, ...facts.privilegedRoles];
  if (privileged.length > 0) {
    throw new CloneRefusedError(clone, original, 'privileged-original', privileged);
  }
}

/**
 * An existing clone is held to exactly the original's rules: confined like
 * any rotated role, and never privileged, neither by its own attributes
 * nor through a membership (a CREATEROLE role it is a member of included),
 * whatever ALLOW_PRIVILEGED_TARGET says.
 */
function confineClone(
  { changer, pair: { original, clone }, allowPrivilegedTarget }: PairCheckInput,
  facts: RoleFacts,
): void {
  assertTargetRole({
    role: clone,
    storedName: clone,
    facts,
    changer,
    allowPrivileged: allowPrivilegedTarget,
  });
  const privileged = [...facts.attributes, ...facts.privilegedRoles];
  if (privileged.length > 0) {
    throw new CloneRefusedError(clone, original, 'privileged-clone', privileged);
  }
}

/**
 * An existing clone is granted to nobody but the admin (PostgreSQL 16+
 * records the admin's ADMIN OPTION on a role it created as a membership).
 * Any other member would get the original's privileges through the clone
 * once the clone is a member of the original; another role manager with
 * ADMIN OPTION on it (one that created it, say, and wrote its mark) could
 * also set its password. The user itself may have members: the operator
 * granted those the user's privileges; nobody granted them the clone.
 */
async function refuseHolders({
  engine,
  session,
  changer,
  pair: { original, clone },
}: PairCheckInput): Promise<void> {
  const others = (await engine.roleMembers(session, clone)).filter((member) => member !== changer);
  if (others.length > 0) throw new CloneRefusedError(clone, original, 'held-by-others', others);
}

/**
 * Proves that an existing clone is the one this function created for this
 * original, against the server's catalog, on every rotation.
 *
 * - PostgreSQL: the function writes a COMMENT on the clone, naming the
 *   original and its oid, in the transaction that creates it. Only a
 *   superuser or a role manager (CREATEROLE, with ADMIN OPTION on the
 *   clone since 16) can write one: a party that could set the clone's
 *   password anyway. Neither the role's own login, nor its application,
 *   nor whoever writes this secret's versions (AWSPREVIOUS included) can.
 *   A role of the clone's name made by anyone else carries no such mark,
 *   nor does an application user whose name merely ends in the suffix.
 * - CockroachDB has no COMMENT ON ROLE and no other per-role record only a
 *   role manager writes, so the role whose password changes is proven by
 *   possession: it logs in with the password a version of this secret
 *   holds for it (AWSPREVIOUS naming it, else AWSPENDING after an
 *   interrupted run of this rotation). Another application's role of the
 *   clone's name fails that: its password is not in this secret.
 */
async function proveClone({ engine, session, pair, possesses }: PairCheckInput): Promise<void> {
  const { clone, original } = pair;
  const mark = await engine.cloneMark(session, pair);
  if (mark !== undefined) {
    if (mark.found === mark.expected) return;
    throw new CloneRefusedError(clone, original, 'unproven', [], {
      fix:
        `It carries no mark of this function for ${original}. If it is not this secret's clone, set CLONE_SUFFIX to a suffix no other role uses. ` +
        `To bring it under rotation deliberately (its password will change, and it will act as ${original}), check its memberships and attributes, then run: ${mark.adopt}`,
    });
  }
  if (possesses === undefined || (await possesses())) return;
  throw new CloneRefusedError(clone, original, 'unproven', [], {
    fix:
      `CockroachDB has no role comment, so ${pair.next} must log in with the password this secret holds for it, and none of AWSPREVIOUS or AWSPENDING does. ` +
      `If ${clone} is not this secret's clone, set CLONE_SUFFIX to a suffix no other role uses. To bring it under rotation deliberately, store ${pair.next}'s current password as AWSPREVIOUS (same connection fields as AWSCURRENT)` +
      (pair.next === clone ? `, or drop ${clone} so that the next rotation creates it` : ''),
  });
}

/** Whether the user a rotation changes logs in with a password this secret holds for it (see {@link possessedBy}). */
async function possesses(
  ctx: StepContext,
  current: DatabaseSecret,
  pending: DatabaseSecret,
  { next }: AlternatingPair,
): Promise<boolean> {
  return possessedBy(
    (secret) => ctx.database.login(loginTarget(secret, ctx.config), loginLimits(ctx)),
    next,
    current,
    { previous: await loadPrevious(ctx), pending },
  );
}

/**
 * Whether `next` logs in with a password this secret holds for it:
 * AWSPREVIOUS's where it names `next` on AWSCURRENT's server, else
 * AWSPENDING's (an interrupted run of a rotation set it already). At most
 * one of them fails. Shared with doctor, which logs in the same way.
 */
export async function possessedBy(
  login: (secret: DatabaseSecret) => Promise<DatabaseSession>,
  next: string,
  current: DatabaseSecret,
  versions: {
    readonly previous: DatabaseSecret | undefined;
    readonly pending: DatabaseSecret | undefined;
  },
): Promise<boolean> {
  const { previous, pending } = versions;
  const candidates: [DatabaseSecret, string][] = [];
  if (
    previous !== undefined &&
    previous.username === next &&
    differingFields(current, previous, SERVER_FIELDS).length === 0
  ) {
    candidates.push([previous, 'AWSPREVIOUS']);
  }
  if (pending !== undefined) candidates.push([pending, 'AWSPENDING']);
  for (const [secret, label] of candidates) {
    let session: DatabaseSession;
    try {
      session = await login(secret);
    } catch (error) {
      if (isRotationError(error, 'AUTH_FAILED')) continue;
      throw error;
    }
    try {
      await confirmSessionUser(session, next, label);
    } finally {
      await session.close();
    }
    return true;
  }
  return false;
}

/**
 * Refuses a role an operator disabled: a rotation never undoes NOLOGIN,
 * CONNECTION LIMIT 0 or a VALID UNTIL that has passed (aligning the clone,
 * or making a disabled role AWSCURRENT, would).
 */
async function refuseDisabled(
  { engine, session, pair: { original, clone } }: PairCheckInput,
  role: string,
): Promise<void> {
  const attributes = await engine.roleAttributes(session, role);
  // Unknown is not a pass.
  const settings =
    attributes === undefined
      ? ['attributes unreadable']
      : [
          ...(attributes.canLogin ? [] : ['NOLOGIN']),
          ...(attributes.connectionLimit === 0 ? ['CONNECTION LIMIT 0'] : []),
          ...(attributes.expired ? [`VALID UNTIL ${attributes.validUntil ?? 'passed'}`] : []),
        ];
  if (settings.length === 0) return;
  throw new CloneRefusedError(clone, original, 'disabled', settings, {
    fix:
      `${role} has ${settings.join(', ')}. To keep it so, stop alternating: put the user that still logs in (and its password) in AWSCURRENT and set ROTATION_MODE=admin. ` +
      `To use ${role} again, undo the setting by hand (ALTER ROLE ... LOGIN, CONNECTION LIMIT -1, VALID UNTIL 'infinity', as set), then rotate`,
  });
}

/** The target fields but the user: AWSPREVIOUS names the other user of the pair. */
const SERVER_FIELDS = TARGET_FIELDS.filter((field) => field !== 'username');

/**
 * The password the user this rotation changes had before, where a
 * labelled version holds it: AWSPREVIOUS's when AWSPREVIOUS names that user
 * on AWSCURRENT's server (its clients may still hold it); `undefined` when
 * no labelled version names it.
 */
export async function previousPassword(
  ctx: StepContext,
  current: DatabaseSecret,
  pair: Pick<AlternatingPair, 'next'>,
): Promise<string | undefined> {
  const previous = await loadPrevious(ctx);
  return previous !== undefined &&
    previous.username === pair.next &&
    differingFields(current, previous, SERVER_FIELDS).length === 0
    ? previous.password
    : undefined;
}

/**
 * What to put back if the server stored another hash than the verifier
 * sent: AWSPREVIOUS's password (its clients may still hold it), else a
 * random one nobody holds.
 */
async function restorePassword(
  ctx: StepContext,
  current: DatabaseSecret,
  pair: AlternatingPair,
): Promise<string> {
  return (await previousPassword(ctx, current, pair)) ?? crypto.randomUUID();
}

/**
 * The clone's per-role settings to align (`engines/role-settings.ts`), read
 * before any change. A setting sessions cannot override (e.g.
 * `log_statement`) is an operator's limit, not a default: where it differs
 * between the two, the rotation is refused rather than clear, widen or
 * impose it (the admin may not even be allowed to).
 */
export async function settingsPlan(
  session: ChangingSession['session'],
  pair: AlternatingPair,
  created: boolean,
): Promise<Awaited<ReturnType<typeof planRoleSettings>>> {
  const plan = await planRoleSettings(session, pair);
  if (plan.refused.length === 0) return plan;
  const { original, clone } = pair;
  throw new CloneRefusedError(clone, original, 'settings', plan.refused, {
    fix: `These settings are limits a session cannot override, and differ between ${original} and ${clone}${created ? ' (which this rotation would create)' : ''}. Decide by hand: ALTER ROLE ... SET (or RESET) them alike on both, as a superuser, then rotate`,
  });
}

/** What {@link narrowing} decided: the statements' values and the names for the log. */
export interface Narrowing {
  readonly set: AlignedAttributes;
  readonly names: readonly string[];
}

/** A CONNECTION LIMIT as an upper bound: -1 (none) is no bound at all. */
const bound = (limit: number) => (limit === -1 ? Number.POSITIVE_INFINITY : limit);

/**
 * How the clone's limits follow the original's: a rotation only ever
 * narrows them. The clone takes the original's VALID UNTIL (and CONNECTION
 * LIMIT on PostgreSQL) where the original's is narrower; where the clone's
 * is narrower, an operator put it there (the function only ever copies the
 * original's), and it stays. Nothing is widened or cleared, and LOGIN is
 * never set (a disabled role is refused before). Read before any change:
 * an attribute it cannot read refuses the rotation.
 *
 * @param created - the clone does not exist yet: it will have none of the limits
 */
export async function narrowing(
  engine: Engine,
  session: ChangingSession['session'],
  { original, clone }: AlternatingPair,
  created: boolean,
): Promise<Narrowing> {
  const want = await engine.roleAttributes(session, original);
  const have = created
    ? { connectionLimit: -1, expiresAt: Number.POSITIVE_INFINITY }
    : await engine.roleAttributes(session, clone);
  const unknown = (a: typeof have) =>
    a === undefined || Number.isNaN(a.expiresAt) || !Number.isSafeInteger(a.connectionLimit);
  if (want === undefined || unknown(want) || unknown(have) || have === undefined) {
    throw new CloneRefusedError(clone, original, 'disabled', ['attributes unreadable']);
  }
  const set: { connectionLimit?: number; validUntil?: string } = {};
  if (
    engine.alignedAttributes.includes('validUntil') &&
    want.validUntil !== undefined &&
    want.expiresAt < have.expiresAt
  ) {
    set.validUntil = want.validUntil;
  }
  if (
    engine.alignedAttributes.includes('connectionLimit') &&
    bound(want.connectionLimit) < bound(have.connectionLimit)
  ) {
    set.connectionLimit = want.connectionLimit;
  }
  return { set, names: Object.keys(set) };
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
