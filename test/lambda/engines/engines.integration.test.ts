/**
 * The engine seam against real servers: PostgreSQL, and CockroachDB through
 * the protocol double. What each engine reads about roles, and the statements
 * it runs, are checked by their effect (who can log in, who is a member).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DatabaseSession,
  type LoginTarget,
  PgConnector,
} from '../../../lambda/adapters/database.js';
import { createScramVerifier } from '../../../lambda/core/scram.js';
import { cockroachEngine } from '../../../lambda/engines/cockroachdb.js';
import { engineOf } from '../../../lambda/engines/detect.js';
import type { Engine } from '../../../lambda/engines/engine.js';
import { postgresEngine } from '../../../lambda/engines/postgres.js';
import { WORKFLOW_STATEMENTS } from '../../../lambda/engines/workflow.js';
import { AuthenticationFailedError, ScramVerifierError } from '../../../lambda/errors.js';
import { type CockroachDouble, startCockroachDouble } from '../../../local/cockroach/double.js';
import { type LocalPostgres, startPostgres } from '../../../local/postgres.js';

const limits = { connectTimeoutMs: 5_000, statementTimeoutMs: 5_000, maxScramIterations: 0 };
const ADMIN = 'engine_admin';
const ADMIN_PASSWORD = randomBytes(18).toString('base64url');

let postgres: LocalPostgres;
let crdb: CockroachDouble;

beforeAll(async () => {
  postgres = await startPostgres();
  // One admin for both servers (the double fronts the same PostgreSQL):
  // CREATEROLE, and on CockroachDB CREATELOGIN (CREATE USER ... PASSWORD
  // needs it), as the least-privilege rotation admin has.
  crdb = await startCockroachDouble({ postgres, systemPrivileges: { [ADMIN]: ['CREATELOGIN'] } });
  await postgres.createUser(ADMIN, createScramVerifier(ADMIN_PASSWORD, { iterations: 10_610 }), {
    createRole: true,
  });
  // CockroachDB: CREATE USER with a password or LOGIN also needs CREATELOGIN.
  crdb.privileges.grant(ADMIN, 'CREATELOGIN');
});

afterAll(async () => {
  await crdb?.stop();
  await postgres?.stop();
});

interface Server {
  readonly name: string;
  readonly engine: Engine;
  readonly iterations: number;
  target(username: string, password: string): LoginTarget;
}

const servers: Server[] = [
  {
    name: 'PostgreSQL',
    engine: postgresEngine,
    iterations: 4096,
    target: (username, password) => ({
      host: postgres.host,
      port: postgres.port,
      database: 'postgres',
      username,
      password,
      ca: postgres.caPem,
    }),
  },
  {
    name: 'CockroachDB (the double)',
    engine: cockroachEngine,
    iterations: 10_610,
    target: (username, password) => ({
      host: crdb.host,
      port: crdb.port,
      database: crdb.database,
      username,
      password,
      ca: crdb.caPem,
    }),
  },
];

async function withSession<T>(
  target: LoginTarget,
  fn: (session: DatabaseSession) => Promise<T>,
): Promise<T> {
  const session = await new PgConnector().login(target, limits);
  try {
    return await fn(session);
  } finally {
    await session.close();
  }
}

const name = (prefix: string) => `${prefix}_${randomBytes(4).toString('hex')}`;

describe.each(servers)('the $name engine', (server) => {
  const asAdmin = <T>(fn: (session: DatabaseSession) => Promise<T>) =>
    withSession(server.target(ADMIN, ADMIN_PASSWORD), fn);

  it('is the engine detected from the server', async () => {
    await asAdmin(async (session) =>
      expect((await engineOf(session)).name).toBe(server.engine.name),
    );
  });

  it('creates a role that logs in by SCRAM with the password behind the verifier', async () => {
    const role = name('created');
    const password = randomBytes(18).toString('base64url');
    await asAdmin((session) =>
      WORKFLOW_STATEMENTS[server.engine.name].createLoginRole(
        session,
        role,
        createScramVerifier(password, { iterations: server.iterations }),
      ),
    );
    await withSession(server.target(role, password), async (session) => {
      expect(await session.identity()).toEqual({ sessionUser: role, currentUser: role });
    });
    await expect(
      withSession(server.target(role, `${password}x`), async () => undefined),
    ).rejects.toBeInstanceOf(AuthenticationFailedError);
  });

  it('refuses to create a role with a string that is not a verifier, sending nothing', async () => {
    const role = name('refused');
    await asAdmin(async (session) => {
      await expect(
        WORKFLOW_STATEMENTS[server.engine.name].createLoginRole(
          session,
          role,
          'cleartext-password',
        ),
      ).rejects.toBeInstanceOf(ScramVerifierError);
      expect(await server.engine.roleFacts(session, role, undefined)).toBeUndefined();
    });
  });

  it('grants a role, and roleFacts reports the membership and privileged memberships', async () => {
    const group = name('group');
    const member = name('member');
    const verifier = () =>
      createScramVerifier(randomBytes(12).toString('hex'), { iterations: server.iterations });
    await asAdmin(async (session) => {
      // Roles the admin created itself, so it may grant them on PostgreSQL
      // 16+; on CockroachDB v23.2+ CREATEROLE alone grants any non-admin role.
      await WORKFLOW_STATEMENTS[server.engine.name].createLoginRole(session, group, verifier());
      await WORKFLOW_STATEMENTS[server.engine.name].createLoginRole(session, member, verifier());
      expect(await server.engine.roleFacts(session, member, group)).toEqual({
        name: member,
        attributes: [],
        privilegedRoles: [],
        memberOfChanger: false,
      });
      await server.engine.grantRole(session, group, member);
      expect(await server.engine.roleFacts(session, member, group)).toMatchObject({
        memberOfChanger: true,
        privilegedRoles: [],
      });
    });
    // Membership in a CREATEROLE role, even through another role, is privileged.
    const powerful = name('powerful');
    await postgres.withAdmin(async (c) => {
      await c.query(`CREATE ROLE ${c.escapeIdentifier(powerful)} CREATEROLE`);
      await c.query(`GRANT ${c.escapeIdentifier(powerful)} TO ${c.escapeIdentifier(group)}`);
    });
    await asAdmin(async (session) => {
      expect(await server.engine.roleFacts(session, member, undefined)).toMatchObject({
        privilegedRoles: [powerful],
        memberOfChanger: false,
      });
    });
  });

  it('finds no role for a name that differs only in case', async () => {
    await asAdmin(async (session) => {
      expect(
        await server.engine.roleFacts(session, ADMIN.toUpperCase(), undefined),
      ).toBeUndefined();
    });
  });

  it('lists login roles and direct memberships, and drops a role it created', async () => {
    const group = name('listed_group');
    const member = name('listed_member');
    const verifier = () =>
      createScramVerifier(randomBytes(12).toString('hex'), { iterations: server.iterations });
    await asAdmin(async (session) => {
      await WORKFLOW_STATEMENTS[server.engine.name].createLoginRole(session, member, verifier());
      await session.execute(`CREATE ROLE ${group}`);
      await server.engine.grantRole(session, group, member);
      const logins = await WORKFLOW_STATEMENTS[server.engine.name].loginRoles(session);
      expect(logins).toContain(member);
      expect(logins).not.toContain(group);
      expect(logins).not.toContain('admin');
      expect(await WORKFLOW_STATEMENTS[server.engine.name].memberships(session, member)).toEqual([
        group,
      ]);
      await WORKFLOW_STATEMENTS[server.engine.name].dropRole(session, member);
      expect(await server.engine.roleFacts(session, member, undefined)).toBeUndefined();
    });
  });

  it('reads stored hashes only where the session may (superuser or admin), else says it cannot', async () => {
    const user = name('hashed');
    const sent = createScramVerifier('x'.repeat(20), { iterations: server.iterations });
    await asAdmin(async (session) => {
      await WORKFLOW_STATEMENTS[server.engine.name].createLoginRole(session, user, sent);
      expect(await WORKFLOW_STATEMENTS[server.engine.name].storedHashes(session)).toBeUndefined();
    });
    const grant = server.engine.name === 'postgres' ? 'SUPERUSER' : 'admin';
    await postgres.withAdmin((c) =>
      c.query(grant === 'SUPERUSER' ? `ALTER ROLE ${ADMIN} SUPERUSER` : `GRANT admin TO ${ADMIN}`),
    );
    try {
      await asAdmin(async (session) => {
        expect(
          (await WORKFLOW_STATEMENTS[server.engine.name].storedHashes(session))?.get(user),
        ).toBe(sent);
      });
    } finally {
      await postgres.withAdmin((c) =>
        c.query(
          grant === 'SUPERUSER' ? `ALTER ROLE ${ADMIN} NOSUPERUSER` : `REVOKE admin FROM ${ADMIN}`,
        ),
      );
    }
  });
});

describe('PostgreSQL password change blockers', () => {
  it('names the missing ADMIN OPTION (PostgreSQL 16+) with the GRANT that fixes it', async () => {
    const foreign = name('foreign');
    await postgres.createUser(foreign, createScramVerifier('y'.repeat(20)));
    const session = await new PgConnector().login(
      {
        host: postgres.host,
        port: postgres.port,
        database: 'postgres',
        username: ADMIN,
        password: ADMIN_PASSWORD,
        ca: postgres.caPem,
      },
      limits,
    );
    try {
      expect(
        await WORKFLOW_STATEMENTS.postgres.passwordChangeBlocker(session, foreign, ADMIN),
      ).toEqual({
        reason: `${ADMIN} has CREATEROLE but not ADMIN OPTION on ${foreign} (PostgreSQL 16+ needs both)`,
        fix: `GRANT "${foreign}" TO "${ADMIN}" WITH ADMIN OPTION`,
      });
      const own = name('own');
      await WORKFLOW_STATEMENTS.postgres.createLoginRole(
        session,
        own,
        createScramVerifier('z'.repeat(20)),
      );
      expect(
        await WORKFLOW_STATEMENTS.postgres.passwordChangeBlocker(session, own, ADMIN),
      ).toBeUndefined();
    } finally {
      await session.close();
    }
  });
});
