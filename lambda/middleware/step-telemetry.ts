import type { MiddlewareObj, Request } from '@middy/core';
import type { RotationEvent } from '../core/event.js';
import { type Logger, type Metrics, MetricUnit } from '../telemetry.js';

/**
 * The invocation's frame, outermost: log lines carry the Lambda context
 * from the start; at the end, success or failure, the metrics are published
 * and the keys dropped, so the next invocation (a malformed event among
 * them) carries none of this one's.
 */
export function invocationTelemetry(logger: Logger, metrics: Metrics): MiddlewareObj<unknown> {
  const end = () => {
    metrics.publishStoredMetrics();
    logger.resetKeys();
  };
  return {
    name: 'invocationTelemetry',
    before: (request) => logger.addContext(request.context),
    after: end,
    onError: end,
  };
}

/**
 * Adds the step, secret ARN and token to every log line, and records per
 * step a success or failure count and the duration. Runs on both `after` and
 * `onError`, so a failed step is logged and counted too. Logs carry error
 * names and messages, which by design never hold a secret value.
 */
export function stepTelemetry(logger: Logger, metrics: Metrics): MiddlewareObj<RotationEvent> {
  // Per request, not per factory: the local stack may run rotations of
  // several secrets at once through one handler.
  const startedAt = new WeakMap<Request<RotationEvent>, number>();
  const finish = (request: Request<RotationEvent>, outcome: 'succeeded' | 'failed') => {
    const started = startedAt.get(request);
    const durationMs = started === undefined ? 0 : Math.round(performance.now() - started);
    // Without a start, validation failed: the event's fields are not to be trusted or logged.
    const step = started === undefined ? 'invalid-event' : request.event.Step;
    metrics.addDimension('Step', step);
    metrics.addMetric(
      outcome === 'succeeded' ? 'StepSucceeded' : 'StepFailed',
      MetricUnit.Count,
      1,
    );
    metrics.addMetric('StepDuration', MetricUnit.Milliseconds, durationMs);
    if (outcome === 'succeeded') {
      logger.info('step succeeded', { durationMs });
    } else {
      const error = request.error;
      logger.error('step failed', {
        durationMs,
        errorName: error?.name,
        errorCode: (error as { code?: string } | null)?.code,
        errorMessage: error?.message,
      });
    }
  };
  return {
    name: 'stepTelemetry',
    before: (request) => {
      startedAt.set(request, performance.now());
      logger.appendKeys({
        step: request.event.Step,
        secretArn: request.event.SecretId,
        token: request.event.ClientRequestToken,
      });
      logger.info('step started');
    },
    after: (request) => finish(request, 'succeeded'),
    onError: (request) => finish(request, 'failed'),
  };
}
