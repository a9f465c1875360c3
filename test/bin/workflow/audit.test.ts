import { describe, expect, it } from 'vitest';
import { parseIsoTime, parseMark, storedPasswordsLine } from '../../../bin/workflow/audit.js';
import { createScramVerifier } from '../../../lambda/core/scram.js';

const SCRAM = createScramVerifier('correct horse battery staple', { iterations: 4096 });

describe('storedPasswordsLine', () => {
  it('passes only when every login user has a SCRAM verifier or no password', () => {
    const line = storedPasswordsLine(
      'cockroachdb',
      'rotator',
      ['app', 'reader'],
      new Map([
        ['app', SCRAM],
        ['reader', null],
      ]),
    );
    expect(line).toMatchObject({ status: 'pass', phase: 2 });
  });

  it('fails as unknown when a login user has no row in the hashes read, rather than reading it as no password', () => {
    // CockroachDB: CREATE ROLE legacy WITH LOGIN PASSWORD '...' stores a
    // crdb-bcrypt hash in a row whose isRole is true.
    const line = storedPasswordsLine(
      'cockroachdb',
      'rotator',
      ['app', 'legacy'],
      new Map([['app', SCRAM]]),
    );
    expect(line).toMatchObject({ status: 'fail', phase: 2, unknown: true });
    expect(line.detail).toMatch(/^unknown: no stored hash was read for legacy,/);
  });
});

describe('parseIsoTime', () => {
  it('reads a full ISO 8601 time with its offset', () => {
    expect(parseIsoTime('2026-11-01T12:00:00Z')?.toISOString()).toBe('2026-11-01T12:00:00.000Z');
    expect(parseIsoTime('2026-11-01T14:00+02:00')?.toISOString()).toBe('2026-11-01T12:00:00.000Z');
  });

  it('refuses what Date alone would read as a time long past, which would pass phase 3', () => {
    for (const text of [
      '1',
      '11',
      '2026',
      'March 7',
      '2026-11-01',
      '2026-11-01T12:00:00',
      '2026-13-45T99:99:99Z',
    ]) {
      expect(parseIsoTime(text)).toBeUndefined();
    }
    expect(parseMark('1 sha256:0123456789abcdef')).toBeUndefined();
    expect(parseMark('2026-11-01T12:00:00.000Z sha256:0123456789abcdef')?.since.toISOString()).toBe(
      '2026-11-01T12:00:00.000Z',
    );
  });
});
