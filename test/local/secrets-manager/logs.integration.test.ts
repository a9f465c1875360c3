import {
  CloudWatchLogsClient,
  FilterLogEventsCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-cloudwatch-logs';
import {
  ResourceNotFoundException as FunctionNotFound,
  GetFunctionConfigurationCommand,
  LambdaClient,
} from '@aws-sdk/client-lambda';
import { RotateSecretCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSecretsManagerClient,
  SecretsManagerEndpoint,
} from '../../../local/secrets-manager/index.js';
import { createSecret, uniqueName } from './helpers.js';

let endpoint: SecretsManagerEndpoint;
let client: SecretsManagerClient;
let logs: CloudWatchLogsClient;
let lambda: LambdaClient;

beforeAll(async () => {
  endpoint = await SecretsManagerEndpoint.start({ lambdaTimeoutMs: 500 });
  client = createSecretsManagerClient(endpoint);
  const local = {
    endpoint: endpoint.url,
    region: endpoint.region,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  };
  logs = new CloudWatchLogsClient(local);
  lambda = new LambdaClient(local);
});

afterAll(async () => {
  client?.destroy();
  logs?.destroy();
  lambda?.destroy();
  await endpoint?.stop();
});

/** Rotates a new secret with `fn` and returns the messages in the function's log group. */
async function rotateWith(
  name: string,
  fn: () => Promise<unknown>,
  logGroupName = `/aws/lambda/${name}`,
): Promise<string[]> {
  const arn = endpoint.lambdaArn(name);
  endpoint.registerRotationFunction(arn, fn, { logGroupName });
  const { arn: secret } = await createSecret(client, uniqueName('logs'), '{}');
  await client.send(
    new RotateSecretCommand({
      SecretId: secret,
      RotationLambdaARN: arn,
      RotationRules: { AutomaticallyAfterDays: 1 },
    }),
  );
  await endpoint.waitForRotation(secret, { timeoutMs: 10_000 });
  const out = await logs.send(new FilterLogEventsCommand({ logGroupName }));
  return (out.events ?? []).map((e) => e.message ?? '');
}

describe('CloudWatch Logs for rotation functions (Lambda runtime log lines)', () => {
  it('writes START, END and REPORT for each call to /aws/lambda/<function>', async () => {
    const messages = await rotateWith('logs-ok', async () => undefined);
    expect(messages.filter((m) => m.startsWith('START RequestId: '))).toHaveLength(4);
    expect(messages.filter((m) => m.startsWith('REPORT RequestId: '))).toHaveLength(4);
    expect(messages.some((m) => m.includes('Invoke Error'))).toBe(false);
  });

  it("writes the runtime's Invoke Error line with the thrown error's type and message", async () => {
    const messages = await rotateWith('logs-throws', async () => {
      throw new TypeError('the database is down');
    });
    const line = messages.find((m) => m.includes('\tERROR\tInvoke Error \t'));
    expect(line).toBeDefined();
    expect(JSON.parse(line?.slice(line.indexOf('{')) ?? '{}')).toEqual({
      errorType: 'TypeError',
      errorMessage: 'the database is down',
    });
  });

  it('writes "Task timed out" for a call that outlives the function timeout', async () => {
    const messages = await rotateWith('logs-hangs', () => new Promise(() => undefined));
    expect(messages.some((m) => /Task timed out after 0\.50 seconds/.test(m))).toBe(true);
  });

  it('filters by terms, any of them with ?"a" ?"b", and by start time', async () => {
    await rotateWith('logs-filter', async () => {
      throw new Error('boom');
    });
    const group = '/aws/lambda/logs-filter';
    const only = await logs.send(
      new FilterLogEventsCommand({ logGroupName: group, filterPattern: '"Invoke Error"' }),
    );
    expect(only.events).toHaveLength(1);
    const any = await logs.send(
      new FilterLogEventsCommand({ logGroupName: group, filterPattern: '?"Invoke Error" ?START' }),
    );
    expect(any.events).toHaveLength(2);
    const later = await logs.send(
      new FilterLogEventsCommand({ logGroupName: group, startTime: Date.now() + 60_000 }),
    );
    expect(later.events).toEqual([]);
  });

  it('answers ResourceNotFoundException for a log group no function has written', async () => {
    await expect(
      logs.send(new FilterLogEventsCommand({ logGroupName: '/aws/lambda/never-called' })),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
  });
});

describe("Lambda's GetFunctionConfiguration for registered functions", () => {
  it('names the log group a function was registered with, where its lines go', async () => {
    const group = 'ScramRotator-RotatorLogGroup254C4D64-AbCdEfGh1234';
    const messages = await rotateWith(
      'logs-own-group',
      async () => {
        throw new Error('boom');
      },
      group,
    );
    expect(messages.some((m) => m.includes('Invoke Error'))).toBe(true);
    const configuration = await lambda.send(
      new GetFunctionConfigurationCommand({ FunctionName: endpoint.lambdaArn('logs-own-group') }),
    );
    expect(configuration).toMatchObject({
      FunctionName: 'logs-own-group',
      FunctionArn: endpoint.lambdaArn('logs-own-group'),
      Runtime: 'nodejs24.x',
      LoggingConfig: { LogFormat: 'Text', LogGroup: group },
    });
    // Nothing went to Lambda's default group.
    await expect(
      logs.send(new FilterLogEventsCommand({ logGroupName: '/aws/lambda/logs-own-group' })),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
  });

  it("defaults to Lambda's /aws/lambda/<name>, and takes a plain function name", async () => {
    endpoint.registerRotationFunction(endpoint.lambdaArn('plain'), async () => undefined);
    const configuration = await lambda.send(
      new GetFunctionConfigurationCommand({ FunctionName: 'plain' }),
    );
    expect(configuration.LoggingConfig?.LogGroup).toBe('/aws/lambda/plain');
  });

  it('answers ResourceNotFoundException (404) for a function never registered', async () => {
    const error = await lambda
      .send(new GetFunctionConfigurationCommand({ FunctionName: endpoint.lambdaArn('nope') }))
      .catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(FunctionNotFound);
    expect((error as FunctionNotFound).$metadata.httpStatusCode).toBe(404);
    expect((error as Error).message).toContain(`Function not found: ${endpoint.lambdaArn('nope')}`);
  });
});
