import { describe, expect, it } from 'vitest';
import { parseRotationEvent, ROTATION_STEPS } from '../../../lambda/core/event.js';
import { InvalidEventError } from '../../../lambda/errors.js';

const valid = {
  Step: 'createSecret',
  SecretId: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-AbCdEf',
  ClientRequestToken: 'd0c4b5f2-3d0a-4c1e-9a57-6d1b2f0e8a11',
};

function invalidField(event: unknown): InvalidEventError {
  try {
    parseRotationEvent(event);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidEventError);
    return error as InvalidEventError;
  }
  return expect.fail('expected an InvalidEventError');
}

describe('ROTATION_STEPS', () => {
  it('lists the four steps in the order Secrets Manager calls them', () => {
    expect(ROTATION_STEPS).toEqual(['createSecret', 'setSecret', 'testSecret', 'finishSecret']);
  });
});

describe('parseRotationEvent', () => {
  it.each(ROTATION_STEPS)('accepts a %s event', (Step) => {
    expect(parseRotationEvent({ ...valid, Step })).toEqual({ ...valid, Step });
  });

  it('keeps the RotationToken when there is one', () => {
    expect(parseRotationEvent({ ...valid, RotationToken: 'rt-1' }).RotationToken).toBe('rt-1');
  });

  it('drops fields it does not know', () => {
    expect(parseRotationEvent({ ...valid, Extra: 'x' })).toEqual(valid);
  });

  it.each([
    [
      'Step',
      { Step: 'bogusStep' },
      'Step must be one of createSecret, setSecret, testSecret, finishSecret',
    ],
    ['Step', { Step: undefined }, 'Step must be one of'],
    ['SecretId', { SecretId: '' }, 'SecretId must be the secret ARN or name'],
    ['SecretId', { SecretId: 42 }, 'SecretId must be'],
    [
      'ClientRequestToken',
      { ClientRequestToken: 'short-token' },
      'ClientRequestToken must be the version id, a string of 32 to 64 characters',
    ],
    ['ClientRequestToken', { ClientRequestToken: 'x'.repeat(65) }, 'ClientRequestToken must be'],
    ['ClientRequestToken', { ClientRequestToken: undefined }, 'ClientRequestToken must be'],
    ['RotationToken', { RotationToken: '' }, 'RotationToken must be a non-empty string'],
    ['RotationToken', { RotationToken: 7 }, 'RotationToken must be'],
  ])('names %s when it is wrong', (field, changes, expected) => {
    const error = invalidField({ ...valid, ...changes });
    expect(error.field).toBe(field);
    expect(error.message.startsWith(`Invalid rotation event: ${expected}`)).toBe(true);
    expect(error.message).not.toContain('bogusStep');
    expect(error.message).not.toContain('short-token');
  });

  it.each([
    ['null', null],
    ['a string', 'createSecret'],
    ['an array', [valid]],
    ['undefined', undefined],
  ])('refuses %s as the whole event', (_, event) => {
    const error = invalidField(event);
    expect(error.field).toBe('the event');
    expect(error.message).toMatch(/^Invalid rotation event: the event must be an object/);
  });
});
