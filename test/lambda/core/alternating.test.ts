import { describe, expect, it } from 'vitest';
import { alternatingPair } from '../../../lambda/core/alternating.js';
import { CloneNameError } from '../../../lambda/errors.js';

describe('alternatingPair', () => {
  it('changes the clone while AWSCURRENT names the original', () => {
    expect(alternatingPair('app', '_clone')).toEqual({
      original: 'app',
      clone: 'app_clone',
      current: 'app',
      next: 'app_clone',
    });
  });

  it('changes the original while AWSCURRENT names the clone', () => {
    expect(alternatingPair('app_clone', '_clone')).toEqual({
      original: 'app',
      clone: 'app_clone',
      current: 'app_clone',
      next: 'app',
    });
  });

  it('takes a name that is only the suffix for an original', () => {
    expect(alternatingPair('_clone', '_clone').next).toBe('_clone_clone');
  });

  it('uses the configured suffix', () => {
    expect(alternatingPair('app_b', '_b').next).toBe('app');
    expect(alternatingPair('app', '_b').next).toBe('app_b');
  });

  it('refuses a clone name over 63 bytes, counting bytes rather than characters', () => {
    expect(alternatingPair('u'.repeat(57), '_clone').clone).toHaveLength(63);
    expect(() => alternatingPair('u'.repeat(58), '_clone')).toThrow(CloneNameError);
    // 29 two-byte characters: 58 bytes, 64 with the suffix.
    const error = (() => {
      try {
        alternatingPair('é'.repeat(29), '_clone');
      } catch (caught) {
        return caught as CloneNameError;
      }
    })();
    expect(error).toBeInstanceOf(CloneNameError);
    expect(error?.problem).toBe('too-long');
    expect(error?.message).toContain('(64 bytes)');
  });

  it('refuses on CockroachDB a clone name it would fold', () => {
    expect(() => alternatingPair('App', '_clone', 'cockroachdb')).toThrow(
      /^Clone name refused: App_clone \(9 bytes\) is not a name CockroachDB keeps as written/,
    );
    expect(alternatingPair('App', '_clone', 'postgres').clone).toBe('App_clone');
  });
});
