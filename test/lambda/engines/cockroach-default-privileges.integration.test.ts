/**
 * What alternating mode's clone hands its original on CockroachDB
 * (cockroachEngine.makeCloneActAsOriginal), through the protocol double at
 * two releases: default privileges for tables, sequences, types and schemas
 * everywhere, and for functions where ALTER DEFAULT PRIVILEGES takes
 * FUNCTIONS (pkg/sql/privilege/target_object_type.go; v22.1's grammar,
 * per its ALTER DEFAULT PRIVILEGES docs, has the first four only).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DatabaseSession, PgConnector } from '../../../lambda/adapters/database.js';
import { createScramVerifier } from '../../../lambda/core/scram.js';
import { cockroachEngine } from '../../../lambda/engines/cockroachdb.js';
import { DEFAULT_VERSION } from '../../../local/cockroach/behaviours.js';
import { type CockroachDouble, startCockroachDouble } from '../../../local/cockroach/double.js';
import { type LocalPostgres, startPostgres } from '../../../local/postgres.js';
import { CLUSTER_COST } from '../../fixtures/cockroach.js';

const limits = { connectTimeoutMs: 5_000, statementTimeoutMs: 5_000, maxScramIterations: 0 };
const V22_1 =
  'CockroachDB CCL v22.1.22 (x86_64-pc-linux-gnu, built 2023/08/14 00:00:00, go1.19.10)';

let postgres: LocalPostgres;
const doubles: CockroachDouble[] = [];

beforeAll(async () => {
  postgres = await startPostgres();
});

afterAll(async () => {
  for (const crdb of doubles) await crdb.stop();
  await postgres?.stop();
});

/** The default privileges `creator` set in the double's database, as pg_default_acl object kinds. */
async function defaultKinds(crdb: CockroachDouble, creator: string): Promise<string[]> {
  const c = await postgres.connect(postgres.admin.user, postgres.admin.password, crdb.database);
  try {
    const { rows } = await c.query<{ kind: string }>(
      `SELECT d.defaclobjtype::text AS kind FROM pg_default_acl d
         JOIN pg_roles r ON r.oid = d.defaclrole WHERE r.rolname = $1`,
      [creator],
    );
    return rows.map((r) => r.kind).sort();
  } finally {
    await c.end();
  }
}

async function cloneHandsOver(version: string): Promise<string[]> {
  const crdb = await startCockroachDouble({ postgres, version });
  doubles.push(crdb);
  const tag = randomBytes(3).toString('hex');
  const [original, clone] = [`orig_${tag}`, `orig_${tag}_clone`];
  const secret = randomBytes(18).toString('base64url');
  await postgres.withAdmin((c) => c.query(`CREATE ROLE ${original} NOLOGIN`));
  await postgres.createUser(clone, createScramVerifier(secret, { iterations: CLUSTER_COST }));
  const asClone = (): Promise<DatabaseSession> =>
    new PgConnector().login(
      {
        host: crdb.host,
        port: crdb.port,
        database: crdb.database,
        username: clone,
        password: secret,
        ca: crdb.caPem,
      },
      limits,
    );
  const admin = await asClone();
  try {
    await cockroachEngine.makeCloneActAsOriginal(admin, asClone, { original, clone });
  } finally {
    await admin.close();
  }
  return defaultKinds(crdb, clone);
}

describe('the clone hands its original ALL on what it creates', () => {
  it('covers tables, sequences, types, schemas and functions on a release with FUNCTIONS', async () => {
    expect(DEFAULT_VERSION).not.toContain('v22.1');
    expect(await cloneHandsOver(DEFAULT_VERSION)).toEqual(['S', 'T', 'f', 'n', 'r']);
  });

  it('covers the four others on v22.1, whose grammar refuses FUNCTIONS (and which has no user-defined functions), without failing', async () => {
    expect(await cloneHandsOver(V22_1)).toEqual(['S', 'T', 'n', 'r']);
  });
});
