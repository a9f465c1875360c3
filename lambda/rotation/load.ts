import type { LoginTarget } from '../adapters/database.js';
import type { SecretDescription } from '../adapters/secrets-manager.js';
import { type DatabaseSecret, parseDatabaseSecret } from '../core/secret.js';
import { checkRotationStage, type RotationStageDecision } from '../core/stages.js';
import { chooseTrust, type TrustConfig } from '../core/trust.js';
import { MalformedSecretError } from '../errors.js';
import type { StepContext } from './context.js';

/** The stages a step reads, named as Secrets Manager names them. */
export const STAGES = {
  current: 'AWSCURRENT',
  pending: 'AWSPENDING',
  previous: 'AWSPREVIOUS',
} as const;

/** Reads and parses the AWSCURRENT version. */
export async function loadCurrent(ctx: StepContext): Promise<DatabaseSecret> {
  const text = await ctx.secrets.getSecretString(ctx.event.SecretId, { stage: STAGES.current });
  if (text === undefined) {
    throw new MalformedSecretError('AWSCURRENT', undefined, 'store a secret value before rotating');
  }
  return parseDatabaseSecret(text, { label: 'AWSCURRENT' });
}

/**
 * Reads the AWSPENDING version of this rotation's token; `undefined` when it
 * has no value yet (createSecret has not stored one).
 */
export async function loadPending(ctx: StepContext): Promise<DatabaseSecret | undefined> {
  const text = await ctx.secrets.getSecretString(ctx.event.SecretId, {
    versionId: ctx.event.ClientRequestToken,
    stage: STAGES.pending,
  });
  return text === undefined ? undefined : parseDatabaseSecret(text, { label: 'AWSPENDING' });
}

/** Like {@link loadPending}, for steps that cannot run without it. */
export async function requirePending(ctx: StepContext): Promise<DatabaseSecret> {
  const pending = await loadPending(ctx);
  if (pending === undefined) {
    throw new MalformedSecretError(
      'AWSPENDING',
      undefined,
      'run createSecret first: the pending version has no value',
    );
  }
  return pending;
}

/** Reads the AWSPREVIOUS version, if there is one. */
export async function loadPrevious(ctx: StepContext): Promise<DatabaseSecret | undefined> {
  const text = await ctx.secrets.getSecretString(ctx.event.SecretId, { stage: STAGES.previous });
  return text === undefined ? undefined : parseDatabaseSecret(text, { label: 'AWSPREVIOUS' });
}

/**
 * Login settings for a secret. The CAs it trusts are chosen by
 * {@link chooseTrust}: the secret's `ca` key, else `fallbackCa` (the rotated
 * secret's, for an admin secret without one), else CA_BUNDLE_PATH's bundle,
 * else the Lambda runtime's bundle with Node's roots, else Node's roots.
 */
export function loginTarget(
  secret: DatabaseSecret,
  config: Partial<TrustConfig>,
  fallbackCa?: string,
): LoginTarget {
  const trust = chooseTrust(secret.ca ?? fallbackCa, {
    caBundle: config.caBundle,
    runtimeCaBundle: config.runtimeCaBundle,
  });
  return {
    host: secret.host,
    port: secret.port,
    database: secret.dbname,
    username: secret.username,
    password: secret.password,
    ...(trust.source === 'runtime-bundle'
      ? { extraCa: trust.extraCa }
      : trust.source === 'node-roots'
        ? {}
        : { ca: trust.ca }),
    options: secret.options,
  };
}

/**
 * DescribeSecret, and where the event's token stands in it (see
 * {@link checkRotationStage}): rotate() asks before a step, setSecret again
 * before a retry.
 *
 * @throws {@link RotationNotEnabledError}, {@link TokenNotFoundError} or
 *   {@link TokenNotPendingError}
 */
export async function describeStage(
  ctx: StepContext,
): Promise<{ description: SecretDescription; stage: RotationStageDecision }> {
  const { SecretId, ClientRequestToken } = ctx.event;
  const description = await ctx.secrets.describe(SecretId);
  const stage = checkRotationStage({
    rotationEnabled: description.rotationEnabled,
    versionIdsToStages: description.versionIdsToStages,
    token: ClientRequestToken,
    secretId: SecretId,
  });
  return { description, stage };
}
