/**
 * What must hold before the function changes a password, as pure checks
 * over facts the steps read: the role is the rotated one and no other, it
 * may be rotated, and the iteration count will not lock the application out
 * or outlast the function. setSecret throws on the first failure; `doctor`
 * reports each one.
 *
 * @module
 */
import {
  DeadlineError,
  IterationLimitError,
  TargetRoleError,
  type TargetRoleProblem,
} from '../errors.js';

/**
 * What the function needs to know about a role before changing its
 * password, read with the changing session.
 */
export interface RoleFacts {
  /** The name as the server stores it (equal to the name asked for). */
  readonly name: string;
  /** Privileged attributes it holds itself, e.g. `SUPERUSER`, `CREATEROLE`. */
  readonly attributes: readonly string[];
  /** Privileged roles it is a member of, directly or through other roles. */
  readonly privilegedRoles: readonly string[];
  /** Whether it is a member of the role that changes its password (admin mode). */
  readonly memberOfChanger: boolean;
}

/** Input of {@link targetRoleProblem}. */
export interface TargetRoleInput {
  /** The secret's username: the role the rotation is for. */
  readonly role: string;
  /** What the server says about exactly that name; `undefined` when it has no such role. */
  readonly facts: RoleFacts | undefined;
  /** The name as the server would store it (engines that fold names). */
  readonly storedName: string;
  /** The role that logs in to make the change, in admin mode. */
  readonly changer: string | undefined;
  /** ALLOW_PRIVILEGED_TARGET. */
  readonly allowPrivileged: boolean;
}

/** Why a role may not be rotated, with the privileges involved. */
export interface TargetRoleFinding {
  readonly problem: TargetRoleProblem;
  readonly privileges: readonly string[];
}

/**
 * The first reason the function may not change `role`'s password, or
 * `undefined` when it may. In order: a name the server would fold, a role
 * that does not exist under exactly that name, the admin's own role or a
 * privileged attributes (unless allowed), a member of the admin, then
 * (unless allowed) a member of a privileged role.
 *
 * @example
 * ```ts
 * targetRoleProblem({ role: 'rot_admin', facts, storedName: 'rot_admin', changer: 'rot_admin', allowPrivileged: false });
 * // { problem: 'changer', privileges: [] }
 * ```
 */
export function targetRoleProblem(input: TargetRoleInput): TargetRoleFinding | undefined {
  const { role, facts, changer } = input;
  if (input.storedName !== role) return { problem: 'folded', privileges: [] };
  if (facts === undefined || facts.name !== role) return { problem: 'missing', privileges: [] };
  if (changer !== undefined && changer === role) return { problem: 'changer', privileges: [] };
  // Attributes first: a superuser is a member of every role, which says less.
  if (!input.allowPrivileged && facts.attributes.length > 0) {
    return { problem: 'privileged', privileges: facts.attributes };
  }
  if (changer !== undefined && facts.memberOfChanger) {
    return { problem: 'member-of-changer', privileges: [changer] };
  }
  if (input.allowPrivileged) return undefined;
  if (facts.privilegedRoles.length > 0) {
    return { problem: 'member-of-privileged', privileges: facts.privilegedRoles };
  }
  return undefined;
}

/**
 * Throws when {@link targetRoleProblem} finds one.
 *
 * @throws {@link TargetRoleError}
 */
export function assertTargetRole(input: TargetRoleInput): void {
  const finding = targetRoleProblem(input);
  if (finding) throw new TargetRoleError(input.role, finding.problem, finding.privileges);
}

/**
 * Refuses an iteration count above the bound, before anything is computed
 * or changed: the test login accepts counts up to the same bound, so a
 * verifier within it can always be proved.
 *
 * @param source - where the count came from, for the message
 * @throws {@link IterationLimitError}
 */
export function assertIterationsWithinBound(iterations: number, max: number, source: string): void {
  if (iterations > max) throw new IterationLimitError(iterations, max, source);
}

/**
 * Refuses to start work that cannot be stopped once started (PBKDF2 runs to
 * its end on libuv's thread pool) when it would not end before the
 * deadline. The estimate is doubled: the CPU may be shared.
 *
 * @throws {@link DeadlineError}
 */
export function assertFitsDeadline(activity: string, estimatedMs: number, leftMs: number): void {
  if (2 * estimatedMs > leftMs) throw new DeadlineError(activity, 2 * estimatedMs, leftMs);
}
