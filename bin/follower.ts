/**
 * `npm run follower`: the client impact of rotations, measured on the local
 * stack (see bin/follower/follow.ts for the model).
 *
 *   npm run follower -- --strategy <single-user|admin|alternating> --rotations N
 *     --cache-ms M [--interval-ms I] [--json]
 *
 * Several clients cache AWSCURRENT for M ms (0: read before every login),
 * their caches starting at different moments, and log in over verify-full
 * SCRAM about every 20 ms while N rotations run, one every I ms (default
 * 2M, never less than a rotation takes), each login followed by an
 * unqualified query on a table in the user's search_path. It prints the
 * attempts, the logins the server refused, the longest a client went
 * without logging in, and the queries that failed after a login; with
 * --json, one object as the last line of stdout:
 * { strategy, rotations, cacheMs, intervalMs, attempts, failedLogins, longestFailureMs, failedQueries }.
 *
 * Exit codes: 0 every rotation completed (failed logins are a measurement,
 * not an error); 1 a rotation failed; 64 bad usage.
 */
import { parseArgs } from 'node:util';
import { startLocalStack } from '../local/stack.js';
import { FOLLOWER_STRATEGIES, type FollowerStrategy, follow } from './follower/follow.js';

const EXIT = { ok: 0, failed: 1, usage: 64 } as const;
const say = (line: string) => process.stdout.write(`${line}\n`);

function usage(message: string): never {
  process.stderr.write(
    `follower: ${message}\nusage: npm run follower -- --strategy <${FOLLOWER_STRATEGIES.join('|')}> --rotations N --cache-ms M [--interval-ms I] [--json]\n`,
  );
  process.exit(EXIT.usage);
}

/** A whole number from `min` up, or a usage error naming the option. */
function whole(name: string, raw: string | undefined, min: number): number {
  if (raw === undefined) return usage(`--${name} is required`);
  const value = /^[0-9]+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min) {
    return usage(`--${name} must be a whole number from ${min}`);
  }
  return value;
}

const values = (() => {
  try {
    return parseArgs({
      options: {
        strategy: { type: 'string' },
        rotations: { type: 'string' },
        'cache-ms': { type: 'string' },
        'interval-ms': { type: 'string' },
        json: { type: 'boolean', default: false },
      },
    }).values;
  } catch (error) {
    return usage((error as Error).message);
  }
})();
const strategy = values.strategy as FollowerStrategy;
if (!FOLLOWER_STRATEGIES.includes(strategy)) {
  usage(`--strategy must be one of ${FOLLOWER_STRATEGIES.join(', ')}`);
}
const rotations = whole('rotations', values.rotations, 1);
const cacheMs = whole('cache-ms', values['cache-ms'], 0);
const intervalMs =
  values['interval-ms'] === undefined ? undefined : whole('interval-ms', values['interval-ms'], 0);

// The function's metrics would print an EMF line per step.
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
const stack = await startLocalStack();
let exitCode: number = EXIT.failed;
try {
  say(
    `${strategy}: ${rotations} rotation(s), clients cache AWSCURRENT for ${cacheMs} ms, a rotation every ${intervalMs ?? 2 * cacheMs} ms (or when the one before ends) (PostgreSQL ${stack.postgres.host}:${stack.postgres.port})`,
  );
  const details = await follow(stack, {
    strategy,
    rotations,
    cacheMs,
    ...(intervalMs === undefined ? {} : { intervalMs }),
    onRotation: (r) =>
      say(
        `  rotation ${String(r.index).padStart(3)}  ${r.ok ? 'ok  ' : 'FAIL'} ${String(r.durationMs).padStart(5)} ms${r.errorMessage ? `  ${r.errorMessage}` : ''}`,
      ),
  });
  const { report } = details;
  const others = Object.entries(details.otherErrors);
  say('');
  say(`${details.clients} clients, ${report.attempts} logins in ${details.durationMs} ms:`);
  say(`  refused (the credential they held no longer worked): ${report.failedLogins}`);
  say(`  longest a client went without logging in:           ${report.longestFailureMs} ms`);
  say(`  queries that failed after a login (search_path):     ${report.failedQueries}`);
  if (others.length > 0) {
    say(
      `  other login failures (not counted above): ${others.map(([k, n]) => `${k} ${n}`).join(', ')}`,
    );
  }
  if (values.json) say(JSON.stringify(report));
  exitCode = details.rotationResults.every((r) => r.ok) ? EXIT.ok : EXIT.failed;
} catch (error) {
  process.stderr.write(`follower: ${(error as Error).message}\n`);
} finally {
  await stack.stop();
}
process.exit(exitCode);
