/**
 * doctor's CockroachDB checks beyond one rotation's settings: the server's
 * release against what each feature needs, how new passwords are hashed
 * (the bcrypt downgrade), and whether the user's and the admin's stored
 * hashes are SCRAM, not bcrypt.
 *
 * @module
 */
import type { DatabaseSession } from '../../lambda/adapters/database.js';
import { readClusterSetting, storedHash } from '../../lambda/engines/cockroachdb.js';
import {
  atLeast,
  COCKROACH_FEATURES,
  cockroachRelease,
  releaseText,
  storedHashKind,
  VIEWSYSTEMTABLE_SINCE,
} from '../workflow/cockroach.js';
import type { CheckResult } from './result.js';

/** Adds the release, password-encryption and stored-hash lines. */
export async function cockroachReleaseAndHashChecks(
  userSession: DatabaseSession,
  changer: DatabaseSession,
  changerName: string,
  roles: readonly string[],
  add: (result: CheckResult) => CheckResult,
): Promise<void> {
  const release = cockroachRelease(await userSession.serverVersion());
  if (release === undefined) {
    add({ check: 'release', status: 'skip', detail: 'version() names no release' });
  } else {
    const missing = COCKROACH_FEATURES.filter((f) => !atLeast(release, f.since));
    const text = (f: (typeof COCKROACH_FEATURES)[number]) =>
      `${f.feature} needs ${releaseText(f.since)}${f.backportedTo ? ` (or a ${f.backportedTo} patch release with the backport)` : ''}: ${f.without}`;
    add(
      missing.length === 0
        ? {
            check: 'release',
            status: 'pass',
            detail: `${releaseText(release)} has every feature the workflow uses (${COCKROACH_FEATURES.map((f) => `${f.feature} ${releaseText(f.since)}+`).join('; ')})`,
          }
        : {
            check: 'release',
            status: 'warn',
            detail: `${releaseText(release)}: ${missing.map(text).join('; ')}`,
            fix: 'upgrade CockroachDB, or work around each missing feature as the line says',
          },
    );
  }

  const encryption = await readClusterSetting(changer, 'server.user_login.password_encryption');
  if (encryption !== undefined && encryption !== 'scram-sha-256') {
    const downgrade = await readClusterSetting(
      changer,
      'server.user_login.downgrade_scram_stored_passwords_to_bcrypt.enabled',
    );
    add({
      check: 'password encryption',
      status: downgrade === 'false' ? 'warn' : 'fail',
      detail:
        `server.user_login.password_encryption is ${encryption}` +
        (downgrade === 'false'
          ? ': cleartext passwords set by others are stored as bcrypt'
          : ' and the downgrade setting is on: every SCRAM-stored user is asked for its cleartext password at login (which the function refuses) and turned back into bcrypt'),
      fix: "SET CLUSTER SETTING server.user_login.password_encryption = 'scram-sha-256'",
    });
  }

  for (const role of roles) {
    const hash = await storedHash(changer, role);
    if (hash === undefined) {
      add({
        check: `stored hash ${role}`,
        status: 'skip',
        detail: `${changerName} cannot read system.users (admin, or VIEWSYSTEMTABLE on ${releaseText(VIEWSYSTEMTABLE_SINCE)}+); the login above is the proof`,
      });
      continue;
    }
    const kind = storedHashKind(hash);
    add(
      kind.kind === 'scram'
        ? {
            check: `stored hash ${role}`,
            status: 'pass',
            detail: `SCRAM-SHA-256 (${kind.iterations} iterations)`,
          }
        : {
            check: `stored hash ${role}`,
            status: 'fail',
            detail:
              kind.kind === 'bcrypt'
                ? 'stored as crdb-bcrypt: under cert-password its login asks for the cleartext password, which the function refuses'
                : `stored as ${kind.kind}: not a SCRAM verifier a login can use`,
            fix: `npm run hash, then ALTER USER ${role} WITH PASSWORD '<verifier>' as an admin (or npm run adopt -- --users ${role})`,
          },
    );
  }
}
