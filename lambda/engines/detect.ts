import type { DatabaseSession } from '../adapters/database.js';
import { cockroachEngine } from './cockroachdb.js';
import type { Engine, ServerEngine } from './engine.js';
import { postgresEngine } from './postgres.js';

export { SERVER_ENGINES, type ServerEngine } from './engine.js';

/** Each engine's rules, by name. */
export const ENGINES = {
  postgres: postgresEngine,
  cockroachdb: cockroachEngine,
} as const satisfies Record<ServerEngine, Engine>;

/**
 * Which server the session is on, from `version()`: CockroachDB answers
 * `CockroachDB CCL v…`, PostgreSQL (and Aurora) `PostgreSQL …`. The secret's
 * `engine` key may be wrong or generic; the server's own answer decides
 * which rules apply.
 */
export async function detectEngine(session: DatabaseSession): Promise<ServerEngine> {
  const version = await session.serverVersion();
  return /\bCockroachDB\b/.test(version) ? 'cockroachdb' : 'postgres';
}

/** The rules of the engine the session is on (see {@link detectEngine}). */
export async function engineOf(session: DatabaseSession): Promise<Engine> {
  return ENGINES[await detectEngine(session)];
}
