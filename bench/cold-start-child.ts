/**
 * Runs in a fresh Node.js process, as a Lambda environment's first
 * invocation would: imports a bundle, hands its `handler` one event, and
 * reports how long each took on file descriptor 3 (stdout and stderr are
 * the handler's, as in Lambda).
 *
 * Arguments: the bundle's path, the event as JSON.
 *
 * @module
 */
import { writeSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** What the parent reads back. */
export interface ColdStartSample {
  /** From process start to the import's start: Node's own boot, the same for every bundle. */
  readonly bootMs: number;
  readonly importMs: number;
  readonly firstEventMs: number;
  /** importMs + firstEventMs: the figure the budget holds. */
  readonly coldStartMs: number;
  /**
   * CPU time (user and system, all threads) over the same span: what the
   * process itself spent, which a busy machine inflates far less than the
   * wall time.
   */
  readonly cpuMs: number;
  /** The error's name, when the handler threw. */
  readonly error?: string;
}

const [bundle = '', eventJson = '{}'] = process.argv.slice(2);
const event = JSON.parse(eventJson) as Record<string, unknown>;
const deadline = Date.now() + 60_000;
const context = {
  callbackWaitsForEmptyEventLoop: true,
  functionName: 'scram-rotator-bench',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:scram-rotator-bench',
  memoryLimitInMB: '256',
  awsRequestId: '00000000-0000-4000-8000-000000000000',
  logGroupName: '/aws/lambda/scram-rotator-bench',
  logStreamName: 'bench',
  getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
};

const cpuBefore = process.cpuUsage();
const started = performance.now();
const mod = (await import(pathToFileURL(bundle).href)) as {
  handler: (event: unknown, context: unknown) => Promise<unknown>;
};
const imported = performance.now();
let error: string | undefined;
try {
  await mod.handler(event, context);
} catch (thrown) {
  error = thrown instanceof Error ? thrown.name : 'non-error';
}
const done = performance.now();
const cpu = process.cpuUsage(cpuBefore);
const sample: ColdStartSample = {
  bootMs: started,
  importMs: imported - started,
  firstEventMs: done - imported,
  coldStartMs: done - started,
  cpuMs: (cpu.user + cpu.system) / 1000,
  ...(error === undefined ? {} : { error }),
};
writeSync(3, JSON.stringify(sample));
// The SDK keeps its connection alive, as it would across warm invocations.
process.exit(0);
