import { describe, expect, it } from 'vitest';
import {
  checkRotationStage,
  currentVersionId,
  previousVersionId,
} from '../../../lambda/core/stages.js';
import {
  RotationNotEnabledError,
  TokenNotFoundError,
  TokenNotPendingError,
} from '../../../lambda/errors.js';

const TOKEN = 'token-0000-1111-2222-333333333333';
const stages = {
  'v-current': ['AWSCURRENT'],
  'v-previous': ['AWSPREVIOUS'],
  [TOKEN]: ['AWSPENDING'],
};

describe('checkRotationStage', () => {
  it('proceeds when rotation is enabled and the token is AWSPENDING', () => {
    expect(
      checkRotationStage({ rotationEnabled: true, versionIdsToStages: stages, token: TOKEN }),
    ).toEqual({ kind: 'proceed' });
  });

  it('reports already-current when the token holds AWSCURRENT', () => {
    expect(
      checkRotationStage({
        rotationEnabled: true,
        versionIdsToStages: { ...stages, [TOKEN]: ['AWSCURRENT'], 'v-current': ['AWSPREVIOUS'] },
        token: TOKEN,
      }),
    ).toEqual({ kind: 'already-current' });
  });

  it('reports already-current when the token holds AWSCURRENT and still AWSPENDING', () => {
    expect(
      checkRotationStage({
        rotationEnabled: true,
        versionIdsToStages: { ...stages, [TOKEN]: ['AWSPENDING', 'AWSCURRENT'] },
        token: TOKEN,
      }),
    ).toEqual({ kind: 'already-current' });
  });

  it('fails when rotation is not enabled, before looking at the token', () => {
    const call = () =>
      checkRotationStage({
        rotationEnabled: false,
        versionIdsToStages: {},
        token: TOKEN,
        secretId: 'arn:secret:app',
      });
    expect(call).toThrow(RotationNotEnabledError);
    expect(call).toThrow(
      /^Rotation is not enabled: secret arn:secret:app does not have rotation enabled/,
    );
  });

  it('fails when the token is not a version of the secret', () => {
    const call = () =>
      checkRotationStage({ rotationEnabled: true, versionIdsToStages: stages, token: 'unknown' });
    expect(call).toThrow(TokenNotFoundError);
    expect(call).toThrow(
      /^Rotation token not found: version unknown is not a version of the secret/,
    );
  });

  it('does not find a token named like an Object.prototype property', () => {
    expect(() =>
      checkRotationStage({
        rotationEnabled: true,
        versionIdsToStages: stages,
        token: 'constructor',
      }),
    ).toThrow(TokenNotFoundError);
  });

  it('fails when the token holds neither AWSCURRENT nor AWSPENDING, listing what it holds', () => {
    let error: unknown;
    try {
      checkRotationStage({
        rotationEnabled: true,
        versionIdsToStages: stages,
        token: 'v-previous',
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(TokenNotPendingError);
    expect((error as TokenNotPendingError).stages).toEqual(['AWSPREVIOUS']);
    expect((error as Error).message).toMatch(
      /^Rotation token is not pending: version v-previous of the secret has only AWSPREVIOUS, not AWSPENDING/,
    );
  });

  it('fails when the token has no staging labels at all', () => {
    expect(() =>
      checkRotationStage({
        rotationEnabled: true,
        versionIdsToStages: { ...stages, [TOKEN]: [] },
        token: TOKEN,
      }),
    ).toThrow(/has no staging labels, not AWSPENDING/);
  });
});

describe('currentVersionId and previousVersionId', () => {
  it('find the versions holding AWSCURRENT and AWSPREVIOUS', () => {
    expect(currentVersionId(stages)).toBe('v-current');
    expect(previousVersionId(stages)).toBe('v-previous');
  });

  it('find a version that holds other labels as well', () => {
    const shared = { a: ['AWSPENDING'], b: ['custom', 'AWSCURRENT'], c: ['AWSPREVIOUS', 'x'] };
    expect(currentVersionId(shared)).toBe('b');
    expect(previousVersionId(shared)).toBe('c');
  });

  it('are undefined when no version holds the label', () => {
    expect(currentVersionId({ [TOKEN]: ['AWSPENDING'] })).toBeUndefined();
    expect(previousVersionId({ 'v-current': ['AWSCURRENT'] })).toBeUndefined();
    expect(currentVersionId({})).toBeUndefined();
  });
});
