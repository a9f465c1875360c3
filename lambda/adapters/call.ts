/**
 * What every adapter call shares: the options it takes and the name a
 * statement goes by in logs and errors. Its own module so that the adapters
 * and `in-flight.ts`, which wraps them, import it without importing
 * each other.
 *
 * @module
 */

/** Options every adapter call takes. */
export interface CallOptions {
  /**
   * Aborts the call: the SDK request is aborted, a login is cut off, a
   * running statement is cancelled on the server. The call then rejects
   * with the signal's reason.
   */
  readonly signal?: AbortSignal | undefined;
  /**
   * Told what the abort could not stop in time (a statement still running
   * when its connection was dropped), which may then still complete.
   */
  readonly onUnsettled?: ((what: string) => void) | undefined;
}

/** Characters where a statement's name ends: literals, quoted names, parameters, lists. */
const STATEMENT_NAME_END = /['"$(;]/;

/**
 * A statement's name for logs and errors: its leading words, up to the
 * first literal, quoted identifier, parameter or parenthesis, so that a
 * password or verifier in the statement never appears in it.
 *
 * @example
 * ```ts
 * statementName(`ALTER USER "app" WITH PASSWORD 'SCRAM-SHA-256$...'`); // 'ALTER USER'
 * statementName('SHOW CLUSTER SETTING sql.auth.change_own_password.enabled');
 * // 'SHOW CLUSTER SETTING sql.auth.change_own_password.enabled'
 * ```
 */
export function statementName(text: string): string {
  const head = text.split(STATEMENT_NAME_END)[0] ?? '';
  const words = head.trim().split(/\s+/).filter(Boolean).slice(0, 6);
  return words.join(' ').replace(/,$/, '').slice(0, 80) || 'statement';
}
