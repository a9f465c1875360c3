/**
 * The CloudWatch Logs side of the local endpoint: the lines Lambda's Node.js
 * runtime writes to `/aws/lambda/<function>` around each call of a rotation
 * function, served through `Logs_20140328.FilterLogEvents` so that a tool
 * reading a failed rotation's reason from CloudWatch Logs (`npm run rotate`)
 * works against the local stack unchanged.
 *
 * Only the runtime's own lines are recorded (START, the `Invoke Error` line
 * for a handler that threw, END, REPORT), as the runtime writes them in its
 * default text format; what the function prints goes to the process's stdout.
 *
 * @module
 */
import { AwsServiceError } from './errors.js';

/** CloudWatch Logs answers its errors with a lower-case `message` member. */
function logsError(type: string, message: string): AwsServiceError {
  return new AwsServiceError(type, message, { modeled: false });
}

/** One log event, as FilterLogEvents returns it. */
export interface LogEvent {
  readonly logStreamName: string;
  readonly timestamp: number;
  readonly ingestionTime: number;
  readonly message: string;
  readonly eventId: string;
}

/** FilterLogEvents' input members this endpoint reads. */
export interface FilterLogEventsInput {
  readonly logGroupName?: unknown;
  readonly logGroupIdentifier?: unknown;
  readonly startTime?: unknown;
  readonly endTime?: unknown;
  readonly filterPattern?: unknown;
  readonly limit?: unknown;
  readonly nextToken?: unknown;
}

/** The `errorType` of a call that outlived the function's timeout (Lambda writes a plain line). */
export const TIMED_OUT = 'Sandbox.Timedout';

/** What Lambda's runtime writes when a handler throws (`errorType`, `errorMessage`). */
export interface InvokeFailure {
  readonly errorType: string;
  readonly errorMessage: string;
}

/**
 * Terms of a CloudWatch Logs filter pattern this endpoint understands:
 * unstructured terms, quoted or bare, all required (`"a" "b"`), or any of
 * them (`?"a" ?"b"`). JSON and space-delimited patterns are refused.
 */
function parsePattern(pattern: string): { any: boolean; terms: string[] } {
  const trimmed = pattern.trim();
  if (trimmed === '') return { any: false, terms: [] };
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    throw logsError(
      'InvalidParameterException',
      'This local endpoint supports only term filter patterns ("a" "b" or ?"a" ?"b").',
    );
  }
  const terms: string[] = [];
  let any = false;
  for (const match of trimmed.matchAll(/(\?)?(?:"((?:[^"\\]|\\.)*)"|(\S+))/g)) {
    if (match[1]) any = true;
    terms.push((match[2] ?? match[3] ?? '').replaceAll('\\"', '"'));
  }
  return { any, terms };
}

/** Log groups of the functions the endpoint has called, in memory. */
export class FunctionLogStore {
  readonly #groups = new Map<string, LogEvent[]>();
  #sequence = 0;

  /** The runtime's lines for one call; `failure` set when the handler threw. */
  recordInvocation(call: {
    readonly logGroupName: string;
    readonly logStreamName: string;
    readonly requestId: string;
    readonly startedAt: Date;
    readonly durationMs: number;
    readonly failure?: InvokeFailure | undefined;
  }): void {
    const start = call.startedAt.getTime();
    const end = start + call.durationMs;
    const lines: [number, string][] = [
      [start, `START RequestId: ${call.requestId} Version: $LATEST`],
    ];
    if (call.failure?.errorType === TIMED_OUT) {
      lines.push([
        end,
        `${new Date(end).toISOString()} ${call.requestId} ${call.failure.errorMessage}`,
      ]);
    } else if (call.failure) {
      // The Node.js runtime's text-format line for an error thrown by the handler.
      lines.push([
        end,
        `${new Date(end).toISOString()}\t${call.requestId}\tERROR\tInvoke Error \t${JSON.stringify({
          errorType: call.failure.errorType,
          errorMessage: call.failure.errorMessage,
        })}`,
      ]);
    }
    lines.push([end, `END RequestId: ${call.requestId}`]);
    lines.push([
      end,
      `REPORT RequestId: ${call.requestId}\tDuration: ${call.durationMs.toFixed(2)} ms\tMemory Size: 128 MB`,
    ]);
    const group = this.#groups.get(call.logGroupName) ?? [];
    for (const [timestamp, message] of lines) {
      this.#sequence += 1;
      group.push({
        logStreamName: call.logStreamName,
        timestamp,
        ingestionTime: timestamp,
        message,
        eventId: String(this.#sequence).padStart(20, '0'),
      });
    }
    this.#groups.set(call.logGroupName, group);
  }

  /** FilterLogEvents over one log group: time range, term pattern, limit and paging. */
  filterLogEvents(input: FilterLogEventsInput): Record<string, unknown> {
    const name = input.logGroupName ?? input.logGroupIdentifier;
    if (typeof name !== 'string' || name === '') {
      throw logsError(
        'InvalidParameterException',
        'Either logGroupName or logGroupIdentifier is required.',
      );
    }
    const group = this.#groups.get(name);
    if (group === undefined) {
      throw logsError('ResourceNotFoundException', 'The specified log group does not exist.');
    }
    const startTime = typeof input.startTime === 'number' ? input.startTime : 0;
    const endTime = typeof input.endTime === 'number' ? input.endTime : Number.POSITIVE_INFINITY;
    const limit = typeof input.limit === 'number' && input.limit > 0 ? input.limit : 10_000;
    const offset = typeof input.nextToken === 'string' ? Number(input.nextToken) : 0;
    const { any, terms } = parsePattern(
      typeof input.filterPattern === 'string' ? input.filterPattern : '',
    );
    const matches = group.filter(
      (event) =>
        event.timestamp >= startTime &&
        event.timestamp <= endTime &&
        (terms.length === 0 ||
          (any
            ? terms.some((term) => event.message.includes(term))
            : terms.every((term) => event.message.includes(term)))),
    );
    const page = matches.slice(offset, offset + limit);
    const next = offset + page.length;
    return {
      events: page,
      searchedLogStreams: [],
      ...(next < matches.length ? { nextToken: String(next) } : {}),
    };
  }
}
