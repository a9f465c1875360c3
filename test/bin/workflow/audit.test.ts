import { describe, expect, it } from 'vitest';
import { storedPasswordsLine } from '../../../bin/workflow/audit.js';
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
