/**
 * `npm run audit -- --secret-id <id>`: a read-only report of where a
 * cluster stands on strict credential isolation (bin/workflow/audit.ts):
 * one line per check and per login user, PASS/WARN/FAIL/SKIP with the fix,
 * which checks were skipped for lack of privilege, and the phase reached.
 *
 * Options:
 *   --secret-id <id>             the secret to log in with (a read-only role will do;
 *                                what it may not read is reported as SKIP)
 *   --strict-hba-since <time>    when strict HBA was put in place (ISO 8601), if known
 *   --mark-phase2                record now as that time, as a tag on --secret-id's
 *                                secret (needs secretsmanager:TagResource; refused
 *                                unless phases 1 and 2 hold)
 *   --json, --region, --endpoint-url
 *
 * It needs: VIEWCLUSTERSETTING (CockroachDB settings and HBA); admin, or
 * VIEWSYSTEMTABLE on v23.1.11+, for system.users (bcrypt users); on
 * PostgreSQL a superuser for pg_hba_file_rules and pg_authid; and
 * secretsmanager:ListSecrets and DescribeSecret. Exit 0 when nothing
 * fails, 1 otherwise, 64 bad usage.
 */
import { PgConnector } from '../lambda/adapters/database.js';
import { configFromEnv } from '../lambda/config.js';
import { type AuditReport, audit } from './workflow/audit.js';
import {
  AWS_OPTIONS,
  EXIT,
  parseOptions,
  runCommand,
  secretsClient,
  UsageError,
} from './workflow/common.js';
import { logsClient } from './workflow/rotation.js';

const USAGE =
  'npm run audit -- --secret-id <id> [--strict-hba-since <ISO time>] [--mark-phase2] [--json] [--region <r>] [--endpoint-url <url>]';

const MARK = { pass: 'PASS', warn: 'WARN', fail: 'FAIL', skip: 'SKIP' } as const;

const NEXT = [
  'phase 1: turn on pre-hashed passwords and SCRAM for new passwords (the FAIL lines above)',
  'phase 2: allow only scram-sha-256 (or certificates) in HBA, then run audit --mark-phase2',
  'phase 3: rotate every login user after strict HBA: npm run adopt -- --all-login-users',
  'strict credential isolation holds; keep rotating',
] as const;

async function main(): Promise<number> {
  const values = parseOptions(process.argv.slice(2), {
    ...AWS_OPTIONS,
    'secret-id': { type: 'string' },
    'strict-hba-since': { type: 'string' },
    'mark-phase2': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  });
  const secretId = values['secret-id'];
  if (!secretId) throw new UsageError('--secret-id is required');
  let since: Date | undefined;
  if (values['strict-hba-since'] !== undefined) {
    since = new Date(values['strict-hba-since']);
    if (Number.isNaN(since.getTime())) {
      throw new UsageError('--strict-hba-since takes an ISO 8601 time, e.g. 2026-11-01T12:00:00Z');
    }
  }
  if (since !== undefined && values['mark-phase2']) {
    throw new UsageError('give --strict-hba-since or --mark-phase2, not both');
  }
  const config = configFromEnv(process.env);
  const secrets = secretsClient(values);
  const logs = logsClient(values);
  const say = (line: string) => process.stdout.write(`${line}\n`);
  let report: AuditReport;
  try {
    report = await audit(
      { secretId, strictHbaSince: since, markPhase2: values['mark-phase2'] === true },
      { secrets, logs, database: new PgConnector(), config, out: say },
    );
  } finally {
    secrets.destroy();
    logs.destroy();
  }
  const width = Math.max(...report.results.map((r) => r.check.length));
  for (const r of report.results) {
    say(`${MARK[r.status]}  ${r.check.padEnd(width)}  ${r.detail}`);
    if (r.fix && r.status !== 'pass') say(`      ${' '.repeat(width)}  fix: ${r.fix}`);
  }
  const skipped = report.results.filter((r) => r.status === 'skip');
  if (skipped.length > 0) {
    say(`Skipped for lack of privilege: ${skipped.map((r) => r.check).join(', ')}.`);
  }
  say(
    `Phase ${report.phase} of 3 complete on ${report.engine}${report.phaseKnown ? '' : ' (at least: skipped checks hide the next)'}. Next: ${NEXT[report.phase]}.`,
  );
  const failed = report.results.some((r) => r.status === 'fail');
  if (values.json) say(JSON.stringify({ ok: !failed, ...report }));
  return failed ? EXIT.failed : EXIT.ok;
}

runCommand('audit', USAGE, main);
