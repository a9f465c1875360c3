/**
 * The local endpoint on the wire: the JSON 1.1 protocol as raw HTTP sees it
 * (bad requests answered with AWS's error types, never a crash), injected
 * faults, and the other clients that must work unchanged: the AWS CLI and boto3.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSecretsManagerClient,
  SecretsManagerEndpoint,
} from '../../../local/secrets-manager/index.js';
import { caught, createSecret, uniqueName } from './helpers.js';

const run = promisify(execFile);

let endpoint: SecretsManagerEndpoint;
let client: SecretsManagerClient;

beforeAll(async () => {
  endpoint = await SecretsManagerEndpoint.start();
  client = createSecretsManagerClient(endpoint, { maxAttempts: 1 });
});

afterAll(async () => {
  client?.destroy();
  await endpoint?.stop();
});

/** Sends a raw request and returns status, error-type header and parsed body. */
async function post(
  body: string,
  target: string | null = 'secretsmanager.DescribeSecret',
): Promise<{ status: number; errorType: string | null; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': 'application/x-amz-json-1.1' };
  if (target !== null) headers['x-amz-target'] = target;
  const response = await fetch(endpoint.url, { method: 'POST', headers, body });
  return {
    status: response.status,
    errorType: response.headers.get('x-amzn-errortype'),
    body: (await response.json()) as Record<string, unknown>,
  };
}

/** Proves the server still serves normal requests after a bad one. */
async function stillServes(): Promise<void> {
  const name = uniqueName('alive');
  await createSecret(client, name, 'alive');
  expect((await client.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe(
    'alive',
  );
}

describe('bad requests', () => {
  it('answers SerializationException to a body that is not JSON, and keeps serving (AWS JSON 1.1 protocol)', async () => {
    const answer = await post('{"SecretId": "x",');
    expect(answer.status).toBe(400);
    expect(answer.errorType).toBe('SerializationException');
    expect(answer.body.__type).toBe('SerializationException');
    expect(typeof answer.body.message).toBe('string');
    await stillServes();
  });

  it('answers UnknownOperationException to an unknown or missing X-Amz-Target, and keeps serving (AWS JSON 1.1 protocol)', async () => {
    for (const target of ['secretsmanager.MakeCoffee', 'dynamodb.GetItem', null]) {
      const answer = await post('{}', target);
      expect(answer.status).toBe(400);
      expect(answer.errorType).toBe('UnknownOperationException');
      expect(answer.body.__type).toBe('UnknownOperationException');
    }
    await stillServes();
  });

  it('answers ValidationException naming each missing required member (as AWS words it: "Value null at \'secretId\'...")', async () => {
    const one = await post('{}', 'secretsmanager.GetSecretValue');
    expect(one).toMatchObject({
      status: 400,
      errorType: 'ValidationException',
      body: {
        __type: 'ValidationException',
        message:
          "1 validation error detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null",
      },
    });
    const two = await post('{"SecretId": null}', 'secretsmanager.UpdateSecretVersionStage');
    expect(two.body.message).toBe(
      "2 validation errors detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null; " +
        "Value null at 'versionStage' failed to satisfy constraint: Member must not be null",
    );
    await stillServes();
  });

  it('answers ValidationException for a member outside its length limits, without echoing secret values (service model constraints)', async () => {
    const { arn } = await createSecret(client, uniqueName('limits'));
    const short = await post(
      JSON.stringify({ SecretId: arn, SecretString: '', ClientRequestToken: 'too-short' }),
      'secretsmanager.PutSecretValue',
    );
    expect(short.body.__type).toBe('ValidationException');
    expect(short.body.message).toContain(
      "Value 'too-short' at 'clientRequestToken' failed to satisfy constraint: Member must have length greater than or equal to 32",
    );
    expect(short.body.message).toContain(
      "Value at 'secretString' failed to satisfy constraint: Member must have length greater than or equal to 1",
    );
  });

  it('answers SerializationException for members of the wrong JSON type, and keeps serving (AWS JSON 1.1 protocol)', async () => {
    const cases: [string, string][] = [
      ['{"SecretId": 42}', 'secretsmanager.DescribeSecret'],
      ['{"SecretId": {"nested": true}}', 'secretsmanager.DescribeSecret'],
      ['{"PasswordLength": "long"}', 'secretsmanager.GetRandomPassword'],
      ['{"ExcludeNumbers": "yes"}', 'secretsmanager.GetRandomPassword'],
      ['{"SecretId": "x", "VersionStages": "AWSCURRENT"}', 'secretsmanager.PutSecretValue'],
      ['[1, 2]', 'secretsmanager.DescribeSecret'],
    ];
    for (const [body, target] of cases) {
      const answer = await post(body, target);
      expect({ body, status: answer.status, type: answer.body.__type }).toEqual({
        body,
        status: 400,
        type: 'SerializationException',
      });
    }
    expect((await post('{"SecretId": 42}')).body.message).toBe(
      'NUMBER_VALUE can not be converted to a String',
    );
    await stillServes();
  });

  it('ignores members the model does not know, as AWS does (forward compatibility of JSON 1.1)', async () => {
    const { arn } = await createSecret(client, uniqueName('extra'));
    const answer = await post(JSON.stringify({ SecretId: arn, NotAMember: [1, 2, 3] }));
    expect(answer.status).toBe(200);
    expect(answer.body.ARN).toBe(arn);
  });
});

describe('injected faults', () => {
  it('answers an injected error for the given number of calls of that operation only, then serves normally (endpoint hook)', async () => {
    const { arn } = await createSecret(client, uniqueName('fault'), 'v1');
    endpoint.injectFault({
      operation: 'PutSecretValue',
      times: 2,
      error: { type: 'InternalServiceError', message: 'injected outage' },
    });
    const put = () =>
      client.send(new PutSecretValueCommand({ SecretId: arn, SecretString: randomUUID() }));
    // Other operations are not affected.
    expect((await client.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString).toBe(
      'v1',
    );
    for (let i = 0; i < 2; i++) {
      expect(await caught(put())).toEqual({
        name: 'InternalServiceError',
        message: 'injected outage',
        status: 500,
      });
    }
    expect((await put()).VersionStages).toEqual(['AWSCURRENT']);
    // The failed calls changed nothing: two versions, not four.
    expect(endpoint.inspect(arn)?.versions).toHaveLength(2);
  });

  it('lets the SDK retry past an injected 500 when the client allows retries (SDK retry behaviour against the endpoint)', async () => {
    const retrying = createSecretsManagerClient(endpoint, { maxAttempts: 3 });
    try {
      const { arn } = await createSecret(client, uniqueName('retry'), 'v1');
      endpoint.injectFault({
        operation: 'GetSecretValue',
        error: { type: 'InternalServiceError' },
      });
      const out = await retrying.send(new GetSecretValueCommand({ SecretId: arn }));
      expect(out.SecretString).toBe('v1');
      expect(out.$metadata.attempts).toBe(2);
    } finally {
      retrying.destroy();
    }
  });

  it('delays the answer by delayMs and then serves the request (endpoint hook)', async () => {
    const { arn } = await createSecret(client, uniqueName('slow'), 'slow');
    endpoint.injectFault({ operation: 'GetSecretValue', delayMs: 250 });
    const started = performance.now();
    const out = await client.send(new GetSecretValueCommand({ SecretId: arn }));
    expect(performance.now() - started).toBeGreaterThanOrEqual(240);
    expect(out.SecretString).toBe('slow');
    // The delay applied once: a fault injected now is the next one served
    // (faults apply in order), which a timing bound could not tell on a
    // loaded machine.
    endpoint.injectFault({
      operation: 'GetSecretValue',
      error: { type: 'InternalServiceError', message: 'after the delay' },
    });
    await expect(client.send(new GetSecretValueCommand({ SecretId: arn }))).rejects.toThrow(
      'after the delay',
    );
  });

  it('answers an injected error for one secret only when the fault names it, as a policy that denies one secret does (endpoint hook)', async () => {
    const denied = await createSecret(client, uniqueName('denied'), 'hidden');
    const open = await createSecret(client, uniqueName('open'), 'shown');
    endpoint.injectFault({
      operation: 'GetSecretValue',
      secretId: denied.arn,
      times: 2,
      error: { type: 'AccessDeniedException', message: 'not authorized' },
    });
    expect(
      (await client.send(new GetSecretValueCommand({ SecretId: open.arn }))).SecretString,
    ).toBe('shown');
    const name = String(endpoint.inspect(denied.arn)?.name);
    for (const id of [denied.arn, name]) {
      expect(await caught(client.send(new GetSecretValueCommand({ SecretId: id })))).toEqual({
        name: 'AccessDeniedException',
        message: 'not authorized',
        status: 400,
      });
    }
    expect(
      (await client.send(new GetSecretValueCommand({ SecretId: denied.arn }))).SecretString,
    ).toBe('hidden');
  });

  it('serves the request and then answers the error with served: the call took effect, its answer was lost (endpoint hook)', async () => {
    const name = uniqueName('lost');
    const token = randomUUID();
    endpoint.injectFault({
      operation: 'CreateSecret',
      served: true,
      error: { type: 'InternalServiceError' },
    });
    const create = () =>
      client.send(
        new CreateSecretCommand({ Name: name, ClientRequestToken: token, SecretString: 'v' }),
      );
    expect((await caught(create())).name).toBe('InternalServiceError');
    expect(endpoint.inspect(name)?.versions.map((v) => v.versionId)).toEqual([token]);
    // A retry with the same token is the same request (CreateSecret's idempotency).
    expect((await create()).VersionId).toBe(token);
  });

  it('forgets unused faults on clearFaults (endpoint hook)', async () => {
    const { arn } = await createSecret(client, uniqueName('clear'), 'v');
    endpoint.injectFault({
      operation: 'GetSecretValue',
      times: 5,
      error: { type: 'ThrottlingException' },
    });
    expect(await caught(client.send(new GetSecretValueCommand({ SecretId: arn })))).toMatchObject({
      name: 'ThrottlingException',
      status: 400,
    });
    endpoint.clearFaults();
    expect((await client.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString).toBe(
      'v',
    );
  });
});

describe('request observers', () => {
  it('see each request as it arrives, with its operation and the access key it was signed with', async () => {
    const seen: { operation: string; accessKeyId: string | undefined }[] = [];
    const stop = endpoint.onRequest((request) => seen.push({ ...request }));
    const other = new SecretsManagerClient({
      endpoint: endpoint.url,
      region: endpoint.region,
      credentials: { accessKeyId: 'OBSERVEDKEY', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
    try {
      const name = uniqueName('observed');
      await createSecret(client, name, 'v1');
      await other.send(new GetSecretValueCommand({ SecretId: name }));
      // Refused requests are seen too: the observer counts what was sent.
      await caught(other.send(new GetSecretValueCommand({ SecretId: uniqueName('absent') })));
      stop();
      await other.send(new GetSecretValueCommand({ SecretId: name }));
    } finally {
      other.destroy();
    }
    expect(seen).toEqual([
      { operation: 'CreateSecret', accessKeyId: 'local' },
      { operation: 'GetSecretValue', accessKeyId: 'OBSERVEDKEY' },
      { operation: 'GetSecretValue', accessKeyId: 'OBSERVEDKEY' },
    ]);
  });

  it('do not break a request when they throw', async () => {
    const stop = endpoint.onRequest(() => {
      throw new Error('observer fault');
    });
    try {
      await stillServes();
    } finally {
      stop();
    }
  });
});

describe('other clients', () => {
  const dummyCredentials = {
    ...process.env,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_PAGER: '',
  };

  it('serves the AWS CLI: aws --endpoint-url <url> secretsmanager get-secret-value prints the secret as JSON', async () => {
    const name = uniqueName('cli');
    const { arn, versionId } = await createSecret(
      client,
      name,
      '{"username":"app","password":"from-cli"}',
    );
    const { stdout } = await run(
      'aws',
      [
        '--endpoint-url',
        endpoint.url,
        '--region',
        'us-east-1',
        '--output',
        'json',
        'secretsmanager',
        'get-secret-value',
        '--secret-id',
        name,
      ],
      { env: dummyCredentials, timeout: 30_000 },
    );
    const printed = JSON.parse(stdout) as Record<string, unknown>;
    expect(printed).toMatchObject({
      ARN: arn,
      Name: name,
      VersionId: versionId,
      SecretString: '{"username":"app","password":"from-cli"}',
      VersionStages: ['AWSCURRENT'],
    });
    expect(printed.CreatedDate).toBeDefined();
  });

  it('answers the AWS CLI with errors it reports by name: ResourceNotFoundException and a failing exit status', async () => {
    const failure = await run(
      'aws',
      [
        '--endpoint-url',
        endpoint.url,
        '--region',
        'us-east-1',
        'secretsmanager',
        'describe-secret',
        '--secret-id',
        uniqueName('missing'),
      ],
      { env: dummyCredentials, timeout: 30_000 },
    ).then(
      () => undefined,
      (error: { code?: number; stderr?: string }) => error,
    );
    // aws-cli v1 exits 255 on a service error, v2 254.
    expect([254, 255]).toContain(failure?.code);
    expect(failure?.stderr).toContain(
      "An error occurred (ResourceNotFoundException) when calling the DescribeSecret operation: Secrets Manager can't find the specified secret.",
    );
  });

  it('serves boto3: create, rotate-free versioning, and staging labels read back the same', async () => {
    const name = uniqueName('boto3');
    const script = [
      'import json, sys, boto3',
      "c = boto3.client('secretsmanager', endpoint_url=sys.argv[1], region_name='us-east-1')",
      "a = c.create_secret(Name=sys.argv[2], SecretString='one')",
      "b = c.put_secret_value(SecretId=a['ARN'], SecretString='two')",
      'd = c.describe_secret(SecretId=sys.argv[2])',
      "v = c.get_secret_value(SecretId=sys.argv[2], VersionStage='AWSPREVIOUS')",
      'try:',
      "    c.get_secret_value(SecretId='does-not-exist')",
      'except c.exceptions.ResourceNotFoundException as e:',
      "    missing = e.response['Error']['Message']",
      "print(json.dumps({'first': a['VersionId'], 'second': b['VersionId'], 'stages': d['VersionIdsToStages'],",
      "  'previous': v['SecretString'], 'created': d['CreatedDate'].isoformat(), 'missing': missing}))",
    ].join('\n');
    const { stdout } = await run('python3', ['-c', script, endpoint.url, name], {
      env: dummyCredentials,
      timeout: 30_000,
    });
    const out = JSON.parse(stdout) as {
      first: string;
      second: string;
      stages: Record<string, string[]>;
      previous: string;
      created: string;
      missing: string;
    };
    expect(out.stages).toEqual({ [out.first]: ['AWSPREVIOUS'], [out.second]: ['AWSCURRENT'] });
    expect(out.previous).toBe('one');
    expect(Math.abs(Date.parse(out.created) - Date.now())).toBeLessThan(60_000);
    expect(out.missing).toBe("Secrets Manager can't find the specified secret.");
  });
});

describe('lifecycle', () => {
  it('listens on 127.0.0.1 only, on a free port by default, and stops cleanly twice (endpoint hook)', async () => {
    const a = await SecretsManagerEndpoint.start();
    const b = await SecretsManagerEndpoint.start();
    try {
      expect(a.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(a.url).not.toBe(b.url);
      expect(a.lambdaArn('fn')).toBe('arn:aws:lambda:us-east-1:123456789012:function:fn');
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    await a.stop();
    await expect(fetch(a.url, { method: 'POST', body: '{}' })).rejects.toThrow();
  });
});
