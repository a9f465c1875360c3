/**
 * The guard Secrets Manager's rotation contract asks for at the start of
 * every step, as a pure function over DescribeSecret's output.
 *
 * @module
 */
import { RotationNotEnabledError, TokenNotFoundError, TokenNotPendingError } from '../errors.js';

/** The staging labels a rotation works with. */
export const STAGE_LABELS = {
  current: 'AWSCURRENT',
  pending: 'AWSPENDING',
  previous: 'AWSPREVIOUS',
} as const;

/** DescribeSecret's `VersionIdsToStages`: version id to its staging labels. */
export type VersionIdsToStages = Readonly<Record<string, readonly string[]>>;

/** What the step should do. */
export type RotationStageDecision =
  /** The token is AWSPENDING: run the step. */
  | { readonly kind: 'proceed' }
  /** The token already holds AWSCURRENT: this rotation is done, do nothing. */
  | { readonly kind: 'already-current' };

/** Input of {@link checkRotationStage}. */
export interface RotationStageInput {
  /** DescribeSecret's `RotationEnabled`. */
  readonly rotationEnabled: boolean;
  readonly versionIdsToStages: VersionIdsToStages;
  /** The event's ClientRequestToken. */
  readonly token: string;
  /** The secret, for error messages only. */
  readonly secretId?: string;
}

/**
 * The guard: rotation must be enabled; the token must be a version of the
 * secret; if it already holds AWSCURRENT there is nothing to do (a retried
 * or repeated step after finishSecret); otherwise it must hold AWSPENDING.
 *
 * @throws {@link RotationNotEnabledError}, {@link TokenNotFoundError} or
 *   {@link TokenNotPendingError}
 *
 * @example
 * ```ts
 * const decision = checkRotationStage({ rotationEnabled, versionIdsToStages, token });
 * if (decision.kind === 'already-current') return;
 * ```
 */
export function checkRotationStage(input: RotationStageInput): RotationStageDecision {
  const { rotationEnabled, versionIdsToStages, token, secretId } = input;
  if (!rotationEnabled) throw new RotationNotEnabledError(secretId);
  // Own keys only: a token such as "constructor" must not find Object.prototype's.
  const stages = Object.hasOwn(versionIdsToStages, token) ? versionIdsToStages[token] : undefined;
  if (stages === undefined) throw new TokenNotFoundError(token, secretId);
  if (stages.includes(STAGE_LABELS.current)) return { kind: 'already-current' };
  if (!stages.includes(STAGE_LABELS.pending))
    throw new TokenNotPendingError(token, stages, secretId);
  return { kind: 'proceed' };
}

/** The version holding `label`; Secrets Manager gives a label to one version at most. */
function versionWith(versionIdsToStages: VersionIdsToStages, label: string): string | undefined {
  return Object.entries(versionIdsToStages).find(([, stages]) => stages.includes(label))?.[0];
}

/**
 * The version id staged AWSCURRENT, or `undefined` if none is (a secret
 * with no value yet).
 *
 * @example
 * ```ts
 * currentVersionId({ v1: ['AWSCURRENT'], v2: ['AWSPENDING'] }); // 'v1'
 * ```
 */
export function currentVersionId(versionIdsToStages: VersionIdsToStages): string | undefined {
  return versionWith(versionIdsToStages, STAGE_LABELS.current);
}

/** The version id staged AWSPREVIOUS, or `undefined` (no rotation has finished yet). */
export function previousVersionId(versionIdsToStages: VersionIdsToStages): string | undefined {
  return versionWith(versionIdsToStages, STAGE_LABELS.previous);
}
