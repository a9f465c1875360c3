/**
 * `scram-rotator`: the one command operators install with the construct
 * (package.json `bin`, built into dist/cli.mjs), with a subcommand per task
 * against a real account: rotate, doctor, hash, provision, adopt, audit.
 * In a checkout, `npm run <task>` runs this same program.
 *
 * Each subcommand is a file in bin/cli/; the work itself is in
 * bin/workflow/, bin/doctor/ and the function's own modules.
 *
 * @module
 */
import { registerAdopt } from './cli/adopt.js';
import { registerAudit } from './cli/audit.js';
import { registerDoctor } from './cli/doctor.js';
import { registerHash } from './cli/hash.js';
import { newCommand, runProgram } from './cli/program.js';
import { registerProvision } from './cli/provision.js';
import { registerRotate } from './cli/rotate.js';

const program = newCommand(
  'scram-rotator',
  'AWS Secrets Manager rotation for PostgreSQL and CockroachDB, by SCRAM verifiers: the tools operators run against an account',
);
for (const register of [
  registerDoctor,
  registerRotate,
  registerHash,
  registerProvision,
  registerAdopt,
  registerAudit,
]) {
  register(program);
}

await runProgram(program);
