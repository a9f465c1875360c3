import type { Context } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseDatabaseSecret } from '../../lambda/core/secret.js';
import { Logger, Metrics, MetricUnit } from '../../lambda/telemetry.js';

/** Captures what is written to stdout and stderr, as parsed JSON lines. */
function capture() {
  const out: Record<string, unknown>[] = [];
  const err: Record<string, unknown>[] = [];
  const into = (lines: Record<string, unknown>[]) =>
    ((chunk: unknown) => {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      return true;
    }) as typeof process.stdout.write;
  vi.spyOn(process.stdout, 'write').mockImplementation(into(out));
  vi.spyOn(process.stderr, 'write').mockImplementation(into(err));
  return { out, err };
}

function context(requestId: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'rotator',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:111122223333:function:rotator',
    memoryLimitInMB: '256',
    awsRequestId: requestId,
    logGroupName: '/aws/lambda/rotator',
    logStreamName: 'stream',
    getRemainingTimeInMillis: () => 1000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('the logger', () => {
  it('writes one JSON line per call, INFO and DEBUG on stdout, WARN and ERROR on stderr', () => {
    const { out, err } = capture();
    const logger = new Logger({ serviceName: 'scram-rotator', logLevel: 'DEBUG', env: {} });
    logger.debug('d');
    logger.info('i', { attempt: 1 });
    logger.warn('w');
    logger.error('e');
    expect(out.map((l) => [l.level, l.message])).toEqual([
      ['DEBUG', 'd'],
      ['INFO', 'i'],
    ]);
    expect(err.map((l) => [l.level, l.message])).toEqual([
      ['WARN', 'w'],
      ['ERROR', 'e'],
    ]);
    expect(out[1]).toMatchObject({ service: 'scram-rotator', attempt: 1 });
    expect(Number.isNaN(Date.parse(String(out[1]?.timestamp)))).toBe(false);
  });

  it('writes nothing below its level, and nothing at all when SILENT', () => {
    const { out, err } = capture();
    new Logger({ logLevel: 'WARN', env: {} }).info('hidden');
    const silent = new Logger({ logLevel: 'SILENT', env: {} });
    silent.error('hidden too');
    new Logger({ env: { POWERTOOLS_LOG_LEVEL: 'error' } }).warn('hidden by the variable');
    new Logger({ env: { AWS_LAMBDA_LOG_LEVEL: 'WARN' } }).info('hidden by Lambda');
    expect([...out, ...err]).toEqual([]);
    expect(new Logger({ env: {} }).logLevel).toBe('INFO');
  });

  it('adds the Lambda context, marks only the first invocation a cold start, and keeps appended keys until reset', () => {
    const { out } = capture();
    const logger = new Logger({
      serviceName: 's',
      env: { _X_AMZN_TRACE_ID: 'Root=1-abc-def;Parent=1;Sampled=0' },
    });
    logger.addContext(context('r1'));
    logger.appendKeys({ step: 'createSecret' });
    logger.info('first');
    logger.resetKeys();
    logger.addContext(context('r2'));
    logger.info('second');
    expect(out[0]).toMatchObject({
      cold_start: true,
      function_name: 'rotator',
      function_request_id: 'r1',
      function_memory_size: 256,
      xray_trace_id: '1-abc-def',
      step: 'createSecret',
    });
    expect(out[1]).toMatchObject({ cold_start: false, function_request_id: 'r2' });
    expect(out[1]).not.toHaveProperty('step');
  });

  it('writes an Error as its name and message, and a parsed secret without its password', () => {
    const { out } = capture();
    const secret = parseDatabaseSecret(
      JSON.stringify({ engine: 'postgres', host: 'db', username: 'app', password: 'hunter2-xyz' }),
      { label: 'AWSCURRENT' },
    );
    new Logger({ env: {} }).info('m', { error: new TypeError('bad'), secret, big: 10n });
    expect(out[0]).toMatchObject({
      error: { name: 'TypeError', message: 'bad' },
      secret: { username: 'app', password: '[redacted]' },
      big: '10',
    });
    expect(JSON.stringify(out)).not.toContain('hunter2-xyz');
  });
});

describe('the metrics', () => {
  it('publish one EMF document with the service and added dimensions, then start afresh', () => {
    const { out } = capture();
    const metrics = new Metrics({ serviceName: 'scram-rotator', namespace: 'Ns', env: {} });
    metrics.addDimension('Step', 'setSecret');
    metrics.addMetric('StepSucceeded', MetricUnit.Count, 1);
    metrics.addMetric('StepDuration', MetricUnit.Milliseconds, 42);
    metrics.publishStoredMetrics();
    metrics.publishStoredMetrics();
    expect(out).toHaveLength(1);
    const [doc] = out as [
      { _aws: { Timestamp: number; CloudWatchMetrics: Record<string, unknown>[] } },
    ];
    expect(typeof doc._aws.Timestamp).toBe('number');
    expect(doc._aws.CloudWatchMetrics).toEqual([
      {
        Namespace: 'Ns',
        Dimensions: [['service', 'Step']],
        Metrics: [
          { Name: 'StepSucceeded', Unit: 'Count' },
          { Name: 'StepDuration', Unit: 'Milliseconds' },
        ],
      },
    ]);
    expect(doc).toMatchObject({
      service: 'scram-rotator',
      Step: 'setSecret',
      StepSucceeded: 1,
      StepDuration: 42,
    });
  });

  it('take the namespace and service from the environment, and publish nothing when disabled', () => {
    const { out } = capture();
    const fromEnv = new Metrics({
      env: { POWERTOOLS_METRICS_NAMESPACE: 'FromEnv', POWERTOOLS_SERVICE_NAME: 'svc' },
    });
    fromEnv.addMetric('M', MetricUnit.Count, 1);
    fromEnv.publishStoredMetrics();
    const disabled = new Metrics({ env: { POWERTOOLS_METRICS_DISABLED: 'true' } });
    disabled.addMetric('M', MetricUnit.Count, 1);
    disabled.publishStoredMetrics();
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ service: 'svc' });
    expect(JSON.stringify(out[0])).toContain('"Namespace":"FromEnv"');
  });
});
