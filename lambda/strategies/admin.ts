import type { SecretStore } from '../adapters/secrets-manager.js';
import {
  ADMIN_SERVER_FIELDS,
  type AdminSecret,
  adminLogin,
  assertSameServer,
  type DatabaseSecret,
  parseAdminSecret,
} from '../core/secret.js';
import { MalformedSecretError } from '../errors.js';
import { loginLimits, type StepContext } from '../rotation/context.js';
import { loginTarget, STAGES } from '../rotation/load.js';
import { changePendingUser } from './change.js';
import { type ChangeStrategy, type ChangingSession, confirmSessionUser } from './strategy.js';

/** How the admin secret is named in messages. */
const ADMIN_LABEL = 'admin secret (masterarn)';

/**
 * The admin secret named by AWSCURRENT's `masterarn` logs in and changes the
 * user's password; its own secret is read, never changed.
 *
 * The admin's credentials are used only on the server AWSCURRENT names:
 * the admin secret may hold only `username` and `password` (an RDS-managed
 * master secret), and each of host, port, dbname, options and ca it does
 * hold must equal AWSCURRENT's, unless ALLOW_ADMIN_TARGET_MISMATCH is set
 * (see `adminLogin`).
 *
 * The pending password is not tried first: a re-run after a successful
 * setSecret sets the same password again (with a fresh salt), which costs
 * no failed login on the success path.
 */
export const admin: ChangeStrategy = {
  name: 'admin',

  nextUsername: (current) => current.username,

  async open(ctx, current) {
    return { kind: 'open', changing: await openAdmin(ctx, current) };
  },

  apply: changePendingUser,

  rollback: {
    kind: 'restore-current',
    open: (ctx, current) => openAdmin(ctx, current),
  },
};

/**
 * Logs in with the admin secret named by AWSCURRENT's `masterarn`, after
 * checking that it names AWSCURRENT's server, and confirms the session is
 * the admin's role. Shared with alternating mode.
 */
export async function openAdmin(
  ctx: StepContext,
  current: DatabaseSecret,
): Promise<ChangingSession> {
  const arn = current.masterarn;
  if (arn === undefined) {
    throw new MalformedSecretError(
      'masterarn',
      'AWSCURRENT',
      `ROTATION_MODE is ${ctx.config.mode}: add the admin secret ARN as masterarn`,
    );
  }
  const adminSecret = adminLogin(current, await loadAdmin(ctx.secrets, arn));
  if (!ctx.config.allowAdminTargetMismatch) {
    assertSameServer(
      current,
      adminSecret,
      ADMIN_SERVER_FIELDS,
      ADMIN_LABEL,
      "the admin logs in only to the server AWSCURRENT names: make the admin secret's connection fields equal AWSCURRENT's (or remove them: without host it logs in where AWSCURRENT does), or set ALLOW_ADMIN_TARGET_MISMATCH=true if it reaches that server another way",
    );
  }
  ctx.logger.info('logging in as the admin user');
  const session = await ctx.database.login(loginTarget(adminSecret, ctx.config), loginLimits(ctx));
  await confirmSessionUser(session, adminSecret.username, ADMIN_LABEL);
  return { session, changer: adminSecret.username, via: 'admin secret', selfService: false };
}

/** Reads and parses the admin secret's AWSCURRENT version. */
async function loadAdmin(secrets: SecretStore, arn: string): Promise<AdminSecret> {
  const text = await secrets.getSecretString(arn, { stage: STAGES.current });
  if (text === undefined) {
    throw new MalformedSecretError(
      'masterarn',
      'AWSCURRENT',
      'the admin secret it names has no value',
    );
  }
  return parseAdminSecret(text, { label: ADMIN_LABEL });
}
