/**
 * Which pending versions testSecret proved in this process, so that
 * finishSecret promotes only a proved version without a second login.
 *
 * A version's value never changes once stored (PutSecretValue with the same
 * version id and another value is refused), so the secret and the token
 * identify what was proved. Secrets Manager calls the steps of one rotation
 * one after another, and the same warm Lambda environment usually takes
 * them; where another one takes finishSecret, it finds no proof here and
 * logs in with the pending password itself before promoting it.
 *
 * @module
 */

/** At most this many proofs are kept; the oldest go first. */
const CAPACITY = 256;

/** The proofs one handler (one Lambda environment) holds. */
export class ProvenVersions {
  readonly #proved = new Set<string>();

  /** Records that testSecret logged in with this token's pending version. */
  add(secretId: string, token: string): void {
    const key = JSON.stringify([secretId, token]);
    this.#proved.delete(key);
    this.#proved.add(key);
    if (this.#proved.size > CAPACITY) {
      const oldest = this.#proved.values().next().value;
      if (oldest !== undefined) this.#proved.delete(oldest);
    }
  }

  /** Whether testSecret proved this token's pending version here. */
  has(secretId: string, token: string): boolean {
    return this.#proved.has(JSON.stringify([secretId, token]));
  }
}
