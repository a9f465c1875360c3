/**
 * A Secrets Manager endpoint on loopback that speaks the service's JSON 1.1
 * protocol, so that the real `@aws-sdk/client-secrets-manager`, the AWS CLI
 * and boto3 work against it unchanged (`endpoint` / `--endpoint-url`, any
 * credentials: signatures are not checked).
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { AwsServiceError, previousRotationIncomplete, protocolError } from './errors.js';
import { type FilterLogEventsInput, FunctionLogStore } from './logs.js';
import { generatePassword } from './password.js';
import {
  type RegisterOptions,
  type RotationFunction,
  type RotationInvocation,
  type RotationInvocationUpdate,
  type RotationOutcome,
  RotationRunner,
} from './rotation.js';
import { type SecretSnapshot, SecretStore } from './store.js';
import { decodeInput, OPERATIONS, type Operation, type OperationInputs } from './validation.js';

/** Listens on loopback only: the endpoint must never be reachable from elsewhere. */
const HOST = '127.0.0.1';
const TARGET_PREFIX = 'secretsmanager.';
/** CloudWatch Logs' JSON 1.1 target prefix; only FilterLogEvents is served. */
const LOGS_TARGET = 'Logs_20140328.FilterLogEvents';
/**
 * Lambda's REST-JSON GetFunctionConfiguration (API version 2015-03-31):
 * `GET /2015-03-31/functions/{FunctionName}/configuration[?Qualifier=...]`.
 * Served so that a tool finding a function's log group through its
 * LoggingConfig (`npm run rotate`) works against the local stack unchanged.
 */
const FUNCTION_CONFIGURATION = /^\/2015-03-31\/functions\/([^/?]+)\/configuration(?:\?.*)?$/;
/** Far above any Secrets Manager request (a value is at most 64 KiB). */
const MAX_BODY_BYTES = 1024 * 1024;

/** Options for {@link SecretsManagerEndpoint.start}. */
export interface SecretsManagerEndpointOptions {
  /**
   * Region in ARNs; clients must use the same one to sign, though nothing checks.
   * @default 'us-east-1'
   */
  readonly region?: string;
  /** Account id in ARNs. @default '123456789012' */
  readonly accountId?: string;
  /** TCP port on 127.0.0.1. @default 0, a free port */
  readonly port?: number;
  /**
   * How long one rotation step may run before it fails as Lambda's
   * "Task timed out"; also what `context.getRemainingTimeInMillis()` counts down from.
   * @default 30000
   */
  readonly lambdaTimeoutMs?: number;
  /**
   * After a completed rotation this endpoint takes AWSPENDING off the new
   * AWSCURRENT version, one of the two end states the RotateSecret reference
   * allows. Set true for the other, which AWS-validated recordings
   * (LocalStack, 2024) show: AWSPENDING left on the AWSCURRENT version.
   * @default false
   */
  readonly keepPendingLabelAfterRotation?: boolean;
}

/** An error to answer instead of serving a request. */
export interface InjectedError {
  /** The `__type`, e.g. `InternalServiceError`, `ThrottlingException`. */
  readonly type: string;
  /** @default 'Injected fault.' */
  readonly message?: string;
  /** @default 500 for `InternalServiceError`, else 400 (AWS answers throttling as 400 too) */
  readonly status?: number;
}

/** A fault for the next requests of one operation. */
export interface FaultSpec {
  /** The operation, as in `X-Amz-Target: secretsmanager.<operation>`. */
  readonly operation: Operation;
  /** How many requests it applies to. @default 1 */
  readonly times?: number;
  /** Answer this error instead of serving the request (after `delayMs`, if set). */
  readonly error?: InjectedError;
  /** Hold the request this long, then serve it (or answer `error`). */
  readonly delayMs?: number;
  /**
   * Only requests whose `SecretId` names this secret (by name or ARN), as an
   * IAM or resource policy denies one secret (`AccessDeniedException`) or
   * its KMS key fails (`DecryptionFailure`) while others are served.
   */
  readonly secretId?: string;
  /**
   * Serve the request, then answer `error` instead of its result: the call
   * took effect but its answer was lost (a connection cut after the write).
   * @default false
   */
  readonly served?: boolean;
}

/** One Secrets Manager request as the endpoint received it, for {@link SecretsManagerEndpoint.onRequest}. */
export interface EndpointRequest {
  /** The operation its `X-Amz-Target` names. */
  readonly operation: Operation;
  /**
   * The access key id its SigV4 `Authorization` header names (signatures are
   * not checked), which tells one client's calls from another's.
   */
  readonly accessKeyId: string | undefined;
}

/** The access key id in `Credential=<id>/<date>/<region>/<service>/aws4_request`. */
const CREDENTIAL = /Credential=([^/,\s]+)\//;

interface ActiveFault {
  readonly spec: FaultSpec;
  remaining: number;
}

/** Options for {@link SecretsManagerEndpoint.waitForRotation}. */
export interface WaitForRotationOptions {
  /** @default 60000 */
  readonly timeoutMs?: number;
}

/** A local Secrets Manager endpoint with hooks for tests. Start it with {@link SecretsManagerEndpoint.start}. */
export class SecretsManagerEndpoint {
  /** Base URL for the SDK's `endpoint` or the CLI's `--endpoint-url`, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  /** Region in ARNs. */
  readonly region: string;
  /** Account id in ARNs. */
  readonly accountId: string;

  readonly #server: Server;
  readonly #store: SecretStore;
  readonly #runner: RotationRunner;
  readonly #logs: FunctionLogStore;
  #faults: ActiveFault[] = [];
  readonly #requestListeners = new Set<(request: EndpointRequest) => void>();
  #stopped: Promise<void> | undefined;

  private constructor(
    server: Server,
    store: SecretStore,
    runner: RotationRunner,
    logs: FunctionLogStore,
    region: string,
    accountId: string,
  ) {
    this.#server = server;
    this.#logs = logs;
    this.#store = store;
    this.#runner = runner;
    this.region = region;
    this.accountId = accountId;
    const { port } = server.address() as AddressInfo;
    this.url = `http://${HOST}:${port}`;
  }

  /**
   * Starts an endpoint on 127.0.0.1.
   *
   * @example
   * ```ts
   * const endpoint = await SecretsManagerEndpoint.start();
   * const client = createSecretsManagerClient(endpoint);
   * try {
   *   await client.send(new CreateSecretCommand({ Name: 'app', SecretString: '{}' }));
   * } finally {
   *   client.destroy();
   *   await endpoint.stop();
   * }
   * ```
   */
  static async start(options: SecretsManagerEndpointOptions = {}): Promise<SecretsManagerEndpoint> {
    const region = options.region ?? 'us-east-1';
    const accountId = options.accountId ?? '123456789012';
    const store = new SecretStore({ region, accountId });
    const logs = new FunctionLogStore();
    const runner = new RotationRunner({
      store,
      logs,
      lambdaTimeoutMs: options.lambdaTimeoutMs ?? 30_000,
      keepPendingLabelAfterRotation: options.keepPendingLabelAfterRotation ?? false,
    });
    let endpoint: SecretsManagerEndpoint | undefined;
    const server = createServer((req, res) => {
      // Until listen() resolves nothing can connect, so `endpoint` is set here.
      void endpoint?.handle(req, res);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, HOST, () => {
        server.off('error', reject);
        resolve();
      });
    });
    endpoint = new SecretsManagerEndpoint(server, store, runner, logs, region, accountId);
    return endpoint;
  }

  /** The ARN Lambda would give a function of this name in this endpoint's region and account. */
  lambdaArn(functionName: string): string {
    return `arn:aws:lambda:${this.region}:${this.accountId}:function:${functionName}`;
  }

  /**
   * Makes RotateSecret with `RotationLambdaARN: lambdaArn` call `fn` for each
   * step. A RotateSecret naming an ARN with no function answers
   * AccessDeniedException, as AWS does when it cannot invoke the function.
   */
  registerRotationFunction(
    lambdaArn: string,
    fn: RotationFunction,
    options: RegisterOptions = {},
  ): void {
    this.#runner.register(lambdaArn, fn, options);
  }

  /** Every rotation function call so far, in call order. */
  get invocations(): readonly RotationInvocation[] {
    return this.#runner.invocations;
  }

  /**
   * Calls `listener` as each step starts (`outcome` undefined) and ends.
   * A listener that throws is ignored.
   *
   * @returns a function that unsubscribes the listener
   */
  onInvocation(listener: (update: RotationInvocationUpdate) => void): () => void {
    return this.#runner.onInvocation(listener);
  }

  /**
   * Waits for the rotation of a secret that is in flight, or returns the
   * outcome of the last one that ended. A rotation is in flight from the
   * moment RotateSecret answers.
   *
   * @param secretIdOrArn - name or ARN of the secret
   * @throws Error when no rotation of the secret ever started, or on timeout
   */
  waitForRotation(
    secretIdOrArn: string,
    options: WaitForRotationOptions = {},
  ): Promise<RotationOutcome> {
    const arn = this.#store.arnOf(secretIdOrArn) ?? secretIdOrArn;
    return this.#runner.waitForRotation(arn, options.timeoutMs ?? 60_000);
  }

  /**
   * Makes the next `times` requests of an operation fail with `error` and/or
   * wait `delayMs` first. Faults apply in the order injected.
   */
  injectFault(fault: FaultSpec): void {
    if (!OPERATIONS.includes(fault.operation)) {
      throw new Error(`Unknown operation for a fault: ${fault.operation}`);
    }
    const times = fault.times ?? 1;
    if (!Number.isInteger(times) || times < 1) throw new Error('A fault applies at least once.');
    this.#faults.push({ spec: fault, remaining: times });
  }

  /**
   * Calls `listener` for each Secrets Manager request as it arrives, before
   * any fault or answer: what a client actually sent, counted on the server
   * side. A listener that throws is ignored.
   *
   * @returns a function that unsubscribes the listener
   */
  onRequest(listener: (request: EndpointRequest) => void): () => void {
    this.#requestListeners.add(listener);
    return () => this.#requestListeners.delete(listener);
  }

  /**
   * Creates a secret as another AWS service does for itself (RDS's
   * `ManageMasterUserPassword` master secret: name `rds!db-<id>`,
   * `OwningService` `rds`, `aws:rds:...` tags), which no customer API call
   * can: see {@link SecretStore.createServiceSecret}.
   *
   * @returns the secret's ARN
   */
  createServiceSecret(input: {
    readonly name: string;
    readonly owningService: string;
    readonly secretString: string;
    readonly description?: string;
    readonly tags?: readonly { readonly Key: string; readonly Value: string }[];
  }): string {
    const out = this.#store.createServiceSecret({
      Name: input.name,
      OwningService: input.owningService,
      ClientRequestToken: randomUUID(),
      SecretString: input.secretString,
      ...(input.description === undefined ? {} : { Description: input.description }),
      ...(input.tags === undefined ? {} : { Tags: input.tags }),
    });
    return String(out.ARN);
  }

  /** Removes every fault not yet used up. */
  clearFaults(): void {
    this.#faults = [];
  }

  /**
   * A secret's versions, labels, recorded RotationTokens and rotation state,
   * without its values (read those through GetSecretValue).
   */
  inspect(secretIdOrArn: string): SecretSnapshot | undefined {
    return this.#store.inspect(secretIdOrArn);
  }

  /**
   * Stops accepting requests, closes open connections, and cuts running
   * rotations short (their current step is recorded as failed). Safe to call twice.
   */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      this.#server.closeAllConnections();
      await Promise.all([closed, this.#runner.stopAll()]);
    })();
    return this.#stopped;
  }

  // ------------------------------------------------------------------ HTTP

  /** Serves one request. Never rejects: every failure becomes an answer. */
  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    try {
      const body = await readBody(req);
      const lambdaPath = req.method === 'GET' ? FUNCTION_CONFIGURATION.exec(req.url ?? '') : null;
      if (lambdaPath) {
        send(
          res,
          requestId,
          200,
          this.#functionConfiguration(decodeURIComponent(lambdaPath[1] ?? '')),
        );
        return;
      }
      if (req.headers['x-amz-target'] === LOGS_TARGET) {
        // CloudWatch Logs for the functions' runtime lines (see logs.ts).
        const input = parseJson(body);
        send(
          res,
          requestId,
          200,
          this.#logs.filterLogEvents(
            (input !== null && typeof input === 'object' ? input : {}) as FilterLogEventsInput,
          ),
        );
        return;
      }
      const operation = operationOf(req.headers['x-amz-target']);
      const accessKeyId = CREDENTIAL.exec(req.headers.authorization ?? '')?.[1];
      for (const listener of this.#requestListeners) {
        try {
          listener({ operation, accessKeyId });
        } catch {
          // An observer's fault is not the request's.
        }
      }
      const fault = this.#takeFault(operation, body);
      if (fault?.delayMs !== undefined) await sleep(fault.delayMs);
      const injected =
        fault?.error === undefined
          ? undefined
          : new AwsServiceError(fault.error.type, fault.error.message ?? 'Injected fault.', {
              status:
                fault.error.status ?? (fault.error.type === 'InternalServiceError' ? 500 : 400),
            });
      if (injected !== undefined && fault?.served !== true) throw injected;
      const input = decodeInput(operation, parseJson(body));
      const result = this.#dispatch(operation, input);
      if (injected !== undefined) throw injected;
      send(res, requestId, 200, result);
    } catch (thrown) {
      const error =
        thrown instanceof AwsServiceError
          ? thrown
          : // A bug here, not the caller's fault; the text names no secret value.
            new AwsServiceError('InternalServiceError', `Local endpoint error: ${String(thrown)}`, {
              status: 500,
            });
      send(res, requestId, error.status, errorBody(error), error.type);
    }
  }

  /**
   * The members of Lambda's FunctionConfiguration a rotation tool reads, for
   * a registered function; AWS's 404 ResourceNotFoundException otherwise.
   */
  #functionConfiguration(functionName: string): Record<string, unknown> {
    const found = this.#runner.find(functionName);
    if (found === undefined) {
      throw new AwsServiceError(
        'ResourceNotFoundException',
        `Function not found: ${functionName.startsWith('arn:') ? functionName : this.lambdaArn(functionName)}`,
        { status: 404, modeled: false },
      );
    }
    return {
      FunctionName: found.arn.split(':')[6],
      FunctionArn: found.arn,
      Runtime: 'nodejs24.x',
      Handler: 'index.handler',
      Timeout: Math.ceil(this.#runner.timeoutMs / 1000),
      MemorySize: 128,
      State: 'Active',
      LoggingConfig: { LogFormat: 'Text', LogGroup: found.fn.logGroupName },
    };
  }

  #takeFault(operation: Operation, body: string): FaultSpec | undefined {
    let requested: string | undefined;
    const names = (spec: FaultSpec) => {
      if (spec.secretId === undefined) return true;
      if (requested === undefined) {
        try {
          const parsed = JSON.parse(body) as { SecretId?: unknown };
          requested = typeof parsed.SecretId === 'string' ? parsed.SecretId : '';
        } catch {
          requested = '';
        }
      }
      const arn = this.#store.arnOf(spec.secretId);
      return arn !== undefined && arn === this.#store.arnOf(requested);
    };
    const active = this.#faults.find(
      (fault) => fault.spec.operation === operation && names(fault.spec),
    );
    if (active === undefined) return undefined;
    active.remaining -= 1;
    if (active.remaining === 0) this.#faults = this.#faults.filter((fault) => fault !== active);
    return active.spec;
  }

  #dispatch<O extends Operation>(operation: O, input: OperationInputs[O]): Record<string, unknown> {
    // Each case narrows `input` by hand: TypeScript does not narrow a generic by `operation`.
    const store = this.#store;
    switch (operation) {
      case 'CreateSecret':
        return store.createSecret(input as OperationInputs['CreateSecret']);
      case 'DescribeSecret':
        return store.describeSecret(input as OperationInputs['DescribeSecret']);
      case 'GetSecretValue':
        return store.getSecretValue(input as OperationInputs['GetSecretValue']);
      case 'PutSecretValue':
        return store.putSecretValue(input as OperationInputs['PutSecretValue']);
      case 'UpdateSecretVersionStage':
        return store.updateSecretVersionStage(input as OperationInputs['UpdateSecretVersionStage']);
      case 'ListSecretVersionIds':
        return store.listSecretVersionIds(input as OperationInputs['ListSecretVersionIds']);
      case 'GetRandomPassword':
        return { RandomPassword: generatePassword(input as OperationInputs['GetRandomPassword']) };
      case 'RotateSecret':
        return this.#rotateSecret(input as OperationInputs['RotateSecret']);
      case 'CancelRotateSecret': {
        const out = store.cancelRotateSecret(input as OperationInputs['CancelRotateSecret']);
        this.#runner.cancel(String(out.ARN), 'CancelRotateSecret was called');
        return out;
      }
      case 'DeleteSecret': {
        const out = store.deleteSecret(input as OperationInputs['DeleteSecret']);
        this.#runner.cancel(String(out.ARN), 'DeleteSecret was called');
        return out;
      }
      case 'ListSecrets':
        return store.listSecrets(input as OperationInputs['ListSecrets']);
      case 'TagResource':
        return store.tagResource(input as OperationInputs['TagResource']);
    }
    throw protocolError('UnknownOperationException', `Operation ${operation} is not served here.`);
  }

  /**
   * RotateSecret answers at once; the steps run afterwards ("Configures and
   * starts the asynchronous process of rotating the secret").
   */
  #rotateSecret(input: OperationInputs['RotateSecret']): Record<string, unknown> {
    const plan = this.#store.rotateSecret(input, (arn) => this.#runner.canInvoke(arn));
    if (plan.mode === 'reattempt') {
      // "That rotation will be reattempted": same token, in the background.
      if (!this.#runner.isRunning(plan.arn)) this.#runner.start(plan);
      throw previousRotationIncomplete();
    }
    this.#runner.start(plan);
    return { ARN: plan.arn, Name: plan.name, VersionId: plan.token };
  }
}

/**
 * The operation an `X-Amz-Target` header names.
 *
 * @throws AwsServiceError `UnknownOperationException` for a missing target,
 *   another service's, or an operation this endpoint does not serve
 *   (AWS answers that type without a message; the message here is ours)
 */
function operationOf(target: string | string[] | undefined): Operation {
  const value = Array.isArray(target) ? target[0] : target;
  const name = value?.startsWith(TARGET_PREFIX) ? value.slice(TARGET_PREFIX.length) : undefined;
  if (name !== undefined && (OPERATIONS as readonly string[]).includes(name))
    return name as Operation;
  throw protocolError(
    'UnknownOperationException',
    value === undefined
      ? 'Missing X-Amz-Target header.'
      : `Unknown operation ${value}. This endpoint serves ${OPERATIONS.join(', ')}.`,
  );
}

/**
 * The parsed body; an empty body counts as `{}`.
 *
 * @throws AwsServiceError `SerializationException` for text that is not JSON
 */
function parseJson(body: string): unknown {
  if (body.trim() === '') return {};
  try {
    return JSON.parse(body);
  } catch {
    // Our wording; the position JSON.parse reports could quote the body, which may hold a secret.
    throw protocolError('SerializationException', 'The request body is not valid JSON.');
  }
}

/** Reads the whole body as UTF-8, refusing bodies far larger than any valid request. */
async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) {
      throw protocolError(
        'SerializationException',
        `The request body exceeds ${MAX_BODY_BYTES} bytes.`,
      );
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The JSON 1.1 error body. Modeled service errors carry `Message` as AWS
 * sends it and `message` as well, which every SDK reads; front-end errors
 * carry `message` only.
 */
function errorBody(error: AwsServiceError): Record<string, unknown> {
  return error.modeled
    ? { __type: error.type, message: error.message, Message: error.message }
    : { __type: error.type, message: error.message };
}

function send(
  res: ServerResponse,
  requestId: string,
  status: number,
  body: Record<string, unknown>,
  errorType?: string,
): void {
  if (res.headersSent || res.destroyed) return;
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.1',
    'content-length': Buffer.byteLength(payload),
    'x-amzn-requestid': requestId,
    ...(errorType === undefined ? {} : { 'x-amzn-errortype': errorType }),
  });
  res.end(payload);
}
