/**
 * Alternating users: which two roles a secret alternates between, and which
 * of them a rotation changes. Pure: the names follow from AWSCURRENT's
 * username and the configured suffix, never from the pending version (which
 * is checked against them) or the database.
 *
 * @module
 */
import { CloneNameError } from '../errors.js';
import { foldRoleName, MAX_IDENTIFIER_BYTES } from './secret.js';

/** The two roles of alternating mode, and which one a rotation changes. */
export interface AlternatingPair {
  /** The application's own user, without the suffix. */
  readonly original: string;
  /** `<original><suffix>`: a LOGIN role acting as the original. */
  readonly clone: string;
  /** The one AWSCURRENT names: clients hold it, so it is not touched. */
  readonly current: string;
  /** The other one: its password changes, and it becomes AWSCURRENT. */
  readonly next: string;
}

/**
 * The pair for AWSCURRENT's `username`: a name that ends with the suffix
 * (and is longer than it) is the clone, anything else the original.
 *
 * A role whose own name ends with the suffix is taken for a clone; setSecret
 * then finds that it is not a member of the name without the suffix and
 * refuses (see `CloneRefusedError`), so the mistake changes nothing.
 *
 * @param engine - `cockroachdb` also refuses a clone name CockroachDB would fold
 * @throws {@link CloneNameError} when the clone's name is over 63 bytes, or
 *   one CockroachDB would not keep as written
 *
 * @example
 * ```ts
 * alternatingPair('app', '_clone');       // { original: 'app', clone: 'app_clone', current: 'app', next: 'app_clone' }
 * alternatingPair('app_clone', '_clone'); // { original: 'app', clone: 'app_clone', current: 'app_clone', next: 'app' }
 * ```
 */
export function alternatingPair(
  username: string,
  suffix: string,
  engine: 'postgres' | 'cockroachdb' = 'postgres',
): AlternatingPair {
  const isClone = username.length > suffix.length && username.endsWith(suffix);
  const original = isClone ? username.slice(0, -suffix.length) : username;
  const clone = `${original}${suffix}`;
  if (Buffer.byteLength(clone, 'utf8') > MAX_IDENTIFIER_BYTES) {
    throw new CloneNameError(clone, 'too-long');
  }
  if (engine === 'cockroachdb' && foldRoleName(clone) !== clone) {
    throw new CloneNameError(clone, 'folded');
  }
  return isClone
    ? { original, clone, current: clone, next: original }
    : { original, clone, current: original, next: clone };
}
