/**
 * CockroachDB's `crdb-bcrypt` password hashes, for the double: bcrypt over
 * the password followed by the SHA-256 of the empty string
 * (`AppendEmptySha256` and `bcryptHash` in pkg/security/password/password.go,
 * a quirk CockroachDB keeps for compatibility). bcrypt itself comes from
 * hash-wasm, which takes bytes (the appended digest is not UTF-8).
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { bcrypt, bcryptVerify } from 'hash-wasm';

/** bcrypt reads at most 72 bytes of key; Go's implementation ignores the rest too. */
const BCRYPT_KEY_BYTES = 72;

/** The bytes CockroachDB feeds to bcrypt for `password`. */
function bcryptInput(password: string): Buffer {
  const bytes = Buffer.concat([Buffer.from(password, 'utf8'), createHash('sha256').digest()]);
  return bytes.subarray(0, BCRYPT_KEY_BYTES);
}

/** A `$2a$<cost>$...` hash of `password`, as CockroachDB stores it (without CRDB-BCRYPT). */
export async function hashPasswordBcrypt(password: string, cost: number): Promise<string> {
  return bcrypt({
    password: bcryptInput(password),
    salt: randomBytes(16),
    costFactor: cost,
    outputType: 'encoded',
  });
}

/** Whether `password` matches a stored bcrypt hash (`bcrypt.CompareHashAndPassword`). */
export async function bcryptMatches(password: string, hash: string): Promise<boolean> {
  try {
    return await bcryptVerify({ password: bcryptInput(password), hash });
  } catch {
    return false;
  }
}
