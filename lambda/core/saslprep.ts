/**
 * SASLprep (RFC 4013) exactly as PostgreSQL's server applies it to a SCRAM
 * password, prohibition checks and raw-bytes fallback included, for the
 * command-line tools (`npm run hash` checks what psql and libpq users type)
 * and the tests. Kept apart from `scram.ts`, whose default is node-postgres'
 * lighter preparation (`clientPassword`), so the deployed function does not
 * carry the SASLprep tables (about 9 KB of its bundle budget, see
 * `bench/budget.ts`).
 *
 * @example
 * ```ts
 * createScramVerifier('pass\u00A0word', { prepare: preparePassword });
 * ```
 *
 * @module
 */
import saslprep from '@mongodb-js/saslprep';
import { isAscii } from './scram.js';

/**
 * The bytes PostgreSQL feeds to PBKDF2 for `password`, following
 * `pg_saslprep` and its callers in PostgreSQL (and CockroachDB, which copies
 * them):
 *
 * - pure ASCII is used as it is, without SASLprep (even control characters);
 * - otherwise RFC 4013 SASLprep: non-ASCII spaces become U+0020, "commonly
 *   mapped to nothing" characters are dropped, then NFKC;
 * - if SASLprep fails (prohibited or unassigned code point, bidi rule) or
 *   maps the password to nothing, the raw UTF-8 bytes are used instead.
 *
 * Known gap: the SASLprep library checks prohibitions after NFKC, PostgreSQL
 * before it, so the two disagree on a few exotic code points (e.g. U+0340,
 * or code points unassigned in Unicode 3.2 that have a compatibility
 * decomposition). node-postgres' client never falls back to raw bytes, so
 * such a password would not log in through it either; the generator in
 * `password.ts` only produces printable ASCII, where all of them agree.
 *
 * @example
 * ```ts
 * preparePassword('pass\u00A0word').equals(Buffer.from('pass word')); // true
 * ```
 */
export function preparePassword(password: string): Buffer {
  if (isAscii(password)) return Buffer.from(password, 'utf8');
  let prepared: string;
  try {
    prepared = saslprep(password);
  } catch {
    // The library's messages do not quote the input, but there is nothing
    // to report anyway: PostgreSQL's answer to a failed SASLprep is the raw bytes.
    return Buffer.from(password, 'utf8');
  }
  return Buffer.from(prepared === '' ? password : prepared, 'utf8');
}

/** Why a password cannot be hashed the same way by every client: see {@link saslprepProblem}. */
export type SaslprepProblem = 'prohibited' | 'changed';

/**
 * Whether SASLprep (RFC 4013) would refuse `password` or change it:
 *
 * - `prohibited`: it holds a character SASLprep prohibits (control
 *   characters, ASCII ones included; private use, non-characters,
 *   surrogates, unassigned code points, a bidi mix) or maps to nothing.
 *   PostgreSQL then hashes the raw bytes, but clients disagree on such
 *   input, and a pasted line break is usually a mistake;
 * - `changed`: SASLprep maps it to another string (a non-ASCII space,
 *   a character mapped to nothing, an NFKC change). Clients that skip
 *   SASLprep (node-postgres among them) would hash other bytes than the
 *   server's verifier and fail to log in.
 *
 * `undefined` when every client hashes it the same way. The password is
 * never part of the answer.
 *
 * @example
 * ```ts
 * saslprepProblem('correct horse'); // undefined
 * saslprepProblem('line\n');        // 'prohibited'
 * saslprepProblem('pass\u00A0word'); // 'changed'
 * ```
 */
export function saslprepProblem(password: string): SaslprepProblem | undefined {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f]/.test(password)) return 'prohibited';
  if (isAscii(password)) return undefined;
  let prepared: string;
  try {
    prepared = saslprep(password);
  } catch {
    return 'prohibited';
  }
  if (prepared === '') return 'prohibited';
  return prepared === password ? undefined : 'changed';
}
