/**
 * What a server engine does when a password changes, behind one interface:
 * which roles exist and what they may do, which settings make a change
 * unsafe, which iteration count the server wants, and how the verifier is
 * sent and confirmed. PostgreSQL and CockroachDB each implement it; who
 * logs in to change the password is the other axis (`strategies/`).
 *
 * @module
 */
import type { DatabaseSession } from '../adapters/database.js';
import type { RoleFacts } from '../core/confinement.js';

/** The server families whose password rules differ. */
export const SERVER_ENGINES = ['postgres', 'cockroachdb'] as const;

/** One of {@link SERVER_ENGINES}. */
export type ServerEngine = (typeof SERVER_ENGINES)[number];

export type { RoleFacts } from '../core/confinement.js';

/** What {@link Engine.prepareChange} is told. */
export interface ChangeInput {
  /** The role logged in on the session, which will run ALTER USER. */
  readonly changer: string;
  /** True when the role changes its own password (no admin secret). */
  readonly selfService: boolean;
  /** SCRAM_ITERATIONS, when configured. */
  readonly configuredIterations: number | undefined;
  /** SCRAM_ITERATIONS_ALLOW_MISMATCH. */
  readonly allowIterationMismatch: boolean;
}

/** The iteration count a change will use, and where it came from (for messages). */
export interface IterationChoice {
  readonly iterations: number;
  /** E.g. `SCRAM_ITERATIONS`, `the server's scram_iterations`. */
  readonly source: string;
}

/** What {@link Engine.setVerifier} found out. */
export interface SetVerifierOutcome {
  /** True when the stored hash was read back and equals the verifier sent. */
  readonly confirmed: boolean;
}

/**
 * What alternating mode keeps the same on a clone as on its original: the
 * role attributes that decide whether and how often the application logs in.
 */
export interface RoleAttributes {
  readonly name: string;
  readonly canLogin: boolean;
  /** CONNECTION LIMIT, -1 for none (CockroachDB has none: always -1). */
  readonly connectionLimit: number;
  /** VALID UNTIL as the server prints it; `undefined` for none (or infinity). */
  readonly validUntil: string | undefined;
  /**
   * VALID UNTIL in seconds since the epoch, for comparing: `Infinity` for
   * none, `NaN` where the server's answer could not be read (unknown).
   */
  readonly expiresAt: number;
  /** True when VALID UNTIL has passed, by the server's clock: the password no longer logs in. */
  readonly expired: boolean;
}

/**
 * The attributes {@link Engine.alignRole} sets, each only where present:
 * alternating mode only ever narrows a limit, so it never sets "none".
 */
export interface AlignedAttributes {
  readonly connectionLimit?: number;
  readonly validUntil?: string;
}

/** The two roles of alternating mode, as engines are told them. */
export interface ClonePair {
  readonly original: string;
  readonly clone: string;
}

/**
 * The record that proves a role is the clone the function created for its
 * original (see {@link Engine.cloneMark}).
 */
export interface CloneMark {
  /** The record the clone carries, `undefined` for none. */
  readonly found: string | undefined;
  /** The record the function writes when it creates the clone of this original. */
  readonly expected: string;
  /** The statement an operator runs to bring the role under rotation deliberately. */
  readonly adopt: string;
}

/** A server engine's rules for a password change. */
export interface Engine {
  readonly name: ServerEngine;
  /**
   * The name this server would store for `name` (CockroachDB folds case and
   * normalises to NFC; PostgreSQL keeps names as written).
   */
  foldRoleName(name: string): string;
  /**
   * Facts about the role named exactly `role`, or `undefined` when none has
   * that name. `changer` is the admin's role in admin mode.
   */
  roleFacts(
    session: DatabaseSession,
    role: string,
    changer: string | undefined,
  ): Promise<RoleFacts | undefined>;
  /**
   * Checks the settings a safe change depends on and returns the iteration
   * count to use. Throws a typed error naming the setting or grant otherwise.
   */
  prepareChange(session: DatabaseSession, input: ChangeInput): Promise<IterationChoice>;
  /**
   * Checks `verifier` the way this server parses it, sends
   * `ALTER USER ... WITH PASSWORD '<verifier>'`, and confirms what was stored
   * where the session may read it. If the server stored something else, puts
   * `restore()` back and throws.
   */
  setVerifier(
    session: DatabaseSession,
    role: string,
    verifier: string,
    restore: () => Promise<string>,
  ): Promise<SetVerifierOutcome>;
  /** `GRANT <role> TO <member>`: `member` gets `role`'s privileges. */
  grantRole(session: DatabaseSession, role: string, member: string): Promise<void>;

  // Alternating users: statements that create and align the clone.

  /**
   * How this engine makes the clone's sessions act as the original, for
   * messages and doctor: `default-role` (PostgreSQL: `ALTER ROLE clone SET
   * role = original`, so its objects are owned by the original) or
   * `default-privileges` (CockroachDB, which refuses a `role` default:
   * objects the clone creates grant ALL to the original).
   */
  readonly cloneActsAs: 'default-role' | 'default-privileges';
  /** What {@link alignRole} keeps the same (CockroachDB has no CONNECTION LIMIT). */
  readonly alignedAttributes: readonly (keyof AlignedAttributes)[];
  /**
   * The roles `role` is granted to directly: its members and (PostgreSQL
   * 16+) the roles with ADMIN OPTION on it. Throws when unreadable.
   */
  roleMembers(session: DatabaseSession, role: string): Promise<string[]>;
  /** The attributes of the role named exactly `role`, or `undefined` when none has that name. */
  roleAttributes(session: DatabaseSession, role: string): Promise<RoleAttributes | undefined>;
  /**
   * Whether `member` has `role`'s privileges and may act as it: a member
   * (directly or not) that inherits, and on PostgreSQL 16+ may SET ROLE to it.
   */
  actsAsMember(session: DatabaseSession, member: string, role: string): Promise<boolean>;
  /**
   * Creates the clone as a LOGIN role with `verifier` as its password and
   * makes it a member of the original, at once: a clone is never left
   * created without its membership. Where the engine has a
   * {@link cloneMark}, the mark is written in the same transaction.
   */
  createClone(session: DatabaseSession, pair: ClonePair, verifier: string): Promise<void>;
  /**
   * The clone's record of who created it, read from the server's catalog;
   * `undefined` where the engine has no place for one that only a role
   * manager can write (CockroachDB has no COMMENT ON ROLE), and the clone
   * is proven by possession instead (`strategies/alternating.ts`).
   * Throws when the original does not exist.
   */
  cloneMark(session: DatabaseSession, pair: ClonePair): Promise<CloneMark | undefined>;
  /**
   * `ALTER ROLE <role>` with the attributes given, and nothing else (never
   * LOGIN: a rotation never enables a role an operator disabled).
   */
  alignRole(session: DatabaseSession, role: string, attributes: AlignedAttributes): Promise<void>;
  /**
   * Makes the clone's sessions act as the original (see {@link cloneActsAs}).
   * `asClone` opens a session as the clone, for engines where only the
   * clone itself may say so; the engine closes it.
   */
  makeCloneActAsOriginal(
    admin: DatabaseSession,
    asClone: () => Promise<DatabaseSession>,
    pair: ClonePair,
  ): Promise<void>;
}
