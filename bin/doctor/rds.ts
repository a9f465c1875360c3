/**
 * Doctor checks for what RDS and Aurora PostgreSQL add: which CAs a login
 * trusted (the Lambda runtime's bundle holds the RDS CAs; Node's roots do
 * not), and restricted password management (`rds.restrict_password_commands`
 * and the `rds_password` role).
 *
 * @module
 */
import type { DatabaseSession } from '../../lambda/adapters/database.js';
import type { RotationConfig } from '../../lambda/config.js';
import type { DatabaseSecret } from '../../lambda/core/secret.js';
import { chooseTrust, TRUST_SOURCES } from '../../lambda/core/trust.js';
import {
  passwordRestriction,
  RDS_PASSWORD_ROLE,
  RESTRICT_PASSWORD_SETTING,
  rdsPasswordGrant,
} from '../../lambda/engines/rds.js';
import type { CheckResult } from './result.js';

/** AWS's bundle of every RDS CA, for checking from outside Lambda. */
const RDS_GLOBAL_BUNDLE = 'https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem';

/** The trust store a login with `secret` uses, named, and the fix when it does not trust the server. */
export function trustStoreUsed(
  secret: DatabaseSecret,
  config: Pick<RotationConfig, 'caBundle' | 'runtimeCaBundle' | 'runtimeCaBundlePath'>,
): { readonly name: string; readonly untrustedFix: string } {
  const trust = chooseTrust(secret.ca, config);
  switch (trust.source) {
    case 'secret-ca':
    case 'ca-bundle-path':
      return {
        name: `${TRUST_SOURCES[trust.source]} only`,
        untrustedFix: `${TRUST_SOURCES[trust.source]} narrows trust to itself: add the CA that issued the server certificate to it (RDS and Aurora: ${RDS_GLOBAL_BUNDLE}), or remove it to trust the Lambda runtime's bundle and Node's roots`,
      };
    case 'runtime-bundle':
      return {
        name: `${TRUST_SOURCES[trust.source]} (${config.runtimeCaBundlePath})`,
        untrustedFix:
          "neither the runtime's bundle nor Node's roots hold the CA that issued the server certificate: put it in the secret's ca key or CA_BUNDLE_PATH",
      };
    case 'node-roots':
      return {
        name: `${TRUST_SOURCES[trust.source]} (no runtime CA bundle at ${config.runtimeCaBundlePath})`,
        untrustedFix: `Node's roots do not hold the RDS and Aurora CAs. On Lambda the function also trusts the runtime's bundle (/var/runtime/ca-cert.pem); to check as it does from here, set RUNTIME_CA_BUNDLE_PATH to a copy of the RDS bundle (${RDS_GLOBAL_BUNDLE}). For another CA, put it in the secret's ca key or CA_BUNDLE_PATH`,
      };
  }
}

/**
 * Where `rds.restrict_password_commands` exists and is on (RDS, Aurora),
 * the role that sets the password must be a member of `rds_password`, its
 * own password included. Nothing is reported where the setting is absent or
 * off.
 */
export async function rdsPasswordCheck(
  session: DatabaseSession,
  changerName: string,
): Promise<CheckResult | undefined> {
  let restriction: Awaited<ReturnType<typeof passwordRestriction>>;
  try {
    restriction = await passwordRestriction(session);
  } catch (error) {
    return {
      check: RESTRICT_PASSWORD_SETTING,
      status: 'fail',
      detail: `cannot read ${RESTRICT_PASSWORD_SETTING} or ${RDS_PASSWORD_ROLE} membership: ${error instanceof Error ? error.message : String(error)}`,
      fix: `check as ${changerName}: SHOW ${RESTRICT_PASSWORD_SETTING}; SELECT pg_has_role('${RDS_PASSWORD_ROLE}', 'MEMBER')`,
    };
  }
  switch (restriction.kind) {
    case 'absent':
      return undefined;
    case 'member':
      return {
        check: RESTRICT_PASSWORD_SETTING,
        status: 'pass',
        detail: `on, and ${changerName} is a member of ${RDS_PASSWORD_ROLE}`,
      };
    case 'not-member':
      return {
        check: RESTRICT_PASSWORD_SETTING,
        status: 'fail',
        detail: `on, and ${changerName} is not a member of ${RDS_PASSWORD_ROLE}: setting a password fails with 42501`,
        fix: `as the master user run ${rdsPasswordGrant(changerName)}`,
      };
    case 'no-role':
      return {
        check: RESTRICT_PASSWORD_SETTING,
        status: 'fail',
        detail: `on, but no ${RDS_PASSWORD_ROLE} role exists: whether ${changerName} may set passwords is unknown`,
        fix: `on RDS and Aurora ${RDS_PASSWORD_ROLE} always exists: check that this is the server you meant; elsewhere, reset ${RESTRICT_PASSWORD_SETTING}`,
      };
    case 'unknown':
      return {
        check: RESTRICT_PASSWORD_SETTING,
        status: 'fail',
        detail: `holds a value that is not on or off: whether ${changerName} may set passwords is unknown`,
        fix: `set ${RESTRICT_PASSWORD_SETTING} to 0 or 1 in the parameter group, or run ${rdsPasswordGrant(changerName)}`,
      };
  }
}
