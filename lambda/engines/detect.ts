import type { DatabaseSession } from '../adapters/database.js';

/** The server families whose password rules differ. */
export const SERVER_ENGINES = ['postgres', 'cockroachdb'] as const;

/** One of {@link SERVER_ENGINES}. */
export type ServerEngine = (typeof SERVER_ENGINES)[number];

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
