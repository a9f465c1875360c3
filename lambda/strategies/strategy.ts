/**
 * Who logs in to change the password, and whose password it changes: the
 * second axis of a rotation beside the engine (`engines/`). Each strategy
 * opens the session that will run ALTER USER, after checking that every
 * secret it logs in with names the server AWSCURRENT names, and that the
 * session is the role it expected.
 *
 * @module
 */
import type { DatabaseSession } from '../adapters/database.js';
import type { RotationConfig } from '../config.js';
import type { DatabaseSecret } from '../core/secret.js';
import type { Engine } from '../engines/engine.js';
import { SecretMismatchError } from '../errors.js';
import type { StepContext } from '../rotation/context.js';

/** The strategies, as configured by ROTATION_MODE (`auto` picks one). */
export const STRATEGIES = ['single-user', 'admin', 'alternating'] as const;

/** One of {@link STRATEGIES}. */
export type StrategyName = (typeof STRATEGIES)[number];

/** The secret a changing session logged in with, for logs. */
export type LoginSource = 'AWSCURRENT' | 'AWSPREVIOUS' | 'AWSPENDING' | 'admin secret';

/** A session that will run ALTER USER, and who it is. */
export interface ChangingSession {
  readonly session: DatabaseSession;
  /** The role that logged in (checked against the server's `session_user`). */
  readonly changer: string;
  /** The secret it logged in with. */
  readonly via: LoginSource;
  /** True when the role changes its own password. */
  readonly selfService: boolean;
}

/** What opening a changing session came to. */
export type OpenOutcome =
  | { readonly kind: 'open'; readonly changing: ChangingSession }
  /** The pending password already logs in: an earlier run set it. */
  | { readonly kind: 'already-set' };

/** What setSecret hands a strategy once the changing session is open. */
export interface Change {
  readonly engine: Engine;
  readonly changing: ChangingSession;
  readonly current: DatabaseSecret;
  readonly pending: DatabaseSecret;
}

/** What a strategy did, for setSecret's log line (names and counts, never secrets). */
export interface ChangeOutcome {
  readonly role: string;
  readonly iterations: number;
  /** True when the server's stored hash was read back and equals the verifier sent. */
  readonly storedHashConfirmed: boolean;
  /** Alternating mode: what was done to the clone besides its password. */
  readonly clone?: {
    readonly created: boolean;
    /** Statements that brought it back in line with the original, by what they fixed. */
    readonly aligned: readonly string[];
  };
}

/**
 * How a failed testSecret is undone:
 * - `restore-current`: setSecret changed the password of the user AWSCURRENT
 *   names, so it is set back to AWSCURRENT's, through a session `open` gives;
 * - `restore-previous`: see below;
 * - `nothing`: AWSCURRENT's user was not touched; `why` says so.
 */
export type RollbackPlan =
  | {
      readonly kind: 'restore-current';
      /**
       * Opens a session that may set the user's password back, on the server
       * AWSCURRENT names; `undefined` when no credential the function holds
       * logs in any more.
       */
      open(
        ctx: StepContext,
        current: DatabaseSecret,
        pending: DatabaseSecret,
      ): Promise<ChangingSession | undefined>;
    }
  | {
      /**
       * Alternating mode: setSecret changed the other user of the pair, so
       * its password goes back to AWSPREVIOUS's where AWSPREVIOUS names it
       * (its clients may still hold that), else to a random one nobody
       * holds: every labelled version logs in, and no unlabelled one does.
       */
      readonly kind: 'restore-previous';
      /** Opens the session that sets it back (the admin's), after the strategy's checks. */
      open(ctx: StepContext, current: DatabaseSecret): Promise<ChangingSession>;
    }
  | {
      readonly kind: 'nothing';
      why(current: DatabaseSecret, pending: DatabaseSecret): string;
    };

/** Who changes the password, and whose. */
export interface ChangeStrategy {
  readonly name: StrategyName;
  /**
   * The user whose password this rotation changes, from AWSCURRENT alone:
   * createSecret writes it into the pending version, setSecret refuses a
   * pending version that names any other.
   */
  nextUsername(current: DatabaseSecret, config: RotationConfig): string;
  /**
   * Opens the session that will change `pending.username`'s password, on
   * the server AWSCURRENT names, or finds that nothing is left to change.
   */
  open(ctx: StepContext, current: DatabaseSecret, pending: DatabaseSecret): Promise<OpenOutcome>;
  /** Sets the pending password (and whatever else the strategy keeps in line) with the open session. */
  apply(ctx: StepContext, change: Change): Promise<ChangeOutcome>;
  /** How testSecret undoes setSecret when the pending password fails its test. */
  readonly rollback: RollbackPlan;
}

/**
 * Checks that a session is the role it logged in as. A name the server
 * would cut short or fold logs in as another role: that is refused here,
 * before anything changes, and the session is closed.
 *
 * @throws {@link SecretMismatchError} naming `username`
 */
export async function confirmSessionUser(
  session: DatabaseSession,
  expected: string,
  versus: string,
): Promise<void> {
  let sessionUser: string;
  try {
    ({ sessionUser } = await session.identity());
  } catch (error) {
    // A failed check (a dropped connection, a slow answer) must not leave
    // the session open: the caller never receives it.
    await session.close();
    throw error;
  }
  if (sessionUser !== expected) {
    await session.close();
    throw new SecretMismatchError(
      ['username'],
      // The server's answer is not quoted: it is the server's text, not ours.
      `the server logged ${versus}'s username in as another role (a name it truncates or folds). ` +
        "Set the username to the role's exact name; nothing was changed",
      { versus },
    );
  }
}
