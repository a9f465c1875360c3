/**
 * Request decoding for the AWS JSON 1.1 protocol: the shapes of the inputs the
 * endpoint serves (from botocore's `secretsmanager/2017-10-17/service-2.json`)
 * and the two ways AWS's front end refuses a body before the service sees it.
 *
 * - A member of the wrong JSON type cannot be deserialized at all:
 *   `SerializationException` (wording from memory of AWS's Coral front end,
 *   e.g. "NUMBER_VALUE can not be converted to a String"; not verified).
 * - A member that breaks a modeled constraint (required, length, range,
 *   pattern): `ValidationException` with AWS's wording, e.g. "1 validation error
 *   detected: Value null at 'secretId' failed to satisfy constraint: Member
 *   must not be null" (quoted from AWS in aws/aws-sdk-kotlin#1469).
 *
 * Members the model does not know are ignored, as AWS ignores them. JSON
 * `null` counts as absent.
 *
 * @module
 */
import { type AwsServiceError, protocolError } from './errors.js';

/** What one member of an input may hold. */
export type MemberSpec =
  | {
      readonly kind: 'string';
      readonly required?: boolean;
      readonly min?: number;
      readonly max?: number;
      readonly pattern?: string;
      /** Never echoed in error messages (secret values, rotation tokens). */
      readonly sensitive?: boolean;
    }
  | {
      /** Base64 text in JSON; lengths count decoded bytes. */
      readonly kind: 'blob';
      readonly required?: boolean;
      readonly min?: number;
      readonly max?: number;
      readonly sensitive?: boolean;
    }
  | { readonly kind: 'boolean'; readonly required?: boolean }
  | {
      readonly kind: 'long';
      readonly required?: boolean;
      readonly min?: number;
      readonly max?: number;
    }
  | {
      readonly kind: 'list';
      readonly member: MemberSpec;
      readonly required?: boolean;
      readonly min?: number;
      readonly max?: number;
    }
  | {
      readonly kind: 'structure';
      readonly members: Readonly<Record<string, MemberSpec>>;
      readonly required?: boolean;
    };

/** The members of one operation's input. */
export type InputSpec = Readonly<Record<string, MemberSpec>>;

const SECRET_ID: MemberSpec = { kind: 'string', required: true, min: 1, max: 2048 };
const CLIENT_REQUEST_TOKEN: MemberSpec = { kind: 'string', min: 32, max: 64 };
const VERSION_ID: MemberSpec = { kind: 'string', min: 32, max: 64 };
const VERSION_STAGE: MemberSpec = { kind: 'string', min: 1, max: 256 };
const SECRET_STRING: MemberSpec = { kind: 'string', min: 1, max: 65536, sensitive: true };
const SECRET_BINARY: MemberSpec = { kind: 'blob', min: 1, max: 65536, sensitive: true };
const TAGS: MemberSpec = {
  kind: 'list',
  member: {
    kind: 'structure',
    members: {
      Key: { kind: 'string', min: 1, max: 128 },
      Value: { kind: 'string', min: 0, max: 256 },
    },
  },
};

/** Input shapes of the operations this endpoint serves. */
export const INPUT_SPECS = {
  CreateSecret: {
    Name: { kind: 'string', required: true, min: 1, max: 512 },
    ClientRequestToken: CLIENT_REQUEST_TOKEN,
    Description: { kind: 'string', max: 2048 },
    KmsKeyId: { kind: 'string', min: 0, max: 2048 },
    SecretBinary: SECRET_BINARY,
    SecretString: SECRET_STRING,
    Tags: TAGS,
    ForceOverwriteReplicaSecret: { kind: 'boolean' },
  },
  DescribeSecret: { SecretId: SECRET_ID },
  GetSecretValue: { SecretId: SECRET_ID, VersionId: VERSION_ID, VersionStage: VERSION_STAGE },
  PutSecretValue: {
    SecretId: SECRET_ID,
    ClientRequestToken: CLIENT_REQUEST_TOKEN,
    SecretBinary: SECRET_BINARY,
    SecretString: SECRET_STRING,
    VersionStages: { kind: 'list', member: VERSION_STAGE, min: 1, max: 20 },
    RotationToken: {
      kind: 'string',
      min: 36,
      max: 256,
      pattern: '^[a-zA-Z0-9\\-]+$',
      sensitive: true,
    },
  },
  UpdateSecretVersionStage: {
    SecretId: SECRET_ID,
    VersionStage: { ...VERSION_STAGE, required: true },
    RemoveFromVersionId: VERSION_ID,
    MoveToVersionId: VERSION_ID,
  },
  ListSecretVersionIds: {
    SecretId: SECRET_ID,
    MaxResults: { kind: 'long', min: 1, max: 100 },
    NextToken: { kind: 'string', min: 1, max: 4096 },
    IncludeDeprecated: { kind: 'boolean' },
  },
  GetRandomPassword: {
    PasswordLength: { kind: 'long', min: 1, max: 4096 },
    ExcludeCharacters: { kind: 'string', min: 0, max: 4096 },
    ExcludeNumbers: { kind: 'boolean' },
    ExcludePunctuation: { kind: 'boolean' },
    ExcludeUppercase: { kind: 'boolean' },
    ExcludeLowercase: { kind: 'boolean' },
    IncludeSpace: { kind: 'boolean' },
    RequireEachIncludedType: { kind: 'boolean' },
  },
  RotateSecret: {
    SecretId: SECRET_ID,
    ClientRequestToken: CLIENT_REQUEST_TOKEN,
    RotationLambdaARN: { kind: 'string', min: 0, max: 2048 },
    RotationRules: {
      kind: 'structure',
      members: {
        AutomaticallyAfterDays: { kind: 'long', min: 1, max: 1000 },
        Duration: { kind: 'string', min: 2, max: 3, pattern: '[0-9]+h' },
        ScheduleExpression: {
          kind: 'string',
          min: 1,
          max: 256,
          pattern: '[0-9A-Za-z\\(\\)#\\?\\*\\-\\/, ]+',
        },
      },
    },
    RotateImmediately: { kind: 'boolean' },
  },
  CancelRotateSecret: { SecretId: SECRET_ID },
  DeleteSecret: {
    SecretId: SECRET_ID,
    RecoveryWindowInDays: { kind: 'long' },
    ForceDeleteWithoutRecovery: { kind: 'boolean' },
  },
  ListSecrets: {
    IncludePlannedDeletion: { kind: 'boolean' },
    MaxResults: { kind: 'long', min: 1, max: 100 },
    NextToken: { kind: 'string', min: 1, max: 4096 },
    Filters: {
      kind: 'list',
      max: 10,
      member: {
        kind: 'structure',
        members: {
          Key: { kind: 'string' },
          Values: { kind: 'list', min: 1, max: 10, member: { kind: 'string', min: 1, max: 512 } },
        },
      },
    },
    SortOrder: { kind: 'string' },
  },
  TagResource: { SecretId: SECRET_ID, Tags: { ...TAGS, required: true } },
} as const satisfies Record<string, InputSpec>;

/** An operation this endpoint serves. */
export type Operation = keyof typeof INPUT_SPECS;

/** Every operation this endpoint serves, for dispatch and fault injection. */
export const OPERATIONS = Object.keys(INPUT_SPECS) as readonly Operation[];

/** Rotation schedule as RotateSecret takes it and DescribeSecret shows it. */
export interface RotationRulesInput {
  readonly AutomaticallyAfterDays?: number;
  readonly Duration?: string;
  readonly ScheduleExpression?: string;
}

/** A tag as CreateSecret takes it. */
export interface TagInput {
  readonly Key?: string;
  readonly Value?: string;
}

/** The decoded input of each operation, after {@link decodeInput} checked it. */
export interface OperationInputs {
  CreateSecret: {
    Name: string;
    ClientRequestToken?: string;
    Description?: string;
    KmsKeyId?: string;
    SecretBinary?: string;
    SecretString?: string;
    Tags?: readonly TagInput[];
  };
  DescribeSecret: { SecretId: string };
  GetSecretValue: { SecretId: string; VersionId?: string; VersionStage?: string };
  PutSecretValue: {
    SecretId: string;
    ClientRequestToken?: string;
    SecretBinary?: string;
    SecretString?: string;
    VersionStages?: readonly string[];
    RotationToken?: string;
  };
  UpdateSecretVersionStage: {
    SecretId: string;
    VersionStage: string;
    RemoveFromVersionId?: string;
    MoveToVersionId?: string;
  };
  ListSecretVersionIds: {
    SecretId: string;
    MaxResults?: number;
    NextToken?: string;
    IncludeDeprecated?: boolean;
  };
  GetRandomPassword: {
    PasswordLength?: number;
    ExcludeCharacters?: string;
    ExcludeNumbers?: boolean;
    ExcludePunctuation?: boolean;
    ExcludeUppercase?: boolean;
    ExcludeLowercase?: boolean;
    IncludeSpace?: boolean;
    RequireEachIncludedType?: boolean;
  };
  RotateSecret: {
    SecretId: string;
    ClientRequestToken?: string;
    RotationLambdaARN?: string;
    RotationRules?: RotationRulesInput;
    RotateImmediately?: boolean;
  };
  CancelRotateSecret: { SecretId: string };
  DeleteSecret: {
    SecretId: string;
    RecoveryWindowInDays?: number;
    ForceDeleteWithoutRecovery?: boolean;
  };
  ListSecrets: {
    IncludePlannedDeletion?: boolean;
    MaxResults?: number;
    NextToken?: string;
    Filters?: readonly { Key?: string; Values?: readonly string[] }[];
    SortOrder?: string;
  };
  TagResource: { SecretId: string; Tags: readonly TagInput[] };
}

/** The name the front end uses for a member path: `RotationRules.Duration` → `rotationRules.duration`. */
function coralName(path: readonly string[]): string {
  return path.map((part) => part.charAt(0).toLowerCase() + part.slice(1)).join('.');
}

/** How the front end names a JSON value's token when it cannot convert it. */
function tokenName(value: unknown): string {
  if (typeof value === 'number') return 'NUMBER_VALUE';
  if (typeof value === 'boolean') return value ? 'TRUE_VALUE' : 'FALSE_VALUE';
  return 'STRING_VALUE';
}

/** SerializationException for a value of the wrong JSON type. */
function wrongType(value: unknown, expected: string): AwsServiceError {
  if (Array.isArray(value)) {
    return protocolError('SerializationException', 'Start of list found where not expected');
  }
  if (typeof value === 'object' && value !== null) {
    return protocolError(
      'SerializationException',
      'Start of structure or map found where not expected.',
    );
  }
  return protocolError(
    'SerializationException',
    `${tokenName(value)} can not be converted to a ${expected}`,
  );
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Renders a value the way the front end quotes it in a constraint message. */
function quote(value: unknown, sensitive: boolean | undefined): string {
  if (sensitive) return '';
  if (Array.isArray(value)) return ` '[${value.map(String).join(', ')}]'`;
  return ` '${String(value)}'`;
}

/**
 * Walks one member: throws SerializationException on a wrong type, collects
 * constraint failures into `problems`, and returns the decoded value.
 */
function decodeMember(
  spec: MemberSpec,
  value: unknown,
  path: readonly string[],
  problems: string[],
): unknown {
  const at = coralName(path);
  if (value === undefined || value === null) {
    if (spec.required) {
      problems.push(`Value null at '${at}' failed to satisfy constraint: Member must not be null`);
    }
    return undefined;
  }
  const sensitive = 'sensitive' in spec ? spec.sensitive : false;
  const fail = (constraint: string) =>
    problems.push(
      `Value${quote(value, sensitive)} at '${at}' failed to satisfy constraint: Member must ${constraint}`,
    );
  const checkLength = (length: number, min?: number, max?: number) => {
    if (min !== undefined && length < min) fail(`have length greater than or equal to ${min}`);
    if (max !== undefined && length > max) fail(`have length less than or equal to ${max}`);
  };
  switch (spec.kind) {
    case 'string': {
      if (typeof value !== 'string') throw wrongType(value, 'String');
      checkLength(value.length, spec.min, spec.max);
      if (spec.pattern !== undefined && !new RegExp(`^(?:${spec.pattern})$`).test(value)) {
        fail(`satisfy regular expression pattern: ${spec.pattern}`);
      }
      return value;
    }
    case 'blob': {
      if (typeof value !== 'string') throw wrongType(value, 'Blob');
      if (!BASE64.test(value) || value.length % 4 === 1) {
        throw protocolError('SerializationException', 'Base64 encoded value is not valid');
      }
      checkLength(Buffer.from(value, 'base64').length, spec.min, spec.max);
      return value;
    }
    case 'boolean': {
      if (typeof value !== 'boolean') throw wrongType(value, 'Boolean');
      return value;
    }
    case 'long': {
      if (typeof value !== 'number' || !Number.isInteger(value)) throw wrongType(value, 'Long');
      if (spec.min !== undefined && value < spec.min) {
        fail(`have value greater than or equal to ${spec.min}`);
      }
      if (spec.max !== undefined && value > spec.max) {
        fail(`have value less than or equal to ${spec.max}`);
      }
      return value;
    }
    case 'list': {
      if (!Array.isArray(value)) throw wrongType(value, 'List');
      checkLength(value.length, spec.min, spec.max);
      return value.map((item, index) =>
        decodeMember(spec.member, item, [...path, `${index + 1}`, 'member'], problems),
      );
    }
    case 'structure': {
      if (typeof value !== 'object' || Array.isArray(value)) throw wrongType(value, 'Structure');
      return decodeStructure(spec.members, value as Record<string, unknown>, path, problems);
    }
  }
}

function decodeStructure(
  members: InputSpec,
  value: Readonly<Record<string, unknown>>,
  path: readonly string[],
  problems: string[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(members)) {
    const decoded = decodeMember(spec, value[name], [...path, name], problems);
    if (decoded !== undefined) out[name] = decoded;
  }
  return out;
}

/**
 * Decodes a parsed JSON body against an operation's input shape.
 *
 * @param operation - the operation named by `X-Amz-Target`
 * @param body - the parsed JSON body
 * @returns the members the model knows, with absent and `null` members left out
 * @throws AwsServiceError `SerializationException` for a body or member of the
 *   wrong JSON type; `ValidationException` listing every failed constraint
 */
export function decodeInput<O extends Operation>(operation: O, body: unknown): OperationInputs[O] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw wrongType(body, 'Structure');
  }
  const problems: string[] = [];
  const decoded = decodeStructure(
    INPUT_SPECS[operation],
    body as Record<string, unknown>,
    [],
    problems,
  );
  if (problems.length > 0) {
    const count =
      problems.length === 1 ? '1 validation error' : `${problems.length} validation errors`;
    throw protocolError('ValidationException', `${count} detected: ${problems.join('; ')}`);
  }
  // The walk above checked every member against the shape this type mirrors.
  return decoded as OperationInputs[O];
}
