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
import type { DatabaseSecret } from '../core/secret.js';
import { SecretMismatchError } from '../errors.js';
import type { StepContext } from '../steps/context.js';

/** The strategies, as configured by ROTATION_MODE (`auto` picks one). */
export const STRATEGIES = ['single-user', 'admin'] as const;

/** One of {@link STRATEGIES}. */
export type StrategyName = (typeof STRATEGIES)[number];

/** The secret a changing session logged in with, for logs. */
export type LoginSource = 'AWSCURRENT' | 'AWSPREVIOUS' | 'admin secret';

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

/** Who changes the password. */
export interface ChangeStrategy {
  readonly name: StrategyName;
  /**
   * Opens the session that will change `pending.username`'s password, on
   * the server AWSCURRENT names, or finds that nothing is left to change.
   */
  open(ctx: StepContext, current: DatabaseSecret, pending: DatabaseSecret): Promise<OpenOutcome>;
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
  const { sessionUser } = await session.identity();
  if (sessionUser !== expected) {
    await session.close();
    throw new SecretMismatchError(
      ['username'],
      // The server's answer is not quoted: it is the server's text, not ours.
      `the server logged ${versus}'s username in as another role: a name the server truncates or folds. ` +
        "Set the username to the role's exact name as the server stores it; nothing was changed",
      { versus },
    );
  }
}
