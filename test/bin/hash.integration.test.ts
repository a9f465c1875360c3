import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertVerifierAcceptable } from '../../lambda/core/scram.js';
import { type CockroachDouble, startCockroachDouble } from '../../local/cockroach/double.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { createCockroachUser } from '../fixtures/cockroach.js';
import { LeakWatch } from '../fixtures/leaks.js';
import { runCli } from './workflow.js';

/**
 * `npm run hash`: its output, given to CREATE USER in an operator's own SQL
 * session, lets libpq (psql, sslmode=verify-full) log in by SCRAM, on the
 * local PostgreSQL and through the CockroachDB double.
 */

let stack: LocalStack;
let crdb: CockroachDouble;
let dir: string;
let crdbCaFile: string;

beforeAll(async () => {
  stack = await startLocalStack();
  crdb = await startCockroachDouble({ postgres: stack.postgres });
  dir = await mkdtemp(join(tmpdir(), 'hash-test-'));
  crdbCaFile = join(dir, 'crdb-ca.pem');
  await writeFile(crdbCaFile, crdb.caPem);
});

afterAll(async () => {
  await crdb?.stop();
  await stack?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const name = (prefix: string) => `${prefix}_${randomBytes(3).toString('hex')}`;

/** psql (libpq) with verify-full TLS; resolves to current_user, or rejects with stderr. */
function psql(conninfo: Record<string, string | number>, password: string): Promise<string> {
  const text = Object.entries(conninfo)
    .map(([key, value]) => `${key}=${value}`)
    .join(' ');
  return new Promise((resolve, reject) => {
    execFile(
      'psql',
      [`${text} sslmode=verify-full`, '-XAtc', 'SELECT current_user'],
      { env: { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: '10' }, timeout: 30_000 },
      (error, stdout, stderr) => (error ? reject(new Error(stderr)) : resolve(stdout.trim())),
    );
  });
}

const hash = (args: string[], input?: string) =>
  runCli(stack, 'hash', args, input === undefined ? {} : { input });

describe('npm run hash', () => {
  it('prints only a verifier that logs in through psql on PostgreSQL (SCRAM with channel binding)', async () => {
    const password = randomBytes(18).toString('base64url');
    const run = await hash([], `${password}\n`);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const verifier = lines[0] ?? '';
    expect(verifier).toMatch(/^SCRAM-SHA-256\$4096:/);
    assertVerifierAcceptable(verifier, 'postgres');
    assertVerifierAcceptable(verifier, 'cockroachdb');
    const user = name('hashed_pg');
    await stack.postgres.withAdmin((c) =>
      c.query(`CREATE USER ${user} PASSWORD ${c.escapeLiteral(verifier)}`),
    );
    const conninfo = {
      host: stack.postgres.host,
      port: stack.postgres.port,
      dbname: 'postgres',
      user,
      sslrootcert: stack.postgres.caFile,
      channel_binding: 'require',
    };
    expect(await psql(conninfo, password)).toBe(user);
    await expect(psql(conninfo, `${password}x`)).rejects.toThrow(/password authentication failed/);
    const watch = new LeakWatch();
    watch.text(run.stdout.replace(verifier, '') + run.stderr);
    watch.secret(password);
    watch.secret(verifier);
    expect(watch.leaks()).toEqual([]);
    // The server never saw the password: not even in its statement log.
    expect(await stack.postgres.readServerLog()).not.toContain(password);
  });

  it("reads CockroachDB's cost with --from-secret, and psql logs in through the double", async () => {
    const admin = await createCockroachUser(crdb, stack.client, {
      createRole: true,
      grants: ['CREATELOGIN', 'VIEWCLUSTERSETTING'],
    });
    const password = randomBytes(18).toString('base64url');
    const run = await hash(['--from-secret', admin.secretArn], password);
    expect(run.code, run.stderr).toBe(0);
    const verifier = run.stdout.trim();
    expect(verifier).toMatch(/^SCRAM-SHA-256\$10610:/);
    const user = name('hashed_crdb');
    const client = await crdb.connect(admin.username, admin.password);
    try {
      await client.query(`CREATE USER ${user} WITH PASSWORD ${client.escapeLiteral(verifier)}`);
    } finally {
      await client.end();
    }
    expect(
      await psql(
        {
          host: crdb.host,
          port: crdb.port,
          dbname: crdb.database,
          user,
          sslrootcert: crdbCaFile,
        },
        password,
      ),
    ).toBe(user);
  });

  it('generates a password with --generate, printed once before its verifier', async () => {
    const run = await hash(['--generate', '--iterations', '10610'], '');
    expect(run.code, run.stderr).toBe(0);
    const [password = '', verifier = '', ...rest] = run.stdout.trim().split('\n');
    expect(rest).toEqual([]);
    expect(password).toHaveLength(32);
    expect(verifier).toMatch(/^SCRAM-SHA-256\$10610:/);
    const user = name('generated');
    await stack.postgres.withAdmin((c) =>
      c.query(`CREATE USER ${user} PASSWORD ${c.escapeLiteral(verifier)}`),
    );
    expect(
      await psql(
        {
          host: stack.postgres.host,
          port: stack.postgres.port,
          dbname: 'postgres',
          user,
          sslrootcert: stack.postgres.caFile,
        },
        password,
      ),
    ).toBe(user);
  });

  it('refuses SASLprep-prohibited input, and passwords on the command line', async () => {
    const prohibited = await hash([], 'tab\there\n');
    expect(prohibited.code).toBe(1);
    expect(prohibited.stdout).toBe('');
    expect(prohibited.stderr).toMatch(
      /hash: PasswordPolicyError: Password policy violation: the password has characters SASLprep prohibits/,
    );
    const twoLines = await hash([], 'one\ntwo\n');
    expect(twoLines.stderr).toMatch(/more than one line/);
    const changed = await hash([], 'pass\u00A0word');
    expect(changed.code).toBe(1);
    expect(changed.stderr).toMatch(/SASLprep would change this password/);
    const argv = await hash(['--password', 'hunter2hunter2']);
    expect(argv.code).toBe(64);
    expect(argv.stderr).toMatch(/unknown option '--password'/);
    expect(argv.stderr).not.toContain('hunter2hunter2');
  });
});
