import { describe, expect, it } from 'vitest';
import {
  assertFitsDeadline,
  assertIterationsWithinBound,
  assertTargetRole,
  type RoleFacts,
  type TargetRoleInput,
  targetRoleProblem,
} from '../../../lambda/core/confinement.js';
import { DeadlineError, IterationLimitError, TargetRoleError } from '../../../lambda/errors.js';

const plain: RoleFacts = {
  name: 'app_user',
  attributes: [],
  privilegedRoles: [],
  memberOfChanger: false,
};

const input = (over: Partial<TargetRoleInput> = {}): TargetRoleInput => ({
  role: 'app_user',
  storedName: 'app_user',
  facts: plain,
  changer: 'rot_admin',
  allowPrivileged: false,
  ...over,
});

describe('targetRoleProblem', () => {
  it('finds nothing wrong with an existing, unprivileged role that is not the admin', () => {
    expect(targetRoleProblem(input())).toBeUndefined();
    expect(targetRoleProblem(input({ changer: undefined }))).toBeUndefined();
  });

  it.each([
    ['a name the server would fold', { storedName: 'app_user2' }, 'folded'],
    ['no such role', { facts: undefined }, 'missing'],
    ['facts about another name', { facts: { ...plain, name: 'app_use' } }, 'missing'],
    [
      'the admin itself',
      { role: 'rot_admin', storedName: 'rot_admin', facts: { ...plain, name: 'rot_admin' } },
      'changer',
    ],
    ['a member of the admin', { facts: { ...plain, memberOfChanger: true } }, 'member-of-changer'],
    ['a privileged role', { facts: { ...plain, attributes: ['CREATEROLE'] } }, 'privileged'],
    [
      'a member of a privileged role',
      { facts: { ...plain, privilegedRoles: ['admin'] } },
      'member-of-privileged',
    ],
  ] as const)('refuses %s', (_, over, problem) => {
    expect(targetRoleProblem(input(over as Partial<TargetRoleInput>))?.problem).toBe(problem);
  });

  it('names a superuser as privileged rather than as a member of the admin', () => {
    const superuser = { ...plain, attributes: ['SUPERUSER'], memberOfChanger: true };
    expect(targetRoleProblem(input({ facts: superuser }))).toEqual({
      problem: 'privileged',
      privileges: ['SUPERUSER'],
    });
  });

  it('lets ALLOW_PRIVILEGED_TARGET through privileges, but never the admin or its members', () => {
    const allow = { allowPrivileged: true };
    const privileged = { ...plain, attributes: ['SUPERUSER'], privilegedRoles: ['admin'] };
    expect(targetRoleProblem(input({ ...allow, facts: privileged }))).toBeUndefined();
    expect(
      targetRoleProblem(input({ ...allow, facts: { ...plain, memberOfChanger: true } }))?.problem,
    ).toBe('member-of-changer');
    expect(
      targetRoleProblem(
        input({
          ...allow,
          role: 'rot_admin',
          storedName: 'rot_admin',
          facts: { ...plain, name: 'rot_admin' },
        }),
      )?.problem,
    ).toBe('changer');
  });

  it('does not compare with a changer in single-user mode (the role changes itself)', () => {
    expect(
      targetRoleProblem(input({ changer: undefined, facts: { ...plain, memberOfChanger: true } })),
    ).toBeUndefined();
  });
});

describe('assertTargetRole', () => {
  it('throws a TargetRoleError naming the role, the problem and the privileges', () => {
    let error: unknown;
    try {
      assertTargetRole(input({ facts: { ...plain, attributes: ['SUPERUSER', 'BYPASSRLS'] } }));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(TargetRoleError);
    expect(error).toMatchObject({
      role: 'app_user',
      problem: 'privileged',
      privileges: ['SUPERUSER', 'BYPASSRLS'],
    });
    expect((error as Error).message).toBe(
      'Target role refused: app_user holds a privileged attribute (SUPERUSER, BYPASSRLS); nothing was changed. ' +
        'rotate privileged roles by hand, or set ALLOW_PRIVILEGED_TARGET=true if this role is meant to be rotated by this function',
    );
  });
});

describe('assertIterationsWithinBound', () => {
  it('allows counts up to the bound and refuses one above, naming the source and the setting', () => {
    expect(() => assertIterationsWithinBound(100_000, 100_000, 'x')).not.toThrow();
    expect(() =>
      assertIterationsWithinBound(100_001, 100_000, "the server's scram_iterations"),
    ).toThrow(IterationLimitError);
    expect(() =>
      assertIterationsWithinBound(100_001, 100_000, "the server's scram_iterations"),
    ).toThrow(
      /^SCRAM iteration count refused: the server's scram_iterations asks for 100001 iterations, above SCRAM_MAX_ITERATIONS \(100000\)/,
    );
  });
});

describe('assertFitsDeadline', () => {
  it('refuses work whose doubled estimate does not fit the time left', () => {
    expect(() => assertFitsDeadline('PBKDF2', 100, 201)).not.toThrow();
    expect(() => assertFitsDeadline('PBKDF2', 100, 199)).toThrow(DeadlineError);
    expect(() => assertFitsDeadline('PBKDF2 over 9 iterations', 100, 10)).toThrow(
      /^Not enough time left: PBKDF2 over 9 iterations needs about 200 ms but 10 ms are left; it was not started/,
    );
  });
});
