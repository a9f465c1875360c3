/**
 * The secrets, their versions and staging labels, with the rules the Secrets
 * Manager API reference gives for them. Pure and synchronous: every method
 * either changes the state and returns the operation's output, or throws an
 * {@link AwsServiceError} and changes nothing. The HTTP layer and the rotation
 * runner sit on top of it.
 *
 * Output objects are in wire form: member names as AWS spells them, dates as
 * epoch seconds (the JSON 1.1 protocol's timestamp format), absent members
 * left out (DescribeSecret "only returns fields that have a value").
 *
 * @module
 */
import { randomInt } from 'node:crypto';
import {
  AwsServiceError,
  cannotInvokeFunction,
  invalidName,
  invalidParameter,
  invalidRequest,
  markedForDeletion,
  missingClientRequestToken,
  nameScheduledForDeletion,
  noRotationFunction,
  secretExists,
  secretNotFound,
  secretValueNotFound,
  stageNotOnVersion,
  versionExists,
} from './errors.js';
import type { OperationInputs, RotationRulesInput, TagInput } from './validation.js';

/** The label on the version clients read by default. */
export const AWSCURRENT = 'AWSCURRENT';
/** The label on the version a rotation is building. */
export const AWSPENDING = 'AWSPENDING';
/** The label Secrets Manager moves to the version AWSCURRENT leaves. */
export const AWSPREVIOUS = 'AWSPREVIOUS';

/** Characters a secret name may hold (recorded AWS validation message lists them). */
const NAME_PATTERN = /^[A-Za-z0-9/_+=.@-]+$/;
/**
 * Names a SecretId may give: a customer's, or a service's, which AWS starts
 * with the service and `!` (RDS's `rds!db-<id>`, read as `--secret-id 'rds!db-...'`).
 */
const SECRET_ID_NAME_PATTERN = /^[A-Za-z0-9/_+=.@!-]+$/;
const ARN_SUFFIX_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** A version's protected value: text, or binary kept as the base64 the wire carries. */
type SecretValue =
  | { readonly kind: 'string'; readonly text: string }
  | { readonly kind: 'binary'; readonly base64: string };

interface VersionRecord {
  readonly versionId: string;
  /** Absent for the AWSPENDING version RotateSecret stages before createSecret. */
  value: SecretValue | undefined;
  readonly stages: Set<string>;
  readonly createdDate: Date;
  lastAccessedDate: Date | undefined;
  rotationToken: string | undefined;
}

interface SecretRecord {
  readonly arn: string;
  readonly name: string;
  readonly description: string | undefined;
  readonly kmsKeyId: string | undefined;
  tags: readonly TagInput[] | undefined;
  /** The service that created it (`OwningService`, e.g. `rds`); undefined for CreateSecret's. */
  readonly owningService: string | undefined;
  readonly createdDate: Date;
  lastChangedDate: Date;
  lastAccessedDate: Date | undefined;
  /** When DeleteSecret scheduled it, the end of the recovery window. */
  deletionDate: Date | undefined;
  /** Undefined until RotateSecret first configures rotation. */
  rotationEnabled: boolean | undefined;
  rotationLambdaArn: string | undefined;
  rotationRules: RotationRulesInput | undefined;
  /** When RotateSecret last (re)configured rotation; base of NextRotationDate before a rotation. */
  rotationConfiguredDate: Date | undefined;
  lastRotatedDate: Date | undefined;
  /** In creation order, which is ListSecretVersionIds's order in the AWS recordings. */
  readonly versions: Map<string, VersionRecord>;
}

/** What RotateSecret decided; the runner carries it out after the answer is sent. */
export interface RotationPlan {
  readonly arn: string;
  readonly name: string;
  /** The version id and ClientRequestToken of every step. */
  readonly token: string;
  readonly lambdaArn: string;
  /**
   * `rotate`: all four steps on a fresh AWSPENDING version; `test`:
   * RotateImmediately=false, testSecret only; `reattempt`: AWSPENDING was left
   * on another version by an incomplete rotation, which is run again while
   * RotateSecret itself fails.
   */
  readonly mode: 'rotate' | 'test' | 'reattempt';
}

/** One version as {@link SecretStore.inspect} shows it, without its value. */
export interface VersionSnapshot {
  readonly versionId: string;
  /** Sorted, as AWS lists them. */
  readonly stages: readonly string[];
  readonly hasValue: boolean;
  readonly createdDate: Date;
  /** The RotationToken PutSecretValue was called with for this version, if any. */
  readonly rotationToken: string | undefined;
}

/** A secret as {@link SecretStore.inspect} shows it, for tests; holds no secret value. */
export interface SecretSnapshot {
  readonly arn: string;
  readonly name: string;
  readonly deletionDate: Date | undefined;
  readonly rotationEnabled: boolean | undefined;
  readonly rotationLambdaArn: string | undefined;
  readonly lastRotatedDate: Date | undefined;
  readonly versions: readonly VersionSnapshot[];
}

/** Options for {@link SecretStore}. */
export interface SecretStoreOptions {
  /** Region in ARNs. */
  readonly region: string;
  /** Account id in ARNs. */
  readonly accountId: string;
  /** Clock; tests of dates may replace it. @default () => new Date() */
  readonly now?: () => Date;
}

/** A JSON 1.1 timestamp: epoch seconds, with milliseconds as the fraction. */
function epoch(date: Date): number {
  return date.getTime() / 1000;
}

/** LastAccessedDate is a day, not an instant, in AWS answers: midnight UTC. */
function startOfDay(date: Date): Date {
  return new Date(Math.floor(date.getTime() / DAY_MS) * DAY_MS);
}

function sameValue(a: SecretValue | undefined, b: SecretValue): boolean {
  if (a === undefined || a.kind !== b.kind) return false;
  return a.kind === 'string'
    ? a.text === (b as { text: string }).text
    : a.base64 === (b as { base64: string }).base64;
}

/**
 * The value a CreateSecret or PutSecretValue carries, if any.
 *
 * @throws AwsServiceError `InvalidParameterException` when it carries both
 *   (moto's wording of AWS's message)
 */
function requestValue(input: {
  SecretString?: string;
  SecretBinary?: string;
}): SecretValue | undefined {
  if (input.SecretString !== undefined && input.SecretBinary !== undefined) {
    throw invalidParameter(
      "You can't specify both a binary secret value and a string secret value in the same secret.",
    );
  }
  if (input.SecretString !== undefined) return { kind: 'string', text: input.SecretString };
  if (input.SecretBinary !== undefined) return { kind: 'binary', base64: input.SecretBinary };
  return undefined;
}

/**
 * The interval of a schedule, when it is a plain interval: AutomaticallyAfterDays
 * or `rate(N days|hours)`. A `cron(...)` schedule yields undefined.
 */
function rotationInterval(rules: RotationRulesInput | undefined): number | undefined {
  if (rules === undefined) return undefined;
  if (rules.AutomaticallyAfterDays !== undefined) return rules.AutomaticallyAfterDays * DAY_MS;
  const rate = /^rate\(\s*(\d+)\s+(day|days|hour|hours)\s*\)$/.exec(rules.ScheduleExpression ?? '');
  if (rate === null) return undefined;
  return Number(rate[1]) * (rate[2]?.startsWith('day') ? DAY_MS : HOUR_MS);
}

/** In-memory Secrets Manager state for one account and region. */
export class SecretStore {
  readonly #region: string;
  readonly #accountId: string;
  readonly #now: () => Date;
  /** Keyed by name: a name scheduled for deletion stays taken until purged. */
  readonly #secrets = new Map<string, SecretRecord>();

  /** @param options - region and account for ARNs, and the clock */
  constructor(options: SecretStoreOptions) {
    this.#region = options.region;
    this.#accountId = options.accountId;
    this.#now = options.now ?? (() => new Date());
  }

  // ---------------------------------------------------------------- lookup

  /** Drops secrets whose recovery window has ended, as AWS does in the background. */
  #purgeExpired(): void {
    const now = this.#now().getTime();
    for (const [name, secret] of this.#secrets) {
      if (secret.deletionDate !== undefined && secret.deletionDate.getTime() <= now) {
        this.#secrets.delete(name);
      }
    }
  }

  /**
   * Finds a secret by name, full ARN, or partial ARN (the ARN without the
   * six random characters), as every SecretId parameter accepts.
   *
   * @throws AwsServiceError `ValidationException` for a name with characters a
   *   name cannot hold (AWS checks non-ARN SecretIds the same way as names)
   */
  #find(secretId: string): SecretRecord | undefined {
    this.#purgeExpired();
    if (secretId.startsWith('arn:')) {
      for (const secret of this.#secrets.values()) {
        if (secret.arn === secretId || secret.arn.slice(0, -7) === secretId) return secret;
      }
      return undefined;
    }
    if (!SECRET_ID_NAME_PATTERN.test(secretId)) throw invalidName();
    return this.#secrets.get(secretId);
  }

  /** A secret that exists, scheduled for deletion or not. */
  #existing(secretId: string): SecretRecord {
    const secret = this.#find(secretId);
    if (secret === undefined) throw secretNotFound();
    return secret;
  }

  /** A secret that exists and is not scheduled for deletion. */
  #live(secretId: string): SecretRecord {
    const secret = this.#existing(secretId);
    if (secret.deletionDate !== undefined) throw markedForDeletion();
    return secret;
  }

  #holder(secret: SecretRecord, stage: string): VersionRecord | undefined {
    for (const version of secret.versions.values()) {
      if (version.stages.has(stage)) return version;
    }
    return undefined;
  }

  /**
   * Attaches a label to a version, taking it off whichever version held it
   * (a label is on at most one version). When AWSCURRENT moves, AWSPREVIOUS
   * moves to the version AWSCURRENT left (PutSecretValue and
   * UpdateSecretVersionStage docs).
   */
  #attach(secret: SecretRecord, version: VersionRecord, stage: string): void {
    const holder = this.#holder(secret, stage);
    if (holder === version) return;
    holder?.stages.delete(stage);
    version.stages.add(stage);
    if (stage === AWSCURRENT && holder !== undefined) {
      this.#holder(secret, AWSPREVIOUS)?.stages.delete(AWSPREVIOUS);
      holder.stages.add(AWSPREVIOUS);
    }
  }

  /**
   * The ARN of a secret, or undefined when none matches. Never throws, so
   * hooks can call it with anything.
   */
  arnOf(secretIdOrArn: string): string | undefined {
    try {
      return this.#find(secretIdOrArn)?.arn;
    } catch {
      return undefined;
    }
  }

  /** A view of a secret's versions and rotation state, without values. */
  inspect(secretIdOrArn: string): SecretSnapshot | undefined {
    let secret: SecretRecord | undefined;
    try {
      secret = this.#find(secretIdOrArn);
    } catch {
      return undefined;
    }
    if (secret === undefined) return undefined;
    return {
      arn: secret.arn,
      name: secret.name,
      deletionDate: secret.deletionDate,
      rotationEnabled: secret.rotationEnabled,
      rotationLambdaArn: secret.rotationLambdaArn,
      lastRotatedDate: secret.lastRotatedDate,
      versions: [...secret.versions.values()].map((version) => ({
        versionId: version.versionId,
        stages: [...version.stages].sort(),
        hasValue: version.value !== undefined,
        createdDate: version.createdDate,
        rotationToken: version.rotationToken,
      })),
    };
  }

  // ------------------------------------------------------------ operations

  /** CreateSecret. */
  createSecret(input: OperationInputs['CreateSecret']): Record<string, unknown> {
    this.#purgeExpired();
    if (!NAME_PATTERN.test(input.Name)) throw invalidName();
    return this.#create(input, undefined);
  }

  /**
   * A secret another AWS service creates for itself, as RDS does with
   * `ManageMasterUserPassword`: no API call of a customer makes one. It
   * carries `OwningService`, and may have a name with `!` (`rds!db-<id>`)
   * and `aws:` tags (`aws:rds:primaryDBInstanceArn`), which CreateSecret
   * reserves to AWS.
   */
  createServiceSecret(
    input: OperationInputs['CreateSecret'] & { readonly OwningService: string },
  ): Record<string, unknown> {
    this.#purgeExpired();
    if (!SECRET_ID_NAME_PATTERN.test(input.Name)) throw invalidName();
    return this.#create(input, input.OwningService);
  }

  #create(
    input: OperationInputs['CreateSecret'],
    owningService: string | undefined,
  ): Record<string, unknown> {
    const value = requestValue(input);
    const existing = this.#secrets.get(input.Name);
    if (existing !== undefined) {
      if (existing.deletionDate !== undefined) throw nameScheduledForDeletion();
      // A retry with the same token and value is the same request: idempotent.
      const retried = input.ClientRequestToken && existing.versions.get(input.ClientRequestToken);
      if (retried && value !== undefined && sameValue(retried.value, value)) {
        return { ARN: existing.arn, Name: existing.name, VersionId: retried.versionId };
      }
      throw secretExists(input.Name);
    }
    if (value !== undefined && input.ClientRequestToken === undefined) {
      throw missingClientRequestToken('InvalidRequestException');
    }
    const now = this.#now();
    let suffix = '';
    for (let i = 0; i < 6; i++)
      suffix += ARN_SUFFIX_ALPHABET.charAt(randomInt(ARN_SUFFIX_ALPHABET.length));
    const secret: SecretRecord = {
      arn: `arn:aws:secretsmanager:${this.#region}:${this.#accountId}:secret:${input.Name}-${suffix}`,
      name: input.Name,
      description: input.Description,
      kmsKeyId: input.KmsKeyId,
      tags: input.Tags,
      owningService,
      createdDate: now,
      lastChangedDate: now,
      lastAccessedDate: undefined,
      deletionDate: undefined,
      rotationEnabled: undefined,
      rotationLambdaArn: undefined,
      rotationRules: undefined,
      rotationConfiguredDate: undefined,
      lastRotatedDate: undefined,
      versions: new Map(),
    };
    this.#secrets.set(secret.name, secret);
    if (value === undefined || input.ClientRequestToken === undefined) {
      // No value, no version: ClientRequestToken only names a first version.
      return { ARN: secret.arn, Name: secret.name };
    }
    const versionId = input.ClientRequestToken;
    secret.versions.set(versionId, {
      versionId,
      value,
      stages: new Set([AWSCURRENT]),
      createdDate: now,
      lastAccessedDate: undefined,
      rotationToken: undefined,
    });
    return { ARN: secret.arn, Name: secret.name, VersionId: versionId };
  }

  /** DescribeSecret. Answers for a secret scheduled for deletion too, with DeletedDate. */
  describeSecret(input: OperationInputs['DescribeSecret']): Record<string, unknown> {
    const secret = this.#existing(input.SecretId);
    const stagesById: Record<string, string[]> = {};
    for (const version of secret.versions.values()) {
      // Versions without labels are deprecated: VersionIdsToStages leaves them out.
      if (version.stages.size > 0) stagesById[version.versionId] = [...version.stages].sort();
    }
    const out: Record<string, unknown> = { ARN: secret.arn, Name: secret.name };
    if (secret.description !== undefined) out.Description = secret.description;
    if (secret.kmsKeyId !== undefined) out.KmsKeyId = secret.kmsKeyId;
    if (secret.rotationEnabled !== undefined) {
      out.RotationEnabled = secret.rotationEnabled;
      // Kept after CancelRotateSecret: "shows the previous rotation schedule and rotation function".
      if (secret.rotationLambdaArn !== undefined) out.RotationLambdaARN = secret.rotationLambdaArn;
      if (secret.rotationRules !== undefined) out.RotationRules = { ...secret.rotationRules };
      // "If the secret isn't configured for rotation or rotation has been disabled, ... null."
      if (secret.rotationEnabled) {
        if (secret.lastRotatedDate !== undefined)
          out.LastRotatedDate = epoch(secret.lastRotatedDate);
        const next = this.#nextRotationDate(secret);
        if (next !== undefined) out.NextRotationDate = epoch(next);
      }
    }
    out.LastChangedDate = epoch(secret.lastChangedDate);
    if (secret.lastAccessedDate !== undefined)
      out.LastAccessedDate = epoch(secret.lastAccessedDate);
    if (secret.deletionDate !== undefined) out.DeletedDate = epoch(secret.deletionDate);
    if (secret.tags !== undefined) out.Tags = secret.tags.map((tag) => ({ ...tag }));
    if (Object.keys(stagesById).length > 0) out.VersionIdsToStages = stagesById;
    if (secret.owningService !== undefined) out.OwningService = secret.owningService;
    out.CreatedDate = epoch(secret.createdDate);
    return out;
  }

  /**
   * ListSecrets: secrets in name order, without their values, filtered as
   * the API reference's `Filter` documents: each key's values are prefixes,
   * any may match, a leading `!` negates; every key must match; keys `name`,
   * `tag-key`, `tag-value`, `owning-service`, `primary-region` (no secret
   * here is replicated, so it has none) case-sensitive, `description` not;
   * `all` (AWS splits it into words; here a case-sensitive prefix of any
   * field). Paged by `MaxResults` (default 100).
   * Secrets scheduled for deletion only with `IncludePlannedDeletion`.
   */
  listSecrets(input: OperationInputs['ListSecrets']): Record<string, unknown> {
    this.#purgeExpired();
    const filters = input.Filters ?? [];
    for (const filter of filters) {
      if (!LIST_FILTER_KEYS.includes(filter.Key as (typeof LIST_FILTER_KEYS)[number])) {
        throw new AwsServiceError(
          'ValidationException',
          `1 validation error detected: Value '${filter.Key ?? ''}' at 'filters.1.member.key' failed to satisfy constraint: Member must satisfy enum value set: [${LIST_FILTER_KEYS.join(', ')}]`,
        );
      }
    }
    const matches = (secret: SecretRecord) =>
      filters.every((filter) => {
        const fields = listFilterFields(secret, filter.Key ?? '');
        const fold = (text: string) => (filter.Key === 'description' ? text.toLowerCase() : text);
        return (filter.Values ?? []).some((value) => {
          const negated = value.startsWith('!');
          const prefix = fold(negated ? value.slice(1) : value);
          const hit = fields.some((field) => fold(field).startsWith(prefix));
          return negated ? !hit : hit;
        });
      });
    const all = [...this.#secrets.values()]
      .filter((secret) => input.IncludePlannedDeletion === true || !secret.deletionDate)
      .filter(matches)
      .sort((a, b) => a.name.localeCompare(b.name));
    if (input.SortOrder === 'desc') all.reverse();
    const start = input.NextToken === undefined ? 0 : Number(input.NextToken);
    if (!Number.isInteger(start) || start < 0 || start > all.length) {
      throw new AwsServiceError('InvalidNextTokenException', 'The NextToken value is invalid.');
    }
    const size = input.MaxResults ?? 100;
    const page = all.slice(start, start + size).map((secret) => {
      const { VersionIdsToStages, ...entry } = this.describeSecret({ SecretId: secret.arn });
      return VersionIdsToStages === undefined
        ? entry
        : { ...entry, SecretVersionsToStages: VersionIdsToStages };
    });
    const out: Record<string, unknown> = { SecretList: page };
    if (start + size < all.length) out.NextToken = String(start + size);
    return out;
  }

  /** TagResource: adds tags, replacing the value of a key the secret already has. */
  tagResource(input: OperationInputs['TagResource']): Record<string, unknown> {
    const secret = this.#live(input.SecretId);
    const byKey = new Map((secret.tags ?? []).map((tag) => [tag.Key, tag]));
    for (const tag of input.Tags) byKey.set(tag.Key, { Key: tag.Key, Value: tag.Value ?? '' });
    secret.tags = [...byKey.values()];
    secret.lastChangedDate = new Date();
    return {};
  }

  /**
   * The latest date the next rotation happens by: the interval after the last
   * rotation (or after rotation was configured, before any). Undefined for a
   * `cron(...)` schedule, which this endpoint does not evaluate.
   */
  #nextRotationDate(secret: SecretRecord): Date | undefined {
    const interval = rotationInterval(secret.rotationRules);
    const base = secret.lastRotatedDate ?? secret.rotationConfiguredDate;
    if (interval === undefined || base === undefined) return undefined;
    return new Date(base.getTime() + interval);
  }

  /** GetSecretValue, by VersionId, by VersionStage, or AWSCURRENT. */
  getSecretValue(input: OperationInputs['GetSecretValue']): Record<string, unknown> {
    const secret = this.#live(input.SecretId);
    let version: VersionRecord | undefined;
    if (input.VersionId !== undefined) {
      version = secret.versions.get(input.VersionId);
      if (version !== undefined && input.VersionStage !== undefined) {
        if (!version.stages.has(input.VersionStage)) throw stageNotOnVersion();
      }
      if (version?.value === undefined) throw secretValueNotFound('VersionId', input.VersionId);
    } else {
      const stage = input.VersionStage ?? AWSCURRENT;
      version = this.#holder(secret, stage);
      // A version RotateSecret staged has no value until createSecret stores one.
      if (version?.value === undefined) throw secretValueNotFound('staging label', stage);
    }
    const value = version.value as SecretValue;
    const today = startOfDay(this.#now());
    version.lastAccessedDate = today;
    secret.lastAccessedDate = today;
    return {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: version.versionId,
      ...(value.kind === 'string' ? { SecretString: value.text } : { SecretBinary: value.base64 }),
      VersionStages: [...version.stages].sort(),
      CreatedDate: epoch(version.createdDate),
    };
  }

  /**
   * PutSecretValue. The ClientRequestToken becomes the version id. A token that
   * names the valueless version RotateSecret staged fills it in (that is what
   * createSecret does); one that names a version with the same value is a
   * no-op; with a different value, ResourceExistsException.
   */
  putSecretValue(input: OperationInputs['PutSecretValue']): Record<string, unknown> {
    const secret = this.#live(input.SecretId);
    const value = requestValue(input);
    if (value === undefined) {
      // Wording from moto; no AWS recording found.
      throw invalidRequest('You must provide either SecretString or SecretBinary.');
    }
    const token = input.ClientRequestToken;
    if (token === undefined) throw missingClientRequestToken('InvalidRequestException');

    const existing = secret.versions.get(token);
    if (existing?.value !== undefined) {
      if (!sameValue(existing.value, value)) throw versionExists(token, secret.arn);
      // "the operation succeeds but does nothing"
      return {
        ARN: secret.arn,
        Name: secret.name,
        VersionId: token,
        VersionStages: [...existing.stages].sort(),
      };
    }

    const firstVersion = secret.versions.size === 0;
    const now = this.#now();
    const version: VersionRecord = existing ?? {
      versionId: token,
      value: undefined,
      stages: new Set(),
      createdDate: now,
      lastAccessedDate: undefined,
      rotationToken: undefined,
    };
    version.value = value;
    if (input.RotationToken !== undefined) version.rotationToken = input.RotationToken;
    if (existing === undefined) secret.versions.set(token, version);
    // No VersionStages: AWSCURRENT moves here. The first version is always AWSCURRENT.
    const stages = new Set(input.VersionStages ?? [AWSCURRENT]);
    if (firstVersion) stages.add(AWSCURRENT);
    for (const stage of stages) this.#attach(secret, version, stage);
    secret.lastChangedDate = now;
    return {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: token,
      VersionStages: [...version.stages].sort(),
    };
  }

  /**
   * UpdateSecretVersionStage.
   *
   * - With MoveToVersionId: the label moves there. If another version holds
   *   it, RemoveFromVersionId must name that version.
   * - With only RemoveFromVersionId: the label comes off that version, which
   *   must hold it. A version left without labels is deprecated.
   * - Moving AWSCURRENT moves AWSPREVIOUS to the version it left.
   */
  updateSecretVersionStage(
    input: OperationInputs['UpdateSecretVersionStage'],
  ): Record<string, unknown> {
    const secret = this.#live(input.SecretId);
    const stage = input.VersionStage;
    const versionById = (id: string | undefined) => {
      if (id === undefined) return undefined;
      const version = secret.versions.get(id);
      // Wording from moto; no AWS recording found.
      if (version === undefined) throw invalidParameter(`Not a valid version: ${id}`);
      return version;
    };
    const moveTo = versionById(input.MoveToVersionId);
    const removeFrom = versionById(input.RemoveFromVersionId);
    const holder = this.#holder(secret, stage);

    if (removeFrom !== undefined && removeFrom !== holder) {
      if (holder !== undefined && moveTo !== undefined && moveTo !== holder) {
        // Wording reproduced by other emulators; no AWS recording found.
        throw invalidParameter(
          `When you move staging label ${stage}, if you specify RemoveFromVersionId, it must be set to the version that currently has the staging label ${stage}.`,
        );
      }
      // Wording from moto; no AWS recording found.
      throw invalidParameter(`Version stage ${stage} not found in version ${removeFrom.versionId}`);
    }
    if (
      moveTo !== undefined &&
      holder !== undefined &&
      holder !== moveTo &&
      removeFrom === undefined
    ) {
      // AWS wording (quoted in hashicorp/terraform-provider-aws#19943).
      throw invalidParameter(
        `The parameter RemoveFromVersionId can't be empty. Staging label ${stage} is currently attached to version ${holder.versionId}, so you must explicitly reference that version in RemoveFromVersionId.`,
      );
    }

    if (moveTo !== undefined) {
      this.#attach(secret, moveTo, stage);
    } else if (removeFrom !== undefined) {
      removeFrom.stages.delete(stage);
    }
    secret.lastChangedDate = this.#now();
    return { ARN: secret.arn, Name: secret.name };
  }

  /** ListSecretVersionIds; versions without labels only with IncludeDeprecated. */
  listSecretVersionIds(input: OperationInputs['ListSecretVersionIds']): Record<string, unknown> {
    const secret = this.#existing(input.SecretId);
    const versions = [...secret.versions.values()].filter(
      (version) => input.IncludeDeprecated === true || version.stages.size > 0,
    );
    const start = input.NextToken === undefined ? 0 : Number(input.NextToken);
    if (!Number.isInteger(start) || start < 0 || start > versions.length) {
      // Our wording: no AWS recording found.
      throw new AwsServiceError('InvalidNextTokenException', 'The NextToken value is invalid.');
    }
    const end = start + (input.MaxResults ?? 100);
    const out: Record<string, unknown> = {
      Versions: versions.slice(start, end).map((version) => {
        const entry: Record<string, unknown> = { VersionId: version.versionId };
        if (version.stages.size > 0) entry.VersionStages = [...version.stages].sort();
        if (version.lastAccessedDate !== undefined) {
          entry.LastAccessedDate = epoch(version.lastAccessedDate);
        }
        entry.CreatedDate = epoch(version.createdDate);
        // What AWS lists for the default key (recorded).
        entry.KmsKeyIds = [secret.kmsKeyId ?? 'DefaultEncryptionKey'];
        return entry;
      }),
      ARN: secret.arn,
      Name: secret.name,
    };
    if (end < versions.length) out.NextToken = String(end);
    return out;
  }

  /**
   * CancelRotateSecret: turns rotation off and keeps the function and
   * schedule; AWSPENDING stays where it is for the caller to remove (API
   * reference). Answers the id of the version a rotation left pending.
   */
  cancelRotateSecret(input: OperationInputs['CancelRotateSecret']): Record<string, unknown> {
    const secret = this.#live(input.SecretId);
    if (secret.rotationLambdaArn === undefined) {
      // moto's reading of the InvalidRequestException causes in the API reference.
      throw invalidRequest(
        "You tried to enable rotation on a secret that doesn't already have a Lambda function ARN configured and you didn't include such an ARN as a parameter in this call.",
      );
    }
    secret.rotationEnabled = false;
    secret.lastChangedDate = this.#now();
    const pending = this.#holder(secret, AWSPENDING);
    const out: Record<string, unknown> = { ARN: secret.arn, Name: secret.name };
    if (pending !== undefined && !pending.stages.has(AWSCURRENT)) out.VersionId = pending.versionId;
    return out;
  }

  /**
   * DeleteSecret: a recovery window of 7 to 30 days (default 30), or at once
   * with ForceDeleteWithoutRecovery, which also succeeds for a secret that
   * does not exist (API reference) and for one already scheduled.
   */
  deleteSecret(input: OperationInputs['DeleteSecret']): Record<string, unknown> {
    const force = input.ForceDeleteWithoutRecovery === true;
    // Wordings from moto; no AWS recording found.
    if (force && input.RecoveryWindowInDays !== undefined) {
      throw invalidParameter(
        "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
      );
    }
    const days = input.RecoveryWindowInDays ?? 30;
    if (days < 7 || days > 30) {
      throw invalidParameter(
        'The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).',
      );
    }
    const now = this.#now();
    const secret = this.#find(input.SecretId);
    if (secret === undefined) {
      if (!force) throw secretNotFound();
      const arn = input.SecretId.startsWith('arn:')
        ? input.SecretId
        : `arn:aws:secretsmanager:${this.#region}:${this.#accountId}:secret:${input.SecretId}`;
      return {
        ARN: arn,
        Name: input.SecretId.split(':').pop() ?? input.SecretId,
        DeletionDate: epoch(now),
      };
    }
    if (force) {
      this.#secrets.delete(secret.name);
      return { ARN: secret.arn, Name: secret.name, DeletionDate: epoch(now) };
    }
    if (secret.deletionDate !== undefined) throw markedForDeletion();
    secret.deletionDate = new Date(now.getTime() + days * DAY_MS);
    secret.lastChangedDate = now;
    return { ARN: secret.arn, Name: secret.name, DeletionDate: epoch(secret.deletionDate) };
  }

  // -------------------------------------------------------------- rotation

  /**
   * RotateSecret's synchronous part: checks, records the configuration, and
   * stages AWSPENDING on a new version with the request's token.
   *
   * - `rotate` (RotateImmediately, the default): the new version has no value;
   *   createSecret is to store one.
   * - `test` (RotateImmediately=false): the new version holds a copy of the
   *   AWSCURRENT value so that testSecret has something to test; the runner
   *   removes it afterwards ("This test creates an AWSPENDING version of the
   *   secret and then removes it").
   * - `reattempt`: AWSPENDING is on a version other than AWSCURRENT's, so a
   *   previous rotation is incomplete; nothing changes and the caller answers
   *   "A previous rotation isn't complete..." after restarting that rotation.
   *
   * @param canInvoke - whether a rotation function is registered under an ARN
   * @throws AwsServiceError `InvalidRequestException` with no function ARN ever
   *   given; `AccessDeniedException` for an ARN with no function (recorded AWS
   *   behaviour, and the configuration is left unchanged)
   */
  rotateSecret(
    input: OperationInputs['RotateSecret'],
    canInvoke: (lambdaArn: string) => boolean,
  ): RotationPlan {
    const secret = this.#live(input.SecretId);
    const token = input.ClientRequestToken;
    if (token === undefined) throw missingClientRequestToken('InvalidParameterException');
    const lambdaArn = input.RotationLambdaARN || secret.rotationLambdaArn;
    if (!lambdaArn) throw noRotationFunction();
    if (!canInvoke(lambdaArn)) throw cannotInvokeFunction();

    const pending = this.#holder(secret, AWSPENDING);
    if (pending !== undefined && !pending.stages.has(AWSCURRENT)) {
      return {
        arn: secret.arn,
        name: secret.name,
        token: pending.versionId,
        lambdaArn: secret.rotationLambdaArn ?? lambdaArn,
        mode: 'reattempt',
      };
    }
    // Our choice: a token that already names a version cannot name a new one.
    if (secret.versions.has(token)) throw versionExists(token, secret.arn);

    const now = this.#now();
    secret.rotationLambdaArn = lambdaArn;
    if (input.RotationRules !== undefined) secret.rotationRules = { ...input.RotationRules };
    secret.rotationEnabled = true;
    secret.rotationConfiguredDate = now;
    secret.lastChangedDate = now;

    const immediate = input.RotateImmediately ?? true;
    const version: VersionRecord = {
      versionId: token,
      value: immediate ? undefined : this.#holder(secret, AWSCURRENT)?.value,
      stages: new Set(),
      createdDate: now,
      lastAccessedDate: undefined,
      rotationToken: undefined,
    };
    secret.versions.set(token, version);
    this.#attach(secret, version, AWSPENDING);
    return {
      arn: secret.arn,
      name: secret.name,
      token,
      lambdaArn,
      mode: immediate ? 'rotate' : 'test',
    };
  }

  /**
   * Ends a rotation whose four steps returned: AWSCURRENT must now be on the
   * token's version (finishSecret's job), LastRotatedDate is set, and
   * AWSPENDING comes off that version unless `keepPendingLabel`.
   *
   * @returns undefined when the rotation completed, else why it did not
   */
  completeRotation(arn: string, token: string, keepPendingLabel: boolean): string | undefined {
    const secret = this.#find(arn);
    if (secret === undefined || secret.deletionDate !== undefined) {
      return 'the secret was deleted during the rotation';
    }
    const version = secret.versions.get(token);
    if (version === undefined || !version.stages.has(AWSCURRENT)) {
      return `finishSecret returned, but AWSCURRENT is not on version ${token}`;
    }
    if (!keepPendingLabel) version.stages.delete(AWSPENDING);
    const now = this.#now();
    secret.lastRotatedDate = now;
    secret.lastChangedDate = now;
    return undefined;
  }

  /**
   * Ends a RotateImmediately=false test: the AWSPENDING label comes off the
   * test version, and the version goes unless something else labelled it.
   */
  endRotationTest(arn: string, token: string): void {
    const secret = this.#find(arn);
    const version = secret?.versions.get(token);
    if (secret === undefined || version === undefined) return;
    version.stages.delete(AWSPENDING);
    if (version.stages.size === 0) secret.versions.delete(token);
  }
}

/** ListSecrets filter keys this endpoint serves. */
const LIST_FILTER_KEYS = [
  'description',
  'name',
  'tag-key',
  'tag-value',
  'primary-region',
  'owning-service',
  'all',
] as const;

/** The texts of a secret one ListSecrets filter key matches against. */
function listFilterFields(secret: SecretRecord, key: string): string[] {
  const tags = secret.tags ?? [];
  switch (key) {
    case 'name':
      return [secret.name];
    case 'description':
      return secret.description === undefined ? [] : [secret.description];
    case 'tag-key':
      return tags.map((tag) => tag.Key ?? '');
    case 'tag-value':
      return tags.map((tag) => tag.Value ?? '');
    case 'owning-service':
      return secret.owningService === undefined ? [] : [secret.owningService];
    case 'primary-region':
      return [];
    default:
      return [
        secret.name,
        ...(secret.description === undefined ? [] : [secret.description]),
        ...tags.flatMap((tag) => [tag.Key ?? '', tag.Value ?? '']),
      ];
  }
}
