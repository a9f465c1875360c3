/**
 * The event Secrets Manager sends to a rotation function.
 *
 * @module
 */
// valibot: a schema library built for small bundles (each check is its own
// function, so only those used are bundled), in place of zod, whose classic
// API and locale files were half of the function's bundle.
import * as v from 'valibot';
import { InvalidEventError } from '../errors.js';

/** The rotation steps, in the order Secrets Manager calls them. */
export const ROTATION_STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;

/** One of {@link ROTATION_STEPS}. */
export type RotationStep = (typeof ROTATION_STEPS)[number];

/** A validated rotation event. Fields other than these are dropped. */
export interface RotationEvent {
  readonly Step: RotationStep;
  /** ARN (or name) of the secret being rotated. */
  readonly SecretId: string;
  /** The new version's id; the same for all four steps of one rotation. */
  readonly ClientRequestToken: string;
  /** Present on some invocations; passed back to PutSecretValue. */
  readonly RotationToken?: string | undefined;
}

/**
 * The event's fields, each with what it must be. Lengths are Secrets
 * Manager's own limits (ClientRequestToken 32..64, SecretId 1..2048).
 */
const EVENT_FIELDS = {
  Step: { schema: v.picklist(ROTATION_STEPS), expected: `one of ${ROTATION_STEPS.join(', ')}` },
  SecretId: {
    schema: v.pipe(v.string(), v.minLength(1), v.maxLength(2048)),
    expected: 'the secret ARN or name, a string of 1 to 2048 characters',
  },
  ClientRequestToken: {
    schema: v.pipe(v.string(), v.minLength(32), v.maxLength(64)),
    expected: 'the version id, a string of 32 to 64 characters',
  },
  RotationToken: {
    schema: v.optional(v.pipe(v.string(), v.minLength(1))),
    expected: 'a non-empty string when present',
  },
} as const;

type EventField = keyof typeof EVENT_FIELDS;

const EVENT_SCHEMA = v.object({
  Step: EVENT_FIELDS.Step.schema,
  SecretId: EVENT_FIELDS.SecretId.schema,
  ClientRequestToken: EVENT_FIELDS.ClientRequestToken.schema,
  RotationToken: EVENT_FIELDS.RotationToken.schema,
});

/**
 * Validates a Lambda event as a rotation event.
 *
 * @throws {@link InvalidEventError} naming the first wrong field and what it
 *   must be (never the value received)
 *
 * @example
 * ```ts
 * const event = parseRotationEvent(rawEvent);
 * switch (event.Step) { ... }
 * ```
 */
export function parseRotationEvent(event: unknown): RotationEvent {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw new InvalidEventError('the event', 'an object { Step, SecretId, ClientRequestToken }');
  }
  const result = v.safeParse(EVENT_SCHEMA, event, { abortEarly: true });
  if (!result.success) {
    const field = result.issues[0].path?.[0]?.key as EventField;
    throw new InvalidEventError(field, EVENT_FIELDS[field].expected);
  }
  const { Step, SecretId, ClientRequestToken, RotationToken } = result.output;
  return RotationToken === undefined
    ? { Step, SecretId, ClientRequestToken }
    : { Step, SecretId, ClientRequestToken, RotationToken };
}
