/**
 * `scram-rotator audit --secret-id <id>`: a read-only report of where a
 * cluster stands on strict credential isolation (bin/workflow/audit.ts):
 * one line per check and per login user, PASS/WARN/FAIL with the fix,
 * which checks failed because this role cannot see the fact (a value it may
 * not read, or one shown redacted), and the phase reached.
 *
 * It needs: VIEWCLUSTERSETTING (CockroachDB settings; the HBA setting too,
 * unless server.redact_sensitive_settings.enabled is on: then admin or
 * MODIFYCLUSTERSETTING); admin, or
 * VIEWSYSTEMTABLE on v23.1.11+, for system.users (bcrypt users); on
 * PostgreSQL a superuser for pg_hba_file_rules and pg_authid; and
 * secretsmanager:ListSecrets and DescribeSecret. Exit 0 when nothing
 * fails, 1 otherwise, 64 bad usage.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { PgConnector } from '../../lambda/adapters/database.js';
import { configFromEnv } from '../../lambda/config.js';
import { type AuditReport, audit, parseIsoTime } from '../workflow/audit.js';
import { logsClient, preflight, secretsClient } from './aws.js';
import { EXIT } from './exit-codes.js';
import { type AwsOptions, OPTIONS, withAwsOptions } from './options.js';
import { action, configure, required } from './program.js';
import { progressLine } from './progress.js';

const MARK = { pass: 'PASS', warn: 'WARN', fail: 'FAIL' } as const;

const NEXT = [
  'phase 1: turn on pre-hashed passwords and SCRAM for new passwords, and give every user a SCRAM verifier (scram-rotator adopt)',
  'phase 2: once no user is stored as bcrypt, allow only scram-sha-256 (or certificates) in HBA, then run audit --mark-phase2',
  'phase 3: rotate every login user after strict HBA, privileged roles and the rotation admin included',
  'strict credential isolation holds; keep rotating',
] as const;

interface AuditOptions extends AwsOptions {
  readonly secretId: string;
  readonly strictHbaSince?: Date;
  readonly markPhase2?: boolean;
  readonly json?: boolean;
}

/** An ISO 8601 time. */
function parseTime(text: string): Date {
  const time = parseIsoTime(text);
  if (time === undefined) {
    throw new InvalidArgumentError(
      'takes an ISO 8601 date and time with its offset, e.g. 2026-11-01T12:00:00Z',
    );
  }
  return time;
}

async function run(options: AuditOptions): Promise<number> {
  const config = configFromEnv(process.env);
  const secrets = secretsClient(options);
  const logs = logsClient(options);
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const progress = progressLine('audit', { quiet: options.json === true });
  let report: AuditReport;
  try {
    await preflight(secrets, 'audit');
    report = await audit(
      {
        secretId: options.secretId,
        strictHbaSince: options.strictHbaSince,
        markPhase2: options.markPhase2 === true,
      },
      { secrets, logs, database: new PgConnector(), config, out: progress.say, progress },
    );
  } finally {
    progress.done();
    secrets.destroy();
    logs.destroy();
  }
  const width = Math.max(...report.results.map((r) => r.check.length));
  for (const r of report.results) {
    say(`${MARK[r.status]}  ${r.check.padEnd(width)}  ${r.detail}`);
    if (r.fix && r.status !== 'pass') say(`      ${' '.repeat(width)}  fix: ${r.fix}`);
  }
  const unknown = report.results.filter((r) => r.unknown);
  if (unknown.length > 0) {
    say(`Unknown to this role, so failed: ${unknown.map((r) => r.check).join(', ')}.`);
  }
  say(
    `Phase ${report.phase} of 3 complete on ${report.engine}${report.phaseKnown ? '' : ' (at least: unknown facts hide the next)'}. Next: ${NEXT[report.phase]}.`,
  );
  const failed = report.results.some((r) => r.status === 'fail');
  if (options.json) say(JSON.stringify({ ok: !failed, ...report }));
  return failed ? EXIT.failed : EXIT.ok;
}

/** Adds `audit` to the program. */
export function registerAudit(program: Command): void {
  const command = configure(
    program.command('audit'),
    'read-only report of where a cluster stands on strict credential isolation: one line per check and per login user, and the phase reached',
  );
  command
    .addOption(required(OPTIONS.secretId()))
    .addOption(
      new Option(
        '--strict-hba-since <time>',
        'when strict HBA was put in place (ISO 8601), if known',
      ).argParser(parseTime),
    )
    .addOption(
      new Option(
        '--mark-phase2',
        "record now as that time, as a tag on --secret-id's secret (needs secretsmanager:TagResource; refused unless phases 1 and 2 hold)",
      ).conflicts('strictHbaSince'),
    )
    .addOption(OPTIONS.json());
  withAwsOptions(command).action(action(command, run));
}
