/**
 * `--dry-run`: a session that reads from the server as usual but records
 * the statements it would run instead of running them, so the statements
 * printed are exactly those the engine builds, with the verifier redacted.
 *
 * @module
 */
import type { DatabaseSession } from '../../lambda/adapters/database.js';

/** A verifier in a SQL literal, as engines write it. */
const VERIFIER_LITERAL = /'SCRAM-SHA-256\$(\d+):[^']*'/g;

/** A statement with any verifier replaced by its iteration count and `<redacted>`. */
export function redactStatement(statement: string): string {
  return statement.replace(VERIFIER_LITERAL, "'SCRAM-SHA-256$$$1:<redacted>'");
}

/** Reads pass through; statements are recorded (redacted) and not sent. */
export class RecordingSession implements DatabaseSession {
  readonly statements: string[] = [];
  readonly #inner: DatabaseSession;

  constructor(inner: DatabaseSession) {
    this.#inner = inner;
  }

  get mechanism() {
    return this.#inner.mechanism;
  }

  currentUser() {
    return this.#inner.currentUser();
  }

  identity() {
    return this.#inner.identity();
  }

  serverVersion() {
    return this.#inner.serverVersion();
  }

  setting(name: string) {
    return this.#inner.setting(name);
  }

  query<Row extends Record<string, unknown>>(text: string, values?: unknown[]) {
    return this.#inner.query<Row>(text, values);
  }

  async setPasswordVerifier(username: string, verifier: string): Promise<void> {
    this.statements.push(
      redactStatement(`ALTER USER "${username.replaceAll('"', '""')}" WITH PASSWORD '${verifier}'`),
    );
  }

  async execute(statement: string): Promise<void> {
    this.statements.push(redactStatement(statement));
  }

  close() {
    return this.#inner.close();
  }
}
