import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('the integration tests on a machine without psql and the AWS CLI', () => {
  it('stop before any test with one line saying what to install', () => {
    // A PATH with node alone: no psql, no aws.
    const bin = mkdtempSync(join(tmpdir(), 'scram-rotator-path-'));
    try {
      symlinkSync(process.execPath, join(bin, 'node'));
      const result = spawnSync(
        process.execPath,
        [
          join(ROOT, 'node_modules/vitest/vitest.mjs'),
          'run',
          '--project',
          'integration',
          'test/local/postgres.integration.test.ts',
        ],
        {
          cwd: ROOT,
          encoding: 'utf8',
          env: { ...process.env, PATH: bin, SCRAM_ROTATOR_INSTALL_CLIENTS: '0', CI: 'true' },
          timeout: 120_000,
        },
      );
      const output = `${result.stdout}${result.stderr}`;
      expect(result.status).not.toBe(0);
      expect(output).toContain(
        'scram-rotator tests need psql and aws on PATH. Install psql: apt-get install postgresql-client (Debian/Ubuntu)',
      );
      expect(output).toContain(
        'aws: apt-get install awscli (Debian/Ubuntu), or brew install awscli',
      );
      // Nothing ran.
      expect(output).not.toMatch(/Tests\s+\d+ passed/);
      expect(output).not.toMatch(/^\s+at /m);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  it('as root with apt-get, install postgresql-client and awscli first, then run', () => {
    // apt-get is a stand-in that records its arguments and "installs" two
    // stand-in clients; the real one would take a minute and the network.
    const bin = mkdtempSync(join(tmpdir(), 'scram-rotator-apt-'));
    try {
      symlinkSync(process.execPath, join(bin, 'node'));
      const log = join(bin, 'apt.log');
      writeFileSync(
        join(bin, 'apt-get'),
        [
          '#!/bin/sh',
          `echo "$@" >> ${log}`,
          'case "$1" in install)',
          `  for c in psql aws; do printf '#!/bin/sh\nexit 0\n' > ${bin}/$c; /bin/chmod +x ${bin}/$c; done;;`,
          'esac',
        ].join('\n'),
      );
      chmodSync(join(bin, 'apt-get'), 0o755);
      const result = spawnSync(
        process.execPath,
        [
          join(ROOT, 'node_modules/vitest/vitest.mjs'),
          'run',
          '--project',
          'integration',
          'test/local/secrets-manager/logs.integration.test.ts',
        ],
        {
          cwd: ROOT,
          encoding: 'utf8',
          env: { ...process.env, PATH: bin, CI: 'true' },
          timeout: 120_000,
        },
      );
      const output = `${result.stdout}${result.stderr}`;
      if (process.getuid?.() === 0) {
        expect(output).toContain(
          'scram-rotator tests: psql and aws not found; installing postgresql-client awscli with apt-get',
        );
        expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual([
          '--version',
          'update -qq',
          'install -y -qq --no-install-recommends postgresql-client awscli',
        ]);
        expect(result.status).toBe(0);
      } else {
        // Not root: no install is tried; the run stops with what to install.
        expect(output).toContain('scram-rotator tests need psql and aws on PATH');
        expect(result.status).not.toBe(0);
      }
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });
});
