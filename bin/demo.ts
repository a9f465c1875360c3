/**
 * `npm run demo`: one real rotation on the local stack, then the proofs.
 *
 * Starts PostgreSQL (verify-full TLS, SCRAM only) and the Secrets Manager
 * endpoint, creates a user and its secret, registers the rotation function,
 * calls RotateSecret and shows each step as it runs. Then it proves that the
 * new password logs in by SCRAM over verify-full, that the old one is
 * rejected, and that the new cleartext password is nowhere in the server log.
 *
 * Options:
 *   --json           print one JSON object as the last line of stdout
 *   --mode <m>       single-user (default) or admin (an admin secret in masterarn)
 *   --verbose        show the function's own JSON log lines
 *
 * Exit code 0 only when every proof holds.
 */

import { parseArgs } from 'node:util';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { PgConnector } from '../lambda/adapters/database.js';
import { parseScramVerifier } from '../lambda/core/scram.js';
import { parseDatabaseSecret } from '../lambda/core/secret.js';
import { AuthenticationFailedError } from '../lambda/errors.js';
import { Logger } from '../lambda/telemetry.js';
import { startLocalStack } from '../local/stack.js';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    mode: { type: 'string', default: 'single-user' },
    verbose: { type: 'boolean', default: false },
  },
});
const mode = values.mode === 'admin' ? 'admin' : 'single-user';
const say = (line: string) => process.stdout.write(`${line}\n`);

const started = performance.now();
if (!values.verbose) process.env.POWERTOOLS_METRICS_DISABLED = 'true';
const stack = await startLocalStack();
let exitCode = 1;
try {
  say(
    `PostgreSQL ${stack.postgres.host}:${stack.postgres.port} (TLS verify-full, SCRAM only); Secrets Manager ${stack.secretsManager.url}`,
  );
  const extraKeys: Record<string, unknown> = {};
  if (mode === 'admin') {
    const admin = await stack.createApplicationUser({
      username: 'rotation_admin',
      createRole: true,
    });
    extraKeys.masterarn = admin.secretArn;
    say(`admin secret ${admin.secretName} (role with CREATEROLE and ADMIN OPTION on the user)`);
  }
  // On PostgreSQL 16+ the admin needs ADMIN OPTION on the user, which it would
  // have had it created the user itself.
  const user = await stack.createApplicationUser({
    username: 'demo_app',
    extraKeys,
    ...(mode === 'admin' ? { managedBy: 'rotation_admin' } : {}),
  });
  say(`user secret ${user.secretName} -> role ${user.username} (${mode})`);

  const readCurrent = async () => {
    const out = await stack.client.send(new GetSecretValueCommand({ SecretId: user.secretArn }));
    return parseDatabaseSecret(out.SecretString ?? '', { label: 'AWSCURRENT' });
  };
  const before = await readCurrent();

  const lambdaArn = stack.registerRotationFunction({
    logger: new Logger({
      serviceName: 'scram-rotator',
      logLevel: values.verbose ? 'INFO' : 'SILENT',
    }),
  });
  stack.secretsManager.onInvocation((invocation) => {
    if (invocation.outcome === undefined) return;
    const mark = invocation.outcome === 'succeeded' ? 'ok  ' : 'FAIL';
    say(
      `  ${mark} ${invocation.step.padEnd(13)} ${String(invocation.durationMs).padStart(5)} ms${invocation.errorMessage ? `  ${invocation.errorMessage}` : ''}`,
    );
  });
  say('RotateSecret ...');
  const outcome = await stack.rotate(user.secretArn, lambdaArn, { timeoutMs: 60_000 });
  const steps = stack.secretsManager.invocations
    .filter((i) => i.secretArn === user.secretArn && i.outcome === 'succeeded')
    .map((i) => ({ step: i.step, ms: i.durationMs }));

  const after = await readCurrent();
  const connector = new PgConnector();
  const limits = { connectTimeoutMs: 5_000, statementTimeoutMs: 5_000, maxScramIterations: 0 };
  const target = (password: string) => ({
    host: after.host,
    port: after.port,
    database: after.dbname,
    username: after.username,
    password,
    ca: after.ca,
  });

  let newPasswordAccepted = false;
  let mechanism: string | undefined;
  try {
    const session = await connector.login(target(after.password), limits);
    newPasswordAccepted = (await session.currentUser()) === user.username;
    mechanism = session.mechanism;
    await session.close();
  } catch (error) {
    say(`new password login failed: ${(error as Error).message}`);
  }
  let oldPasswordRejected = false;
  try {
    const session = await connector.login(target(before.password), limits);
    await session.close();
  } catch (error) {
    oldPasswordRejected = error instanceof AuthenticationFailedError;
  }
  const serverLog = await stack.postgres.readServerLog();
  const cleartextInServerLog = serverLog.includes(after.password);
  const stored = await stack.postgres.storedPassword(user.username);
  const iterations = stored ? parseScramVerifier(stored).iterations : undefined;

  const ok =
    outcome.ok &&
    after.password !== before.password &&
    newPasswordAccepted &&
    oldPasswordRejected &&
    !cleartextInServerLog;
  const summary = {
    ok,
    engine: 'postgres',
    mode,
    steps,
    newPasswordAccepted,
    oldPasswordRejected,
    authMethod: mechanism ?? null,
    channelBinding: mechanism === 'SCRAM-SHA-256-PLUS',
    cleartextInServerLog,
    iterations: iterations ?? null,
    durationMs: Math.round(performance.now() - started),
  };
  say('');
  say(
    outcome.ok
      ? 'Rotation completed.'
      : `Rotation failed at ${outcome.failedStep}: ${outcome.errorMessage}`,
  );
  say(
    `  new password logs in (verify-full, ${mechanism ?? 'no login'}): ${newPasswordAccepted ? 'yes' : 'NO'}`,
  );
  say(`  old password rejected:                ${oldPasswordRejected ? 'yes' : 'NO'}`);
  say(
    `  new cleartext in PostgreSQL's log:    ${cleartextInServerLog ? 'YES' : 'no'} (log_statement=all)`,
  );
  say(`  stored verifier iterations:           ${iterations ?? 'unknown'}`);
  say(ok ? 'All proofs hold.' : 'A proof failed.');
  if (values.json) say(JSON.stringify(summary));
  exitCode = ok ? 0 : 1;
} catch (error) {
  say(`demo failed: ${(error as Error).message}`);
} finally {
  await stack.stop();
}
process.exit(exitCode);
